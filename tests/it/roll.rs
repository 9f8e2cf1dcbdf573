//! Roll (apply of a start task or package change) through the binary against the simulator: a busy
//! pool's nodes rebooted a batch at a time (capacity sampled throughout; an autoscale pool held and
//! its formula given back; a failing start task rolled back), SIGKILL and resume or abandon,
//! `--no-roll`, bad input. Refresh's tests (refresh.rs) share the account set-up.

use crate::common;
use crate::common::capacity::CapacitySampler;
use common::{pool_report, repool_with_key as repool, wire};

use repool::sim::RunningSim;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

/// The demo account at speed with pool `id`: `nodes` dedicated nodes (or, with `formula`,
/// autoscaled by it) running 5-minute tasks back to back, each node taking tasks.
pub(crate) async fn account_with_busy_pool(
    id: &str,
    nodes: u32,
    formula: Option<&str>,
) -> (RunningSim, tempfile::TempDir) {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body = common::pool_body(id, nodes);
    body["startTask"] = json!({"commandLine": "/bin/sh -c 'echo v1'", "waitForSuccess": true});
    if let Some(formula) = formula {
        body.as_object_mut().unwrap().remove("targetDedicatedNodes");
        body["enableAutoScale"] = true.into();
        body["autoScaleFormula"] = formula.into();
        body["autoScaleEvaluationInterval"] = "PT5M".into();
    }
    body["_sim"] = json!({"taskMinutes": 5});
    let clock = sim.state.clock.lock().unwrap().clone();
    let Value::Object(map) = body else { unreachable!() };
    sim.with_world(|world, now| repool::sim::seed::add(world, &clock, now, map).unwrap());
    common::wait_until("every node takes tasks", || usable(&sim, id) == nodes);
    (sim, dir)
}

pub(crate) fn usable(sim: &RunningSim, id: &str) -> u32 {
    sim.with_world(|w, now| w.find(id).map_or(0, |p| p.usable_nodes(now)))
}

/// (id, boot time, start task command line) of each node in pool `id` now.
pub(crate) fn nodes(sim: &RunningSim, id: &str) -> Vec<(String, f64, String)> {
    sim.with_world(|w, now| {
        let pool = w.find(id).unwrap();
        pool.visible_nodes(now)
            .map(|n| {
                let command = n.start_task.as_ref().and_then(|t| t["commandLine"].as_str()).unwrap_or("").to_string();
                (n.id.clone(), n.booted_at, command)
            })
            .collect()
    })
}

pub(crate) fn killed(sim: &RunningSim) -> u64 {
    let stats = sim.stats();
    stats.tasks_killed_by_node_ops + stats.tasks_killed_by_resize + stats.tasks_killed_by_delete
}

/// The new start task the tests roll out; the simulator makes one with `exit N` fail with N.
const V2: &str = "/bin/sh -c 'echo v2'";

/// The pool's definition as exported, with start task `command`, written to a file of its own.
fn start_task_changed(dir: &std::path::Path, key: &str, id: &str, command: &str) -> String {
    let (code, out, err) = repool(dir, key, &["export", "--pool", id]);
    assert_eq!(code, 0, "{err}");
    let mut definition: Value = serde_json::from_str(&out).unwrap();
    definition[id]["startTask"] = json!({"commandLine": command, "waitForSuccess": true});
    let path = dir.join("v2.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// The story: a start task change on a busy 4-node pool, applied with
/// `--max-unavailable-nodes 1`: the plan says roll, capacity never below 3, every original node
/// rebooted and running the new start task, the same pool, no task cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_task_change_rolls_a_busy_pool_one_node_at_a_time() {
    let (sim, dir) = account_with_busy_pool("r-roll", 4, None).await;
    let key = sim.key().to_string();
    let definition = start_task_changed(dir.path(), &key, "r-roll", V2);
    let (_, out, err) = repool(dir.path(), &key, &["plan", "--pool", "r-roll", "--json", "--definition", &definition]);
    let plan: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(plan["pools"][0]["applyStrategy"], "roll", "{plan}");
    assert!(plan["pools"][0]["applyWhy"].as_str().unwrap().contains("reboot"), "{plan}");

    let (before, original) = (wire(&sim, "r-roll"), nodes(&sim, "r-roll"));
    let sampler = CapacitySampler::start(&sim, &["r-roll".to_string()], Duration::from_millis(1));
    let args = ["apply", "--pool", "r-roll", "--yes", "--json", "--max-unavailable-nodes", "1", "--definition"];
    let (code, out, err) = repool(dir.path(), &key, &[&args[..], &[definition.as_str()]].concat());
    let figures = sampler.finish().await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("roll nodes") && err.contains("reboot"), "the plan says roll and why: {err}");
    assert!(err.contains("batch 4: nodes 4 of 4 rebooted"), "progress in nodes: {err}");
    let capacity = &figures["r-roll"];
    assert_eq!(capacity.target, 4);
    assert!(capacity.lowest >= 3, "at most one node out at once: {capacity:?}");
    let after = nodes(&sim, "r-roll");
    for (id, booted, _) in &original {
        let now = after.iter().find(|(n, ..)| n == id).unwrap_or_else(|| panic!("{id} is gone: {after:?}"));
        assert!(now.1 > *booted, "{id} was rebooted: {after:?}");
        assert!(now.2.contains("v2"), "{id} runs the new start task: {after:?}");
    }
    let pool = wire(&sim, "r-roll");
    assert_eq!(pool.creation_time, before.creation_time, "the same pool");
    assert_eq!(pool.target_dedicated_nodes, Some(4));
    assert_eq!(killed(&sim), 0, "no task cut short");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pool_report(&report, "r-roll")["status"], "updated", "{report}");
}

