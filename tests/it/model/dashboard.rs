//! The model's operator at the dashboard: marks a pool and recreates it through the typed
//! confirmation (or resumes the unfinished run that holds it), sometimes killed midway.

use super::*;

impl Model {
    /// The dashboard: recreate one pool through the typed confirmation; sometimes kill -9 midway.
    pub(super) fn dashboard(&mut self) {
        let id = ["p-render", "p-ingest"][self.rng.usize(..2)];
        if self.gone(id) {
            return;
        }
        self.selected.insert(id.into());
        let kill_after = self.rng.bool().then(|| self.rng.usize(1..15));
        let start = self.journal_lines();
        let mut terminal = Terminal::repool(
            self.dir.path(),
            &[],
            &[("AZURE_BATCH_ACCESS_KEY", &self.key), ("REG_PW", "model-registry-password")],
        );
        // The table, not a banner naming the pool ("deleted, not yet recreated"): a mark before
        // the first page arrived would mark nothing.
        common::wait_until("the pools are listed", || {
            let screen = terminal.text();
            screen
                .lines()
                .any(|l| l.starts_with('│') && l.trim_start_matches(['│', '▶', ' ']).starts_with(&format!("{id} ")))
        });
        terminal.send(&format!("/{id}\r "));
        terminal.wait_for("marked 1");
        terminal.send("R");
        terminal.wait_for("and press enter");
        // A pool an unfinished run holds: `R` offers to resume that run instead.
        if terminal.text().contains("Type resume") {
            terminal.send("resume\r");
        } else {
            terminal.send(&format!("{id}\r"));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = terminal.text();
            if let Some(lines) = kill_after
                && self.journal_lines() >= start + lines
            {
                terminal.kill9();
                self.log.push(format!("dashboard R {id}, SIGKILL after {lines} journal lines"));
                return;
            }
            let status = screen.lines().rev().nth(1).unwrap_or("");
            let ended = [
                " done: ",
                " interrupted: ",
                " failed: ",
                " paused: ",
                " cancelled: ",
                "part of unfinished run",
                "cannot",
                "another repool run",
            ];
            if ended.iter().any(|e| status.contains(e)) {
                break;
            }
            if Instant::now() > deadline {
                panic!("{}\ndashboard never finished:\n{screen}", self.history());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log.push(format!("dashboard R {id}: {}", terminal.text().lines().rev().nth(1).unwrap_or("").trim()));
        // The run has ended and released the account: closing the terminal loses nothing.
        terminal.kill9();
    }
}
