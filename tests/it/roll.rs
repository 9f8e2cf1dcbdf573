//! Roll and refresh through the binary against the simulator: a start task change on a busy pool
//! rolls its nodes a batch at a time (capacity sampled throughout; an autoscale pool held and its
//! formula given back; a failing start task rolled back), `refresh` replaces every node of fixed
//! and autoscale pools (with and without surge), SIGKILL and resume or abandon, `--no-roll`, bad input.

use crate::common;
use crate::common::capacity::CapacitySampler;
use common::{pool_report, repool_with_key as repool, wire};

use repool::sim::RunningSim;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

/// The demo account at speed with pool `id`: `nodes` dedicated nodes (or, with `formula`,
/// autoscaled by it) running 5-minute tasks back to back, each node taking tasks.
async fn account_with_busy_pool(id: &str, nodes: u32, formula: Option<&str>) -> (RunningSim, tempfile::TempDir) {
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

fn usable(sim: &RunningSim, id: &str) -> u32 {
    sim.with_world(|w, now| w.find(id).map_or(0, |p| p.usable_nodes(now)))
}

/// (id, boot time, start task command line) of each node in pool `id` now.
fn nodes(sim: &RunningSim, id: &str) -> Vec<(String, f64, String)> {
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

fn killed(sim: &RunningSim) -> u64 {
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

/// `refresh` of an autoscale pool: every original node replaced, the pool at what autoscale asked
/// throughout, its formula back and autoscale on at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_replaces_every_node_of_an_autoscale_pool_and_gives_the_formula_back() {
    let formula = "$TargetDedicatedNodes = 3;";
    let (sim, dir) = account_with_busy_pool("r-auto", 3, Some(formula)).await;
    let key = sim.key().to_string();
    let (before, original) = (wire(&sim, "r-auto"), nodes(&sim, "r-auto"));
    let (code, out, err) = repool(dir.path(), &key, &["refresh", "--pool", "r-auto", "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("autoscale held"), "{err}");
    let after = wire(&sim, "r-auto");
    assert_eq!(after.enable_auto_scale, Some(true), "autoscale back on");
    assert_eq!(after.auto_scale_formula.as_deref(), Some(formula), "its formula back");
    assert_eq!(after.creation_time, before.creation_time, "the same pool");
    let now = nodes(&sim, "r-auto");
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)), "all replaced: {original:?} {now:?}");
    assert_eq!(killed(&sim), 0, "no task cut short");
    let report: Value = serde_json::from_str(&out).unwrap();
    let pool = pool_report(&report, "r-auto");
    assert_eq!(pool["status"], "refreshed", "{report}");
    assert_eq!(pool["nodes"].as_array().unwrap().len(), 3, "{pool}");
}

/// `refresh --surge 1`: the target is raised first, so the pool never has fewer nodes taking
/// tasks than its target; the surge is given back at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_with_surge_never_drops_below_target() {
    let (sim, dir) = account_with_busy_pool("r-surge", 3, None).await;
    let key = sim.key().to_string();
    let original = nodes(&sim, "r-surge");
    let sampler = CapacitySampler::start(&sim, &["r-surge".to_string()], Duration::from_millis(1));
    let args = ["refresh", "--pool", "r-surge", "--yes", "--json", "--surge", "1", "--max-unavailable-nodes", "1"];
    let (code, out, err) = repool(dir.path(), &key, &args);
    let figures = sampler.finish().await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("target raised by 1 to 4"), "the surge happened: {err}");
    let capacity = &figures["r-surge"];
    assert!(capacity.lowest >= 3, "never below the target: {capacity:?}");
    let pool = wire(&sim, "r-surge");
    assert_eq!(pool.target_dedicated_nodes, Some(3), "the surge given back");
    let now = nodes(&sim, "r-surge");
    assert!(original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)), "all replaced: {now:?}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let replaced = pool_report(&report, "r-surge")["nodes"].as_array().unwrap().len();
    assert_eq!(replaced, 3, "the original nodes only, never the surge's own: {report}");
    assert_eq!(killed(&sim), 0);
    // The surge goes with the last old node: 3 new nodes in all (the surge's, 2 size-backs), none
    // allocated to be removed again by a shrink at the end (it would wait for a fresh node's task).
    assert_eq!(capacity.nodes_seen.len(), 6, "{capacity:?}");
}