/// `--no-roll` patches only: the pool has the new start task, its nodes were not rebooted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_roll_patches_only() {
    let (sim, dir) = account_with_busy_pool("r-patch", 2, None).await;
    let key = sim.key().to_string();
    let definition = start_task_changed(dir.path(), &key, "r-patch", V2);
    let original = nodes(&sim, "r-patch");
    let args = ["apply", "--pool", "r-patch", "--yes", "--no-roll", "--definition", &definition];
    let (code, _, err) = repool(dir.path(), &key, &args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--no-roll: patched only"), "{err}");
    let start = wire(&sim, "r-patch").rest.get("startTask").cloned().unwrap();
    assert!(start["commandLine"].as_str().unwrap().contains("v2"), "patched: {start}");
    assert_eq!(nodes(&sim, "r-patch"), original, "no node rebooted");
}

/// Bad input is refused naming the pool or the flag (exit 2), nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_roll_refuse_bad_input() {
    let (sim, dir) = account_with_busy_pool("r-bad", 1, None).await;
    let key = sim.key().to_string();
    let calls = common::mutating_calls(&sim);
    for (args, says) in [
        (&["refresh", "--pool", "r-bda", "--yes"][..], "'r-bda' is not in the account"),
        (&["refresh", "--pool", "r-bad", "--yes", "--surge", "0"], "--surge must be at least 1"),
        (&["refresh", "--pool", "r-bad", "--yes", "--surge", "-1"], "--surge"),
        (&["refresh", "--pool", "r-bad", "--yes", "--max-unavailable-nodes", "0"], "--max-unavailable-nodes"),
        (&["refresh", "--pool", "r-bad", "--yes", "--max-unavailable-nodes", "-2"], "--max-unavailable-nodes"),
        (&["apply", "--pool", "r-bad", "--yes", "--max-unavailable-nodes", "0"], "--max-unavailable-nodes"),
        (&["refresh", "--yes"], "--pool"),
    ] {
        let (code, _, err) = repool(dir.path(), &key, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(common::mutating_calls(&sim), calls, "nothing changed");
}

/// One look at an autoscale pool while a roll runs.
#[derive(Debug)]
struct Held {
    autoscale: bool,
    target: u32,
    usable: u32,
}

/// Looks at pool `id` every millisecond (real time) until the sender is dropped or fires.
fn watch_autoscale(
    sim: &RunningSim,
    id: &str,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Vec<Held>>) {
    let (state, id) = (sim.state.clone(), id.to_string());
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watching = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            seen.push(state.with_world(|w, now| {
                let pool = w.find(&id).unwrap();
                let target =
                    pool.wire.target_dedicated_nodes.unwrap_or(0) + pool.wire.target_low_priority_nodes.unwrap_or(0);
                Held { autoscale: pool.wire.enable_auto_scale == Some(true), target, usable: pool.usable_nodes(now) }
            }));
            tokio::select! {
                _ = &mut stopped => break seen,
                _ = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
    });
    (stop, watching)
}

