//! Text that must be read whole (refusals, banners, paths) wrapped to the screen's width by
//! hand, so the height it needs is known before the layout is made.

use unicode_width::UnicodeWidthChar;

/// `text` in rows of at most `width` cells: its own line breaks kept, long lines broken at the
/// last space that fits (mid-word only when a word is wider than a row).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    for line in text.split('\n') {
        let mut row = String::new();
        let mut used = 0;
        for word in line.split_inclusive(' ') {
            let cells: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
            if used + cells.saturating_sub(usize::from(word.ends_with(' '))) > width && !row.is_empty() {
                rows.push(std::mem::take(&mut row).trim_end().to_string());
                used = 0;
            }
            for c in word.chars() {
                let w = c.width().unwrap_or(0);
                if used + w > width && !(c == ' ' && used == width) {
                    rows.push(std::mem::take(&mut row));
                    used = 0;
                }
                row.push(c);
                used += w;
            }
        }
        rows.push(row.trim_end().to_string());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_keeps_breaks_and_splits_only_long_words() {
        assert_eq!(
            wrap("preflight found 1 problem(s):\n  pool 'a': bad", 16),
            ["preflight found", "1 problem(s):", "  pool 'a': bad"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), [""]);
        let text = "wrote /home/op/.local/share/repool/exports/p-render-20260101T000000.json (secrets hidden)";
        assert_eq!(wrap(text, 30).concat().replace(' ', ""), text.replace(' ', ""));
        assert!(wrap(text, 30).iter().all(|r| r.chars().count() <= 30));
    }
}