/// `--surge` equal to the target: the whole pool replaced in one batch (blue/green), never below
/// its target, nothing to give back at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_of_the_whole_pool_replaces_it_at_once() {
    let (sim, dir) = account_with_busy_pool("r-blue", 3, None).await;
    let key = sim.key().to_string();
    let original = nodes(&sim, "r-blue");
    let sampler = CapacitySampler::start(&sim, &["r-blue".to_string()], Duration::from_millis(1));
    let (code, out, err) =
        repool(dir.path(), &key, &["refresh", "--pool", "r-blue", "--yes", "--json", "--surge", "3"]);
    let figures = sampler.finish().await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("at most 3 at once") && err.contains("never below it"), "the confirmation says so: {err}");
    assert!(err.contains("nodes 3 of 3 replaced") && !err.contains("batch 2"), "one batch: {err}");
    assert!(figures["r-blue"].lowest >= 3, "never below the target: {:?}", figures["r-blue"]);
    let now = nodes(&sim, "r-blue");
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)), "all replaced: {now:?}");
    assert_eq!(wire(&sim, "r-blue").target_dedicated_nodes, Some(3));
    assert_eq!(figures["r-blue"].nodes_seen.len(), 6, "3 old, 3 new: {:?}", figures["r-blue"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pool_report(&report, "r-blue")["status"], "refreshed", "{report}");
    assert_eq!(killed(&sim), 0);
}

/// `--max-unavailable 1` across pools: two pools refreshed in one run never have nodes out at
/// the same time; the second waits, untouched, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_unavailable_lets_one_pool_at_a_time_take_nodes_out() {
    let (sim, dir) = account_with_busy_pool("r-one", 2, None).await;
    let mut body = common::pool_body("r-two", 2);
    body["_sim"] = json!({"taskMinutes": 5});
    let clock = sim.state.clock.lock().unwrap().clone();
    let Value::Object(map) = body else { unreachable!() };
    sim.with_world(|world, now| repool::sim::seed::add(world, &clock, now, map).unwrap());
    common::wait_until("every node takes tasks", || usable(&sim, "r-two") == 2);
    let key = sim.key().to_string();
    let ids = ["r-one".to_string(), "r-two".to_string()];
    let sampler = CapacitySampler::start(&sim, &ids, Duration::from_millis(1));
    let args = ["refresh", "--pool", "r-one", "--pool", "r-two", "--yes", "--max-unavailable", "1"];
    let (code, _, err) = repool(dir.path(), &key, &args);
    let figures = sampler.finish().await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("at most 1 pool(s) may have nodes taken out at once"), "the wait is said: {err}");
    assert_eq!(figures["r-one"].pools_below_at_once, 1, "{figures:?}");
    assert!(figures.values().all(|f| f.lowest >= 1), "{figures:?}");
    assert_eq!(killed(&sim), 0);
}

