//! Everything repool prints to a terminal goes through here: text that came from a server or a
//! file is shown with its control characters escaped (`\u{1b}`), so it can neither move the cursor,
//! set the title nor forge lines; and a closed stdout (`| head`) ends repool quietly, as it ends
//! Unix tools, instead of a panic. It also keeps the one way to write an age ("12m").

use std::borrow::Cow;
use std::io::Write;
use std::sync::Mutex;

/// Where notes go instead of stderr while the dashboard owns the terminal.
type Sink = Box<dyn Fn(&str) + Send>;

static DIVERTED: Mutex<Option<Sink>> = Mutex::new(None);

/// Sends every note (`note!`, `noteln!`: warnings, errors) to `sink` and the log file instead of
/// stderr until the guard is dropped: text written behind the dashboard would garble its screen.
#[must_use = "notes go back to stderr when the guard is dropped"]
pub fn divert_notes(sink: impl Fn(&str) + Send + 'static) -> Diverted {
    *DIVERTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(sink));
    Diverted
}

/// Notes go to stderr again once this is dropped.
pub struct Diverted;

impl Drop for Diverted {
    fn drop(&mut self) {
        *DIVERTED.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

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

/// Writes to stderr, escaped like `write_out`; a closed stderr is ignored. While the dashboard
/// runs, to the dashboard and the log file instead (see `divert_notes`).
pub fn write_err(text: &str) {
    if let Some(sink) = DIVERTED.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let text = escape_except(text.trim_end(), &['\n']);
        tracing::warn!("{text}");
        sink(&text);
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(escape_except(text, &['\n', '\t']).as_bytes());
}

/// "45s", "12m", "3h", "2d": how long ago `then` was.
pub fn age(now: jiff::Timestamp, then: jiff::Timestamp) -> String {
    let secs = (now.as_second() - then.as_second()).max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
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

    #[test]
    fn diverted_notes_skip_stderr_until_the_guard_drops() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let guard = divert_notes({
            let seen = seen.clone();
            move |text| seen.lock().unwrap().push(text.to_string())
        });
        crate::noteln!("warning: {} is readable", "config.toml");
        drop(guard);
        assert_eq!(*seen.lock().unwrap(), ["warning: config.toml is readable"]);
        assert!(DIVERTED.lock().unwrap().is_none());
    }
}