/// `apply` of `definition` to pool `id` in the background, its output dropped (to be killed).
fn spawn_apply(dir: &std::path::Path, key: &str, id: &str, definition: &str) -> std::process::Child {
    common::spawn_repool(
        dir,
        key,
        &["apply", "--pool", id, "--yes", "--max-unavailable-nodes", "1", "--definition", definition],
    )
}

/// Every original node rebooted since `original` was taken and running start task `version`.
fn all_rebooted_running(sim: &RunningSim, id: &str, original: &[(String, f64, String)], version: &str) {
    let after = nodes(sim, id);
    for (node, booted, _) in original {
        let now = after.iter().find(|(n, ..)| n == node).unwrap_or_else(|| panic!("{node} is gone: {after:?}"));
        assert!(now.1 > *booted && now.2.contains(version), "{node} rebooted onto {version}: {after:?}");
    }
}

/// A start task change on an autoscale pool: while nodes are out for their reboot autoscale is
/// held (off, the targets it had asked for kept), and the formula is back and on at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_holds_autoscale_and_gives_the_formula_back() {
    let formula = "$TargetDedicatedNodes = 3;";
    let (sim, dir) = account_with_busy_pool("r-held", 3, Some(formula)).await;
    let key = sim.key().to_string();
    let definition = start_task_changed(dir.path(), &key, "r-held", V2);
    let dry = ["apply", "--pool", "r-held", "--dry-run", "--definition", &definition];
    let (code, out, err) = repool(dir.path(), &key, &dry);
    assert_eq!(code, 0, "{err}");
    let at = |call: &str| out.find(call).unwrap_or_else(|| panic!("{call}: {out}"));
    assert!(at("/disableautoscale") < at("PATCH") && at("/reboot") < at("/enableautoscale"), "in order: {out}");
    let (before, original) = (wire(&sim, "r-held"), nodes(&sim, "r-held"));
    let (stop, watching) = watch_autoscale(&sim, "r-held");
    let args = ["apply", "--pool", "r-held", "--yes", "--json", "--max-unavailable-nodes", "1", "--definition"];
    let (code, out, err) = repool(dir.path(), &key, &[&args[..], &[definition.as_str()]].concat());
    let _ = stop.send(());
    let seen = watching.await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("roll nodes") && err.contains("autoscale held"), "the plan says so: {err}");
    let away: Vec<&Held> = seen.iter().filter(|h| h.usable < 3).collect();
    assert!(!away.is_empty(), "a node was seen out for its reboot ({} looks)", seen.len());
    assert!(away.iter().all(|h| !h.autoscale), "autoscale held while nodes were out: {away:?}");
    assert!(seen.iter().all(|h| h.target == 3), "the targets autoscale asked for, throughout");
    assert!(seen.iter().all(|h| h.usable >= 2), "at most one node out at once");
    let after = wire(&sim, "r-held");
    assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
    assert_eq!(after.creation_time, before.creation_time, "the same pool");
    all_rebooted_running(&sim, "r-held", &original, "v2");
    assert_eq!(killed(&sim), 0, "no task cut short");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pool_report(&report, "r-held")["status"], "updated", "{report}");
}

/// A roll whose new start task fails (`--on-unhealthy rollback`): the first rebooted node comes
/// back failed, no other is rebooted; the pool is patched back to its old start task, that node
/// rebooted again onto it and healthy, the formula back; the run says rolled back (exit 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_whose_start_task_fails_is_rolled_back() {
    let formula = "$TargetDedicatedNodes = 3;";
    let (sim, dir) = account_with_busy_pool("r-back", 3, Some(formula)).await;
    let key = sim.key().to_string();
    let definition = start_task_changed(dir.path(), &key, "r-back", "/bin/sh -c 'echo v2; exit 3'");
    let (before, original) = (wire(&sim, "r-back"), nodes(&sim, "r-back"));
    let sampler = CapacitySampler::start(&sim, &["r-back".to_string()], Duration::from_millis(1));
    let args = ["apply", "--pool", "r-back", "--yes", "--json", "--max-unavailable-nodes", "1"];
    let rollback = ["--on-unhealthy", "rollback", "--definition", definition.as_str()];
    let (code, out, err) = repool(dir.path(), &key, &[&args[..], &rollback[..]].concat());
    let figures = sampler.finish().await;
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let pool = pool_report(&report, "r-back");
    assert_eq!(pool["status"], "rolled-back", "{report}");
    assert!(pool["error"].as_str().unwrap().contains("came back failed"), "says why: {report}");
    let after = wire(&sim, "r-back");
    assert_eq!(after.rest.get("startTask"), before.rest.get("startTask"), "patched back to the old start task");
    assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
    assert_eq!(after.creation_time, before.creation_time, "the same pool");
    let now = nodes(&sim, "r-back");
    let rebooted: Vec<_> = original.iter().filter(|(n, b, _)| now.iter().any(|(m, c, _)| m == n && c > b)).collect();
    assert_eq!(rebooted.len(), 1, "only the first batch was rolled, then rolled back: {now:?}");
    assert!(now.iter().all(|(_, _, command)| command.contains("v1")), "every node runs the old start task: {now:?}");
    assert_eq!(usable(&sim, "r-back"), 3, "healthy again: {now:?}");
    assert!(figures["r-back"].lowest >= 2, "never more than one node out: {:?}", figures["r-back"]);
    assert_eq!(killed(&sim), 0, "no task cut short");
    let journal = common::journal_text(dir.path());
    for step in ["rollback-patch", "rollback-nodes", "rollback-scale", "rollback-wait-ready"] {
        assert!(journal.contains(&format!("\"step\":\"{step}\"")), "{step} journaled: {journal}");
    }
    assert!(journal.contains("\"reboot-back\""), "the batch back journaled: {journal}");
}