/// SIGKILL at random instants of a refresh (autoscale, surge), then `resume` until done: never
/// more than max-unavailable nodes lost, the pool ends with its formula, every node replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_killed_at_any_instant_and_resumed_ends_with_its_formula() {
    let trials = common::env_number("REPOOL_ROLL_TRIALS", 4);
    let seed = common::env_number("REPOOL_ROLL_SEED", 20261203);
    let mut rng = fastrand::Rng::with_seed(seed);
    let formula = "$TargetDedicatedNodes = 4;";
    for trial in 0..trials {
        let (line, extra) = (rng.usize(1..16), Duration::from_millis(rng.u64(0..20)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {line} + {extra:?})");
        let (sim, dir) = account_with_busy_pool("r-kill", 4, Some(formula)).await;
        let key = sim.key().to_string();
        let original = nodes(&sim, "r-kill");
        let sampler = CapacitySampler::start(&sim, &["r-kill".to_string()], Duration::from_millis(1));
        let mut first = common::repool_command(dir.path())
            .args(["refresh", "--pool", "r-kill", "--yes", "--max-unavailable-nodes", "1"])
            .env("AZURE_BATCH_ACCESS_KEY", &key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::kill_at_journal_line(&mut first, dir.path(), line, extra, &context).await;
        for attempt in 0..3 {
            let runs = repool::rollout::journal::list(&dir.path().join("journal"));
            // Killed after its pools finished but before its end was written, a run has nothing to resume.
            let mut states = runs.iter().filter_map(|p| repool::rollout::journal::read(p).ok());
            let open = states.any(|s| repool::rollout::report::is_resumable(&s));
            let args: &[&str] = match (open, runs.is_empty()) {
                (true, _) => &["resume", "--yes"],
                (false, true) => &["refresh", "--pool", "r-kill", "--yes", "--max-unavailable-nodes", "1"],
                (false, false) => break,
            };
            let (code, _, err) = repool(dir.path(), &key, args);
            assert!(attempt < 2 || code == 0, "{context}: {args:?} failed: {err}");
        }
        let figures = sampler.finish().await;
        assert!(figures["r-kill"].lowest >= 3, "{context}: {:?}", figures["r-kill"]);
        let after = wire(&sim, "r-kill");
        assert_eq!(after.enable_auto_scale, Some(true), "{context}");
        assert_eq!(after.auto_scale_formula.as_deref(), Some(formula), "{context}");
        let now = nodes(&sim, "r-kill");
        assert!(original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)), "{context}: {now:?}");
        assert_eq!(killed(&sim), 0, "{context}");
    }
}

/// `abandon` of a refresh stopped while it held autoscale off gives the formula back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoning_a_refresh_gives_autoscale_its_formula_back() {
    let formula = "$TargetDedicatedNodes = 2;";
    let (sim, dir) = account_with_busy_pool("r-gone", 2, Some(formula)).await;
    let key = sim.key().to_string();
    let args = ["refresh", "--pool", "r-gone", "--yes", "--json"];
    // Stopped (SIGKILL) once autoscale is held off.
    let mut child = common::repool_command(dir.path())
        .args(args)
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("autoscale is held off", || wire(&sim, "r-gone").enable_auto_scale == Some(false));
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = repool::rollout::journal::list(&dir.path().join("journal"));
    let id = runs[0].file_stem().unwrap().to_string_lossy().into_owned();
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &id, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("autoscale enabled again"), "{err}");
    let after = wire(&sim, "r-gone");
    assert_eq!((after.enable_auto_scale, after.auto_scale_formula.as_deref()), (Some(true), Some(formula)));
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

/// The dashboard's step-through (`Until::OneStep`, through the run API): a node-batch step pauses
/// after each batch, so each step replaces one batch and the next execution goes on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_through_replaces_one_batch_per_step() {
    use repool::rollout::policy::RunPolicy;
    use repool::rollout::run::{Until, Workspace};
    let (sim, dir) = account_with_busy_pool("r-step", 3, None).await;
    let policy = RunPolicy {
        poll_interval: Duration::from_millis(20),
        fast_poll_interval: Duration::from_millis(10),
        max_unavailable_nodes: Some(1),
        ..Default::default()
    };
    let client = common::client_for(&sim);
    let workspace = Workspace::new(client, repool::batch::ApiVersion::V2024_07_01, policy, dir.path().to_path_buf());
    let run = workspace.propose_refresh(&["r-step".to_string()]).await.unwrap().start().await.unwrap();
    let id = run.id().to_string();
    let mut prepared = run.prepare(None, None, &[], Until::OneStep).await.unwrap();
    let batches = |workspace: &Workspace| {
        let path = workspace.journal_dir().join(format!("{id}.jsonl"));
        repool::rollout::journal::read(&path).unwrap().pool("r-step").nodes.batches.len()
    };
    let mut seen = vec![batches(&workspace)];
    for _ in 0..20 {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let report = prepared.execute(tx, Default::default()).await;
        seen.push(batches(&workspace));
        if report.status == repool::rollout::report::RunStatus::Done {
            break;
        }
        prepared = workspace.open(&id).unwrap().prepare(None, None, &[], Until::OneStep).await.unwrap();
    }
    assert_eq!(seen.last(), Some(&3), "every node replaced: {seen:?}");
    assert!(seen.windows(2).all(|w| w[1] - w[0] <= 1), "at most one batch per step: {seen:?}");
    assert!(seen.windows(2).filter(|w| w[1] == w[0] + 1).count() == 3, "{seen:?}");
    assert_eq!(wire(&sim, "r-step").target_dedicated_nodes, Some(3));
}

