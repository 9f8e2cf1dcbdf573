//! Everything repool prints to a terminal goes through here: text that came from a server or a
//! file is shown with its control characters escaped (`\u{1b}`), so it can neither move the cursor,
//! set the title nor forge lines; and a closed stdout (`| head`) ends repool quietly, as it ends
//! Unix tools, instead of a panic.

use std::borrow::Cow;
use std::io::Write;

/// `text` with every control character (line breaks too) written as an escape: for one value
/// from a server (a pool id, an error message) inside a line of ours.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_except(text, &[])
}

fn escape_except<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !text.chars().any(|c| c.is_control() && !keep.contains(&c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() && !keep.contains(&c) { c.escape_unicode().to_string() } else { c.to_string() })
            .collect(),
    )
}

/// Writes to stdout; line breaks and tabs of repool's own text are kept, other controls escaped.
pub fn write_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_all(escape_except(text, &['\n', '\t']).as_bytes()).and_then(|_| stdout.flush());
    if written.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        std::process::exit(0);
    }
}

/// Writes to stderr, escaped like `write_out`; a closed stderr is ignored.
pub fn write_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(escape_except(text, &['\n', '\t']).as_bytes());
}

/// `println!` through `write_out`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::write_out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through `write_out`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(&format!($($arg)*)) };
}

/// `eprintln!` through `write_err`.
#[macro_export]
macro_rules! noteln {
    ($($arg:tt)*) => { $crate::output::write_err(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` through `write_err`.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => { $crate::output::write_err(&format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            escape("evil\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\n\u{8}"),
            "evil\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\u{d}\\u{a}\\u{8}"
        );
        assert_eq!(escape("p-render"), "p-render");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m", "C1 controls too");
        assert_eq!(escape_except("a\nb\u{1b}", &['\n']), "a\nb\\u{1b}");
    }
}
