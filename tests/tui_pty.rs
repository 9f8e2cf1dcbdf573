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
    common::wait_until("the run ends", || {
        let screen = terminal.text();
        screen.contains("done: reporting") || screen.contains("failed: reporting")
    });
    terminal.send("q");
    assert!(terminal.end().success);
    let text = text();
    assert!(text.contains("\"onUnhealthy\":\"rollback\"") && text.contains("\"acceptLoss\":[\"identity\"]"), "{text}");
}

/// The dashboard's canary and rollback: a start task that fails everywhere, two pools marked, canary 1
/// and rollback chosen in the confirmation. The canary is rolled back to its pre-run spec and the
/// other pool is held, untouched; the run panel says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_canary_stops_a_broken_run_and_rolls_the_canary_back() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["common-config"]["startTask"]["commandLine"] = "/bin/bash -c 'exit 5'".into();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let original = sim.with_world(|w, _| w.find("p-ingest").unwrap().wire.clone());
    let untouched = common::pool_identity(&sim, "p-render").unwrap();
    let key = sim.key().to_string();
    let mut terminal =
        Terminal::repool(dir.path(), &["--definition", file.to_str().unwrap()], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("p-render");
    terminal.send("/p-\r");
    terminal.send(" j ");
    terminal.wait_for("marked 2");
    terminal.send("R");
    terminal.wait_for("canary 0");
    // canary 1, then on unhealthy: rollback.
    terminal.send("\x1b[C");
    terminal.wait_for("canary 1");
    terminal.send("\t\t\x1b[C");
    terminal.wait_for("on unhealthy: rollback");
    terminal.send("recreate\r");
    terminal.wait_for("p-render held");
    terminal.wait_for("p-ingest rolled-back");
    terminal.send("q");
    assert!(terminal.end().success);
    let back = sim.with_world(|w, _| w.find("p-ingest").unwrap().wire.clone());
    assert_ne!(back.creation_time, original.creation_time, "p-ingest was recreated, then rolled back");
    assert_eq!(back.rest.get("startTask"), original.rest.get("startTask"), "its start task as before the run");
    assert_eq!(common::pool_identity(&sim, "p-render").unwrap(), untouched, "the held pool was not touched");
}
