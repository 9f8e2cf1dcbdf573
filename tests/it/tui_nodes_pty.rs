//! The dashboard's node actions and autoscale evaluation in a pseudo-terminal of 80×24, against
//! the fast demo account: what the operator reads, and what reached the simulator.

use crate::common;

use common::terminal::Terminal;

/// The screen's words joined by single spaces: a status line wraps at 80 columns.
fn words(terminal: &Terminal) -> String {
    terminal.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn wait_for_words(terminal: &Terminal, text: &str) {
    common::wait_until(text, || words(terminal).contains(text));
}

fn calls(sim: &repool::sim::RunningSim, operation: &str) -> u64 {
    sim.stats().requests.iter().filter(|(k, _)| k.starts_with(operation)).map(|(_, n)| *n).sum()
}

fn log_files(dir: &std::path::Path) -> String {
    let logs = std::fs::read_dir(dir.join("logs")).unwrap();
    logs.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap_or_default()).collect()
}

/// A node whose start task failed: its output read from the nodes section, then rebooted (enter
/// confirms) and removed (typed), each said on the status line and in the log file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_actions_at_80_by_24() {
    let (sim, dir) = common::fast_demo_with_config().await;
    common::fail_start_tasks(&sim, "win-test");
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool_sized(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)], (24, 80));
    terminal.wait_for("win-test");
    terminal.send(":nodes win-test\r");
    terminal.wait_for("✗ start task failed 1");
    terminal.wait_for("b reboot · D remove · S scheduling · o start task output");
    terminal.send("o");
    terminal.wait_for("start task exited with code 3");
    terminal.wait_for("error: the start task failed with exit code 3");
    terminal.send("\x1b");
    terminal.wait_for("NODE");
    terminal.send("b");
    terminal.wait_for("Reboot 1 node(s) of win-test");
    terminal.wait_for("Press enter to confirm");
    terminal.send("\r");
    wait_for_words(&terminal, "(taskcompletion): done");
    assert_eq!(calls(&sim, "POST reboot node 202"), 1);
    terminal.send("D");
    terminal.wait_for("Remove 1 node(s) from win-test");
    terminal.send("\r");
    terminal.wait_for("type exactly 'remove' to confirm");
    assert_eq!(calls(&sim, "POST remove nodes"), 0, "enter alone removes nothing");
    terminal.send("remove\r");
    wait_for_words(&terminal, "(taskcompletion): done");
    common::wait_until("the removal reached the simulator", || calls(&sim, "POST remove nodes 202") == 1);
    terminal.send("q");
    assert!(terminal.end().success);
    let log = log_files(dir.path());
    assert!(log.contains("win-test: reboot of") && log.contains("win-test: removal of"), "the log file has both");
    assert_eq!(sim.with_world(|w, _| w.find("win-test").unwrap().wire.target_dedicated_nodes), Some(0));
}

/// Autoscale at 80×24: the pool's formula is evaluated by the service, its results read, then
/// enabled; the dashboard never enables what it has not shown evaluated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscale_evaluate_then_enable_at_80_by_24() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool_sized(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)], (24, 80));
    terminal.wait_for("p-render");
    terminal.send("/p-render\r");
    terminal.wait_for("filter 'p-render'");
    terminal.send("f");
    terminal.wait_for("Autoscale p-render");
    terminal.wait_for("$NodeDeallocationOption = taskcompletion;");
    terminal.send("\x05");
    wait_for_words(&terminal, "not enabled: evaluate it first");
    terminal.send(" $TargetLowPriorityNodes = 1;\r");
    terminal.wait_for("the service's evaluation:");
    terminal.wait_for("$TargetLowPriorityNodes=1");
    terminal.wait_for("ctrl-e enables this formula");
    assert_eq!(calls(&sim, "POST enable autoscale"), 0);
    terminal.send("\x05");
    wait_for_words(&terminal, "p-render: enabling autoscale: done");
    terminal.wait_without("Autoscale p-render");
    terminal.send("q");
    assert!(terminal.end().success);
    assert_eq!(calls(&sim, "POST evaluate autoscale 200"), 1);
    assert_eq!(calls(&sim, "POST enable autoscale 200"), 1);
    let formula = sim.with_world(|w, _| w.find("p-render").unwrap().wire.auto_scale_formula.clone()).unwrap();
    assert!(formula.ends_with("$TargetLowPriorityNodes = 1;"), "{formula}");
    assert!(log_files(dir.path()).contains("p-render: enabling autoscale: done"));
}
