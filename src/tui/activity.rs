//! The activity log: Batch calls and engine events, newest last. The poller's repeated list
//! calls fold into one line with a count, so a quiet account does not push the events that
//! matter off the screen; the view scrolls and filters it.

use super::filter::TextFilter;
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