/// The dashboard's `:refresh`: the run driver's refresh proposal, confirmed by typing the pool id.
#[tokio::test]
async fn the_dashboards_refresh_command_proposes_and_is_confirmed_by_typing() {
    use super::tui::{code, demo_app, key, proposed, select, typed};
    use crossterm::event::KeyCode;
    use repool::tui::app::{Command, Dialog};
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "win-test");
    app.update(key(':'));
    typed(&mut app, "refresh");
    let propose = app.update(code(KeyCode::Enter));
    assert!(
        matches!(propose.as_slice(), [Command::RefreshNodes { pools, .. }] if pools == &["win-test"]),
        "{propose:?}"
    );
    proposed(&mut app, &sim, propose).await;
    let Some(Dialog::Confirm { expected, title, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "win-test");
    assert!(title.contains("Refresh"), "{title}");
    typed(&mut app, "win-test");
    let started = app.update(code(KeyCode::Enter));
    assert!(matches!(started.as_slice(), [Command::Start { pools, .. }] if pools == &["win-test"]), "{started:?}");
}

/// A surge the account cannot give (the allocation fails: quota) is said, given back, and the
/// refresh goes on without it: every node still replaced, the pool at its target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_the_quota_refuses_is_said_and_the_refresh_goes_on_without() {
    let (sim, dir) = account_with_busy_pool("r-quota", 2, None).await;
    let key = sim.key().to_string();
    let original = nodes(&sim, "r-quota");
    // The next growing resize (the surge's) fails to allocate.
    let rule = repool::sim::faults::Rule { next: 1, ..Default::default() };
    sim.with_world(|w, _| w.faults.alloc_failure.rules.push(rule));
    let args = ["refresh", "--pool", "r-quota", "--yes", "--surge", "1"];
    let (code, _, err) = repool(dir.path(), &key, &args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("did not give 1 more node(s)") && err.contains("without surge"), "{err}");
    let now = nodes(&sim, "r-quota");
    assert!(original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)), "all replaced: {now:?}");
    assert_eq!(wire(&sim, "r-quota").target_dedicated_nodes, Some(2));
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
    common::repool_command(dir)
        .args(["apply", "--pool", id, "--yes", "--max-unavailable-nodes", "1", "--definition", definition])
        .env("AZURE_BATCH_ACCESS_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
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
    let mut child = spawn_apply(dir.path(), &key, "r-left", &definition);
    common::wait_until("autoscale is held off", || wire(&sim, "r-left").enable_auto_scale == Some(false));
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = repool::rollout::journal::list(&dir.path().join("journal"));
    let id = runs[0].file_stem().unwrap().to_string_lossy().into_owned();
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &id, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("autoscale enabled again"), "{err}");
    let after = wire(&sim, "r-left");
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
            let runs = repool::rollout::journal::list(&dir.path().join("journal"));
            let mut states = runs.iter().filter_map(|p| repool::rollout::journal::read(p).ok());
            let open = states.any(|s| repool::rollout::report::is_resumable(&s));
            let apply = ["apply", "--pool", "r-again", "--yes", "--max-unavailable-nodes", "1", "--definition"];
            let args: Vec<&str> = match (open, runs.is_empty()) {
                (true, _) => vec!["resume", "--yes"],
                (false, true) => [&apply[..], &[definition.as_str()]].concat(),
                (false, false) => break,
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
    // Allocation slow enough (about half a second) for the roll to find the resize in flight.
    sim.with_world(|w, _| w.timings.node_alloc = 1500.0);
    let timeout = Some(repool::batch::BatchDuration::from_secs(3600));
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
