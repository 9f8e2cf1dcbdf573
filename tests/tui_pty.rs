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
/// refused by preflight before anything changes, naming the property and the flag that accepts it.
#[test]
fn the_demo_shows_preflight_refusing_to_drop_a_managed_identity() {
    let data = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::repool(data.path(), &["demo", "--speed", "3000"], &[]);
    terminal.wait_for("reporting");
    terminal.send("/reporting\r");
    terminal.mark_and_start("reporting");
    terminal.wait_for("preflight found");
    terminal.send("l");
    terminal.wait_for("would lose identity");
    terminal.send("q");
    assert!(terminal.end().success);
    assert!(
        !data.path().join("demo/journal").exists()
            || std::fs::read_dir(data.path().join("demo/journal")).unwrap().count() == 0,
        "no run was journaled"
    );
}
