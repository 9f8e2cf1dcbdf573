//! `/` filters: a case-insensitive regular expression, `!` in front inverts it. Text that is
//! not a valid expression (yet: `p-(` while typing) matches literally, and says so.

use regex::Regex;

#[derive(Clone, Debug, Default)]
pub struct TextFilter {
    text: String,
    pattern: Option<Regex>,
    invert: bool,
    /// Why the text is matched literally, when it is not a valid expression.
    literal_because: Option<String>,
}

impl TextFilter {
    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
        let (invert, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        self.invert = invert;
        self.literal_because = None;
        self.pattern = if body.is_empty() {
            None
        } else {
            match Regex::new(&format!("(?i){body}")) {
                Ok(pattern) => Some(pattern),
                Err(e) => {
                    self.literal_because = Some(e.to_string().lines().last().unwrap_or("").trim().to_string());
                    Regex::new(&format!("(?i){}", regex::escape(body))).ok()
                }
            }
        };
    }

    pub fn push(&mut self, c: char) {
        let mut text = std::mem::take(&mut self.text);
        text.push(c);
        self.set(&text);
    }

    pub fn pop(&mut self) {
        let mut text = std::mem::take(&mut self.text);
        text.pop();
        self.set(&text);
    }

    pub fn clear(&mut self) {
        self.set("");
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether any of `fields` matches (none of them, when inverted).
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        let Some(pattern) = &self.pattern else { return true };
        fields.into_iter().any(|f| pattern.is_match(f)) != self.invert
    }

    /// Why the text is matched literally (not a valid expression), if it is.
    pub fn literal_because(&self) -> Option<&str> {
        self.literal_because.as_deref()
    }

    /// Shown next to the filter: how it is read.
    pub fn describe(&self) -> String {
        let inverted = if self.invert { " (inverted)" } else { "" };
        match &self.literal_because {
            Some(why) => format!("'{}'{inverted}, literal: not a regex ({why})", self.text),
            None => format!("'{}'{inverted}", self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TextFilter;

    fn filter(text: &str) -> TextFilter {
        let mut f = TextFilter::default();
        f.set(text);
        f
    }

    #[test]
    fn regex_inverted_and_literal() {
        assert!(filter("^p-").matches(["p-ingest"]));
        assert!(!filter("^p-").matches(["ci-runners"]));
        assert!(filter("!^p-").matches(["ci-runners"]) && !filter("!^p-").matches(["p-ingest"]));
        assert!(filter("INGEST").matches(["p-ingest"]), "case is ignored");
        let half = filter("p-(");
        assert!(half.matches(["x p-( y"]) && !half.matches(["p-ingest"]));
        assert!(half.describe().contains("literal"), "{}", half.describe());
        assert!(filter("").matches(["anything"]) && filter("!").matches(["anything"]));
        assert!(filter("win|etl").matches(["x", "etl-nightly"]), "any field matches");
    }
}
