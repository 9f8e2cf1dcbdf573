//! The real `repool demo` in a pseudo-terminal, read through a terminal emulator: mark a pool,
//! recreate it with the typed confirmation, watch it finish, quit, and find the terminal restored.

mod common;

use common::terminal::Terminal;

#[test]
fn demo_recreates_a_pool_and_restores_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::repool(data.path(), &["demo", "--speed", "3000"], &[]);
    terminal.wait_for("p-render");
    terminal.wait_for("changes");
    assert!(terminal.on_alternate_screen(), "the dashboard draws on the alternate screen");
    terminal.send("/p-render\r");
    terminal.mark_and_recreate("p-render");
    terminal.wait_for("in sync");
    terminal.send("q");
    let ended = terminal.end();
    assert!(ended.success, "repool demo exits cleanly");
    assert!(!ended.screen.alternate_screen(), "left the alternate screen");
    assert!(!ended.screen.hide_cursor(), "cursor shown again");
    let journal = std::fs::read_dir(data.path().join("demo/journal")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(text.contains("\"event\":\"pool-finished\",\"pool\":\"p-render\",\"status\":\"recreated\""), "{text}");
    let logs = std::fs::read_dir(data.path().join("logs")).unwrap().count();
    assert!(logs > 0, "logs went to the log file");
}

/// The demo account holds a pool with a managed identity: the dashboard's recreation of it is
/// refused by preflight before anything changes, naming the property; the operator may accept
/// the loss there, and the run then goes with the choices made in its confirmation (rollback),
/// journaled so that a resume from anywhere keeps them.
#[test]
fn the_demo_shows_preflight_refusing_to_drop_a_managed_identity() {
    let data = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::repool(data.path(), &["demo", "--speed", "3000"], &[]);
    terminal.wait_for("reporting");
    terminal.send("/reporting\r");
    terminal.send(" ");
    terminal.wait_for("marked 1");
    terminal.send("R");
    terminal.wait_for("on unhealthy: stop");
    // canary → max unavailable → on unhealthy: rollback.
    terminal.send("\t");
    terminal.send("\t");
    terminal.send("\x1b[C");
    terminal.wait_for("on unhealthy: rollback");
    terminal.send("reporting\r");
    terminal.wait_for("Accept what the new pools lose");
    terminal.wait_for("reporting: identity");
    terminal.send("\x1b");
    terminal.wait_for("cancelled: nothing was changed");
    terminal.send("l");
    terminal.wait_for("would lose identity");
    let journal = data.path().join("demo/journal");
    let runs = || std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0);
    assert_eq!(runs(), 0, "no run was journaled");
    terminal.send("l");
    terminal.send("R");
    terminal.wait_for("Type reporting and press enter");
    terminal.send("\t\t\x1b[C");
    terminal.wait_for("on unhealthy: rollback");
    terminal.send("reporting\r");
    terminal.wait_for("Type accept and press enter");
    terminal.send("accept\r");
    // The run goes with what was chosen (how it ends depends on the demo's tasks: not the point here).
    let text = || common::journal_text(&data.path().join("demo"));
    common::wait_until("the run ends", || text().contains("run-finished"));
    terminal.send("q");
    assert!(terminal.end().success);
    let text = text();
    assert!(text.contains("\"onUnhealthy\":\"rollback\"") && text.contains("\"acceptLoss\":[\"identity\"]"), "{text}");
}