/// SIGKILL during a roll of an autoscale pool, once autoscale is held: `abandon` gives the
/// formula back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoning_a_killed_roll_gives_autoscale_its_formula_back() {
    let formula = "$TargetDedicatedNodes = 2;";
    let (sim, dir) = account_with_busy_pool("r-left", 2, Some(formula)).await;
    let key = sim.key().to_string();
    let definition = start_task_changed(dir.path(), &key, "r-left", V2);
    let child = spawn_apply(dir.path(), &key, "r-left", &definition);
    kill_once_held_then_abandon(&sim, dir.path(), &key, "r-left", child, formula);
}

/// SIGKILLs `child` (a run on autoscale pool `id`) once autoscale is held off, abandons the run,
/// and checks that abandon gave `formula` back, enabled.
pub(crate) fn kill_once_held_then_abandon(
    sim: &RunningSim,
    dir: &std::path::Path,
    key: &str,
    id: &str,
    mut child: std::process::Child,
    formula: &str,
) {
    common::wait_until("autoscale is held off", || wire(sim, id).enable_auto_scale == Some(false));
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, _, err) = common::abandon_newest_run(dir, key);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("autoscale enabled again"), "{err}");
    let after = wire(sim, id);
    assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
}

/// SIGKILL at random instants of a roll of an autoscale pool, then `resume` until done: never
/// more than one node out, every original node on the new start task, the formula back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_killed_at_any_instant_and_resumed_ends_with_its_formula() {
    let trials = common::env_number("REPOOL_ROLL_TRIALS", 3);
    let seed = common::env_number("REPOOL_ROLL_SEED", 20261204);
    let mut rng = fastrand::Rng::with_seed(seed);
    let formula = "$TargetDedicatedNodes = 3;";
    for trial in 0..trials {
        let (line, extra) = (rng.usize(1..20), Duration::from_millis(rng.u64(0..20)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {line} + {extra:?})");
        let (sim, dir) = account_with_busy_pool("r-again", 3, Some(formula)).await;
        let key = sim.key().to_string();
        let definition = start_task_changed(dir.path(), &key, "r-again", V2);
        let original = nodes(&sim, "r-again");
        let sampler = CapacitySampler::start(&sim, &["r-again".to_string()], Duration::from_millis(1));
        let mut first = spawn_apply(dir.path(), &key, "r-again", &definition);
        common::kill_at_journal_line(&mut first, dir.path(), line, extra, &context).await;
        for attempt in 0..3 {
            let apply = ["apply", "--pool", "r-again", "--yes", "--max-unavailable-nodes", "1", "--definition"];
            let args: Vec<&str> = match common::runs_left(dir.path()) {
                (true, _) => vec!["resume", "--yes"],
                (false, false) => [&apply[..], &[definition.as_str()]].concat(),
                (false, true) => break,
            };
            let (code, _, err) = repool(dir.path(), &key, &args);
            assert!(attempt < 2 || code == 0, "{context}: {args:?} failed: {err}");
        }
        let figures = sampler.finish().await;
        assert!(figures["r-again"].lowest >= 2, "{context}: {:?}", figures["r-again"]);
        let after = wire(&sim, "r-again");
        assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
        all_rebooted_running(&sim, "r-again", &original, "v2");
        assert_eq!(killed(&sim), 0, "{context}");
    }
}

