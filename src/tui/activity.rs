//! The activity log: Batch calls and engine events, newest last. The poller's repeated list
//! calls fold into one line with a count, so a quiet account does not push the events that
//! matter off the screen; the view scrolls and filters it. The log screen's keys are here too.

use super::app::{App, Screen};
use super::filter::TextFilter;
use super::keys::KeyAction;
use super::messages::Command;
use super::table::edit_filter;
use crate::batch::ApiEvent;
use crossterm::event::KeyCode;
use std::collections::VecDeque;

const LINES: usize = 500;

#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: jiff::Timestamp,
    pub text: String,
    pub error: bool,
    /// How many calls this line stands for (folded refresh calls).
    pub count: u32,
    /// Lines with the same key fold together (successful reads of the refresh cycle).
    fold: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Activity {
    lines: VecDeque<LogLine>,
    pub filter: TextFilter,
    pub filter_editing: bool,
    pub errors_only: bool,
    /// Lines scrolled up from the newest.
    pub scroll: usize,
}

impl Activity {
    pub fn push(&mut self, at: jiff::Timestamp, text: String, error: bool, fold: Option<String>) {
        if let Some(key) = &fold {
            // Among the refresh lines since the last other event, one per kind of call.
            let trailing = self.lines.iter().rev().take_while(|l| l.fold.is_some()).count();
            let start = self.lines.len() - trailing;
            if let Some(i) = (start..self.lines.len()).find(|&i| self.lines[i].fold.as_ref() == Some(key)) {
                let mut line = self.lines.remove(i).expect("index in range");
                line.count += 1;
                line.at = at;
                line.text = text;
                self.lines.push_back(line);
                return;
            }
        }
        if self.lines.len() == LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine { at, text, error, count: 1, fold });
    }

    /// The lines that pass the filter, oldest first.
    pub fn shown(&self) -> Vec<&LogLine> {
        self.lines.iter().filter(|l| (!self.errors_only || l.error) && self.filter.matches([l.text.as_str()])).collect()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut LogLine> {
        self.lines.iter_mut()
    }
}

impl App {
    /// A line in the activity log, and in the log file: refusals and failures are read there whole.
    pub fn log(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        if error {
            tracing::warn!("dashboard: {text}");
        } else {
            tracing::info!("dashboard: {text}");
        }
        self.log.push(self.now, text, error, None);
    }

    /// A Batch call the client made: a line of its own (refresh reads fold), and the account's
    /// clock from its `Date`.
    pub(super) fn on_api_event(&mut self, event: ApiEvent) {
        // Dates have whole seconds: a change under two is the rounding, not the clock.
        if let Some(date) = event.date {
            let skew = date.duration_since(self.now);
            if (skew - self.skew).abs() >= jiff::SignedDuration::from_secs(2) {
                self.skew = skew;
                self.dirty = true;
            }
        }
        let status = event.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into());
        let error = event.status.is_none_or(|s| s >= 400);
        let retry = if event.attempt > 1 { format!(" (attempt {})", event.attempt) } else { String::new() };
        let detail = event.error.map(|e| format!(" {e}")).unwrap_or_default();
        let path = event.path.split('?').next().unwrap_or(&event.path);
        // The refresh cycle's successful reads fold into one line per kind of call.
        let fold = (event.method == "GET" && !error && event.attempt == 1)
            .then(|| format!("{} {path} {status}", event.method));
        let text = format!("{} {} {status} {}ms{retry}{detail}", event.method, event.path, event.elapsed.as_millis());
        self.log.push(self.now, text, error, fold);
    }

    pub(super) fn on_log_key(&mut self, action: KeyAction) -> Vec<Command> {
        let page = self.page_rows.max(1);
        let last = self.log.shown().len().saturating_sub(1);
        match action {
            // Scrolling counts up from the newest line.
            KeyAction::Up => self.log.scroll = (self.log.scroll + 1).min(last),
            KeyAction::Down => self.log.scroll = self.log.scroll.saturating_sub(1),
            KeyAction::PageUp => self.log.scroll = (self.log.scroll + page).min(last),
            KeyAction::PageDown => self.log.scroll = self.log.scroll.saturating_sub(page),
            KeyAction::Top => self.log.scroll = last,
            KeyAction::Bottom => self.log.scroll = 0,
            KeyAction::Filter => self.log.filter_editing = true,
            KeyAction::ErrorsOnly => {
                self.log.errors_only = !self.log.errors_only;
                self.log.scroll = 0;
            }
            KeyAction::Back if !self.log.filter.is_empty() => self.log.filter.clear(),
            KeyAction::Back => self.screen = Screen::Table,
            _ => self.say("log: / filters (regex, ! inverts), e errors only, j/k scroll, esc returns"),
        }
        vec![]
    }

    /// A key while the log's `/` filter is typed.
    pub(super) fn on_log_filter_key(&mut self, key: KeyCode) {
        self.log.filter_editing = edit_filter(&mut self.log.filter, key);
        self.log.scroll = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Activity;

    #[test]
    fn refresh_calls_fold_and_events_stay() {
        let mut log = Activity::default();
        let at = jiff::Timestamp::UNIX_EPOCH;
        for _ in 0..50 {
            log.push(at, "GET /pools 200 3ms".into(), false, Some("GET /pools 200".into()));
            log.push(at, "GET /nodecounts 200 2ms".into(), false, Some("GET /nodecounts 200".into()));
        }
        log.push(at, "p-ingest: resize-to-zero started".into(), false, None);
        log.push(at, "GET /pools 200 4ms".into(), false, Some("GET /pools 200".into()));
        let lines: Vec<(String, u32)> = log.shown().iter().map(|l| (l.text.clone(), l.count)).collect();
        assert_eq!(
            lines,
            vec![
                ("GET /pools 200 3ms".to_string(), 50),
                ("GET /nodecounts 200 2ms".to_string(), 50),
                ("p-ingest: resize-to-zero started".to_string(), 1),
                ("GET /pools 200 4ms".to_string(), 1),
            ]
        );
        log.errors_only = true;
        assert!(log.shown().is_empty());
        log.errors_only = false;
        log.filter.set("ingest");
        assert_eq!(log.shown().len(), 1);
    }
}
