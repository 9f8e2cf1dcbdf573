//! The real `repool demo` in a pseudo-terminal, read through a terminal emulator: mark a pool,
//! recreate it with the typed confirmation, watch it finish, quit, and find the terminal restored.

use crate::common;

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
    // Preflight refuses before anything is typed: the losses are named, to accept or not.
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
    terminal.wait_for("Type accept and press enter");
    // canary → max unavailable → on unhealthy: rollback.
    terminal.send("\t\t\x1b[C");
    terminal.wait_for("on unhealthy: rollback");
    terminal.send("accept\r");
    // Proposed again, accepting the loss: the run's own confirmation keeps the choices.
    terminal.wait_for("Type reporting and press enter");
    terminal.wait_for("on unhealthy: rollback");
    terminal.send("reporting\r");
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

/// Two accounts in one config: `:ctx` switches between them (the header says which, each shows
/// its own pools, the one left stops being polled), the nodes of a pool open from the table and
/// from `:nodes`, and the log filters to one pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_switches_accounts_drills_down_to_nodes_and_filters_the_log() {
    use repool::sim::{self, SimOptions};
    let east = sim::start(
        SimOptions { account: "eastacct".into(), speed: 3000.0, seed: Some("demo".into()), ..Default::default() },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let west =
        sim::start(SimOptions { account: "westacct".into(), speed: 3000.0, ..Default::default() }, "127.0.0.1:0")
            .await
            .unwrap();
    let clock = west.state.clock.lock().unwrap().clone();
    west.with_world(|w, _| repool::sim::seed::generated(w, &clock, 3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    let definition = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    let section = |name: &str, s: &sim::RunningSim| {
        format!(
            "[accounts.{name}]\nurl = \"{}\"\nname = \"{}\"\n[accounts.{name}.auth]\nmethod = \"shared-key\"\naccount_key = \"{}\"\n",
            s.url,
            s.account(),
            s.key()
        )
    };
    let config = dir.path().join("repool/config.toml");
    let text = format!(
        "account = \"east\"\ndefinition = \"{definition}\"\n{}{}",
        section("east", &east),
        section("west", &west)
    );
    std::fs::write(&config, text).unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut terminal = Terminal::repool(dir.path(), &[], &[]);
    terminal.wait_for("east (eastacct)");
    terminal.wait_for("p-render");
    terminal.send(":ctx w\t");
    terminal.wait_for(":ctx west");
    terminal.send("\r");
    terminal.wait_for("west (westacct)");
    terminal.wait_for("gen-0002");
    assert!(!terminal.text().contains("p-render"), "east's pools are gone from the table");
    // East is no longer polled: while west refreshes three more times, east sees no new lists.
    let lists = |s: &sim::RunningSim| {
        s.stats().requests.iter().filter(|(k, _)| k.starts_with("GET")).map(|(_, n)| *n).sum::<u64>()
    };
    let (east_before, west_before) = (lists(&east), lists(&west));
    common::wait_until("west refreshes", || lists(&west) >= west_before + 3);
    assert!(lists(&east) <= east_before + 1, "east polled after the switch: {} → {}", east_before, lists(&east));
    // The accounts view, back to east.
    terminal.send(":ctx\r");
    terminal.wait_for("(shown now)");
    terminal.send("k\r");
    terminal.wait_for("east (eastacct)");
    terminal.wait_for("p-ingest");
    // Drill-down: details, the nodes section, then :nodes for another pool.
    terminal.send("/p-ingest\r");
    terminal.send("\r");
    terminal.wait_for("summary  plan  nodes  json");
    terminal.send("\t\t");
    terminal.wait_for("4 node(s), listed");
    terminal.wait_for("running enabled");
    terminal.send("\x1b");
    terminal.wait_without("summary  plan  nodes  json");
    terminal.send(":nodes p-render\r");
    terminal.wait_for("3 node(s), listed");
    terminal.send("\x1b");
    terminal.wait_without("3 node(s), listed");
    // The log, filtered to one pool.
    terminal.send("l");
    terminal.wait_for(" activity ");
    terminal.send("/p-render\r");
    terminal.wait_for("filter 'p-render'");
    let screen = terminal.text();
    let log: Vec<&str> = screen.lines().filter(|l| l.contains(" GET ") || l.contains(" POST ")).collect();
    assert!(!log.is_empty() && log.iter().all(|l| l.contains("p-render")), "{screen}");
    terminal.send("\x1b");
    terminal.send("q");
    assert!(terminal.end().success);
}

/// The dashboard's `:apply`: the confirmation says the pool is rebuilt when empty and why; typed,
/// the pool is drained, patched and scaled back — the same pool (creation time, identity) with the
/// new VM size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_from_the_dashboard_rebuilds_a_pool_in_place() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let output = common::repool_command(dir.path())
        .args(["export", "--pool", "reporting"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .output()
        .unwrap();
    let mut definition: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    definition["reporting"]["vmSize"] = "standard_d4s_v3".into();
    let file = dir.path().join("reporting.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let before = sim.with_world(|w, _| w.find("reporting").unwrap().wire.clone());
    let mut terminal =
        Terminal::repool(dir.path(), &["--definition", file.to_str().unwrap()], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("reporting");
    terminal.wait_for("changes");
    terminal.send("/reporting\r");
    terminal.send(":apply\r");
    terminal.wait_for("reporting: rebuild when empty (vmSize change only on an empty pool)");
    terminal.send("reporting\r");
    terminal.wait_for("updated");
    terminal.wait_for("in sync");
    terminal.send("q");
    assert!(terminal.end().success);
    let after = sim.with_world(|w, _| w.find("reporting").unwrap().wire.clone());
    assert_eq!(after.creation_time, before.creation_time, "the same pool");
    assert_eq!(after.rest["identity"], before.rest["identity"], "its identity kept");
    assert_eq!(after.vm_size.as_deref(), Some("standard_d4s_v3"));
    assert_eq!(sim.stats().pools_created, 0);
}

/// The dashboard on the demo account recreating p-render, inside its drain (slow time: its
/// 12-minute tasks take 24 s to drain).
async fn dashboard_in_a_drain() -> (repool::sim::RunningSim, tempfile::TempDir, Terminal) {
    let (sim, dir) = common::fast_demo_with_config().await;
    common::set_speed(&sim, 30.0);
    common::tasks_just_began(&sim, "p-render");
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("p-render");
    terminal.send("/p-render\r");
    terminal.mark_and_start("p-render");
    common::wait_until("the dashboard waits for the drain", || {
        common::journal_text(dir.path()).contains(r#""event":"step-started","pool":"p-render","step":"wait-drained""#)
    });
    (sim, dir, terminal)
}

/// What a stopped dashboard must leave: exit 3, the terminal as the shell had it, and the run's
/// stop journaled the engine's way (the pool interrupted, the run cancelled), so resume continues.
fn assert_stopped_in_order(ended: &common::terminal::Ended, dir: &std::path::Path, how: &str) {
    assert_eq!(ended.code, Some(3), "{how}: exit 3 (interrupted); screen:\n{}", ended.screen.contents());
    assert!(!ended.screen.alternate_screen(), "{how}: left the alternate screen");
    assert!(ended.canonical, "{how}: the terminal is back in canonical mode with echo");
    assert!(!ended.screen.hide_cursor(), "{how}: cursor shown again");
    let journal = common::journal_text(dir);
    assert!(
        journal.contains(r#""event":"pool-finished","pool":"p-render","status":"interrupted""#),
        "{how}: the pool's stop is journaled: {journal}"
    );
    assert!(journal.contains(r#""event":"run-finished","status":"cancelled""#), "{how}: {journal}");
}

/// SIGTERM and SIGHUP mid-run: the dashboard restores the terminal, the run stops in order and
/// says where (the terminal is still there for SIGHUP sent by `kill`), exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_stop_the_dashboards_run_in_order() {
    for signal in ["TERM", "HUP"] {
        let (_sim, dir, terminal) = dashboard_in_a_drain().await;
        terminal.signal(signal);
        let ended = terminal.end();
        assert_stopped_in_order(&ended, dir.path(), signal);
        let after = ended.screen.contents();
        assert!(after.contains(&format!("SIG{signal}: the dashboard stopped")), "{after}");
        assert!(after.contains("p-render: interrupted in wait-drained; `repool resume "), "{after}");
    }
}

/// Ctrl-C (a key in the dashboard) and `y` in the quit dialog mid-run: the run is interrupted, not
/// abandoned silently: exit 3 and, on the restored terminal, where the pool stopped and how to resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_the_dashboard_mid_run_interrupts_it_and_says_how_to_resume() {
    let (sim, dir, mut terminal) = dashboard_in_a_drain().await;
    terminal.send("\x03");
    terminal.wait_for("A run is active");
    terminal.send("y");
    let ended = terminal.end();
    assert_stopped_in_order(&ended, dir.path(), "quit");
    let after = ended.screen.contents();
    let run = common::journal_text(dir.path());
    let run: serde_json::Value = serde_json::from_str(run.lines().next().unwrap()).unwrap();
    let resume =
        format!("p-render: interrupted in wait-drained; `repool resume {}` continues it", run["run"].as_str().unwrap());
    assert!(after.contains(&resume), "{after}");
    let output = common::repool_command(dir.path())
        .args(["runs", "--json"])
        .env("AZURE_BATCH_ACCESS_KEY", sim.key())
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((&runs[0]["state"], &runs[0]["resumable"]), (&"interrupted".into(), &true.into()), "{runs:#}");
}

/// A signal to an idle dashboard (SIGINT from `kill`, not the key) restores the terminal; exit 3.
#[test]
fn sigint_to_an_idle_dashboard_restores_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let terminal = Terminal::repool(data.path(), &["demo", "--speed", "3000"], &[]);
    terminal.wait_for("p-render");
    terminal.signal("INT");
    let ended = terminal.end();
    assert_eq!(ended.code, Some(3), "{}", ended.screen.contents());
    assert!(!ended.screen.alternate_screen() && ended.canonical && !ended.screen.hide_cursor());
}

/// A warning while the dashboard owns the terminal (`:ctx` to an account whose config.toml others
/// can read and holds a key) goes to the status line and the log file, never behind the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_while_the_dashboard_runs_reaches_only_its_status_line() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let config = dir.path().join("repool/config.toml");
    let section = |name: &str| {
        format!(
            "[accounts.{name}]\nurl = \"{}\"\nname = \"{}\"\n[accounts.{name}.auth]\nmethod = \"shared-key\"\naccount_key = \"{}\"\n",
            sim.url,
            sim.account(),
            sim.key()
        )
    };
    let definition = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        &config,
        format!("account = \"east\"\ndefinition = \"{definition}\"\n{}{}", section("east"), section("west")),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut terminal = Terminal::repool(dir.path(), &[], &[]);
    terminal.wait_for("east (");
    terminal.wait_for("p-render");
    terminal.send(":ctx west\r");
    terminal.wait_for("west (");
    terminal.wait_for("holds a secret and other users can read it");
    let screen = terminal.text();
    let rows: Vec<&str> = screen.lines().collect();
    assert!(rows[0].starts_with(" repool "), "the header is intact:\n{screen}");
    let table_end = rows.iter().rposition(|r| r.starts_with('└')).unwrap();
    let warned: Vec<usize> =
        rows.iter().enumerate().filter(|(_, r)| r.contains("holds a secret")).map(|(i, _)| i).collect();
    assert!(warned.iter().all(|&i| i > table_end), "the warning is on the status line only:\n{screen}");
    terminal.send("\x0c");
    terminal.send("q");
    let ended = terminal.end();
    assert!(ended.success, "{}", ended.screen.contents());
    let logs = std::fs::read_dir(dir.path().join("logs")).unwrap();
    let text: String = logs.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap_or_default()).collect();
    assert!(text.contains("holds a secret"), "the log file has the warning");
}

/// The pool list says what an operator must see at a glance: tab's candidates while typing, the
/// cursor kept on its pool across a sort, a pool whose start task failed flagged in ERRORS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_show_the_cursor_keeps_its_pool_and_failed_nodes_are_flagged() {
    let (sim, dir) = common::fast_demo_with_config().await;
    common::fail_start_tasks(&sim, "win-test");
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("p-render");
    terminal.send(":p\t");
    terminal.wait_for("pools  plan");
    assert!(terminal.text().contains(":p"), "the line keeps what was typed");
    terminal.send("\x1b");
    terminal.wait_without("pools  plan");
    terminal.send("/p-render\r");
    terminal.wait_for("filter 'p-render'");
    terminal.send("\x1b");
    terminal.wait_for("win-test");
    let cursor = |terminal: &Terminal| terminal.text().lines().find(|l| l.contains('▶')).unwrap_or("").to_string();
    assert!(cursor(&terminal).contains("p-render"), "{}", terminal.text());
    terminal.send("s");
    terminal.wait_for("sorted by id ↓");
    assert!(cursor(&terminal).contains("p-render"), "the cursor stays on p-render:\n{}", terminal.text());
    terminal.wait_for("⚠ 1 start task failed");
    let row = terminal.text().lines().find(|l| l.contains("win-test")).unwrap().to_string();
    assert!(row.contains("⚠ 1 start task failed"), "{row}");
    terminal.send("q");
    assert!(terminal.end().success);
}

/// Preflight's refusal, at 80×24, reads whole on the status line: every word of its problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reads_whole_at_80_by_24() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["common-config"]["virtualMachineConfiguration"]["imageReference"]["sku"] = "no-such-sku".into();
    let file = dir.path().join("unoffered.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool_sized(
        dir.path(),
        &["--definition", file.to_str().unwrap()],
        &[("AZURE_BATCH_ACCESS_KEY", &key)],
        (24, 80),
    );
    terminal.wait_for("p-render");
    terminal.send("/p-render\r");
    terminal.send(" ");
    terminal.wait_for("marked 1");
    terminal.send("R");
    // Preflight refuses before the operator is asked to type anything.
    terminal.wait_for("preflight found 1 problem(s); nothing was changed:");
    let joined = terminal.text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains("the service would refuse the new pool after the old one is deleted"),
        "the refusal's last words are on screen:\n{}",
        terminal.text()
    );
    terminal.send("q");
    assert!(terminal.end().success);
    assert!(common::pool_identity(&sim, "p-render").is_some(), "nothing was changed");
}