/// SIGKILL inside the rollback of a failing roll (at a rollback step or batch), then `resume`:
/// the rollback finishes — old start task on every node, healthy, the formula back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_killed_midway_is_finished_by_resume() {
    let seed = common::env_number("REPOOL_ROLL_SEED", 20261204);
    let mut rng = fastrand::Rng::with_seed(seed);
    let formula = "$TargetDedicatedNodes = 3;";
    let mut resumed = 0;
    for marker in ["\"rollback-patch\"", "\"rollback-nodes\"", "\"reboot-back\"", "\"rollback-scale\""] {
        let extra = Duration::from_millis(rng.u64(0..20));
        let context = format!("SIGKILL {extra:?} after {marker} was journaled (seed {seed})");
        let (sim, dir) = account_with_busy_pool("r-undo", 3, Some(formula)).await;
        let key = sim.key().to_string();
        let definition = start_task_changed(dir.path(), &key, "r-undo", "/bin/sh -c 'exit 3'");
        let before = wire(&sim, "r-undo");
        let mut child = common::repool_command(dir.path())
            .args(["apply", "--pool", "r-undo", "--yes", "--max-unavailable-nodes", "1", "--on-unhealthy"])
            .args(["rollback", "--definition", &definition])
            .env("AZURE_BATCH_ACCESS_KEY", &key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && !common::journal_text(dir.path()).contains(marker) {
            assert!(std::time::Instant::now() < deadline, "{context}: never journaled");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(extra).await;
        let _ = child.kill();
        child.wait().unwrap();
        let runs = repool::rollout::journal::list(&dir.path().join("journal"));
        let open = runs
            .iter()
            .filter_map(|p| repool::rollout::journal::read(p).ok())
            .any(|s| repool::rollout::report::is_resumable(&s));
        if open {
            let (code, out, err) = repool(dir.path(), &key, &["resume", "--yes", "--json"]);
            assert_eq!(code, 1, "{context}: {err}");
            let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{context}: {e}: {out}"));
            assert_eq!(pool_report(&report, "r-undo")["status"], "rolled-back", "{context}: {report}");
            resumed += 1;
        }
        let after = wire(&sim, "r-undo");
        assert_eq!(after.rest.get("startTask"), before.rest.get("startTask"), "{context}");
        assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
        let now = nodes(&sim, "r-undo");
        assert!(now.iter().all(|(_, _, command)| command.contains("v1")), "{context}: {now:?}");
        assert_eq!(usable(&sim, "r-undo"), 3, "{context}: {now:?}");
    }
    println!("{resumed} of 4 rollbacks killed midway and resumed");
}

/// A roll started while a fixed pool grows waits the resize out (stopping it would leave the pool
/// short of its targets): every node, the new ones too, on the new start task, the pool at target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_of_a_growing_fixed_pool_waits_its_resize_out() {
    use repool::batch::models::ResizeRequest;
    let (sim, dir) = account_with_busy_pool("r-grow", 2, None).await;
    let key = sim.key().to_string();
    // Allocation slow enough (a few seconds, however loaded the machine) for the roll to find
    // the resize in flight; the definition (exported meanwhile) has the new target.
    sim.with_world(|w, _| w.timings.node_alloc = 9000.0);
    let timeout = Some(repool::batch::BatchDuration::from_secs(3600 * 24));
    let grow = ResizeRequest { target_dedicated_nodes: Some(3), resize_timeout: timeout, ..Default::default() };
    common::client_for(&sim).resize_pool("r-grow", &grow).await.unwrap();
    let definition = start_task_changed(dir.path(), &key, "r-grow", V2);
    let args = ["apply", "--pool", "r-grow", "--yes", "--max-unavailable-nodes", "1", "--definition", &definition];
    let (code, _, err) = repool(dir.path(), &key, &args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("waited out"), "{err}");
    let pool = wire(&sim, "r-grow");
    assert_eq!((pool.target_dedicated_nodes, pool.resize_errors), (Some(3), None), "grown, not stopped");
    let now = nodes(&sim, "r-grow");
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(now.iter().all(|(_, _, command)| command.contains("v2")), "every node on the new start task: {now:?}");
}
