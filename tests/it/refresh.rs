//! `repool refresh` through the binary against the simulator: every node of fixed and autoscale
//! pools replaced a batch at a time (capacity sampled throughout), with and without surge (a
//! surge the quota refuses, a surge of the whole pool), `--max-unavailable` across pools, SIGKILL
//! and resume or abandon, step-through and the dashboard's `:refresh`.

use crate::common;
use crate::common::capacity::CapacitySampler;
use crate::roll::{account_with_busy_pool, kill_once_held_then_abandon, killed, nodes, usable};
use common::{pool_report, repool_with_key as repool, wire};

use serde_json::{Value, json};
use std::time::Duration;

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
        let mut first = common::spawn_repool(
            dir.path(),
            &key,
            &["refresh", "--pool", "r-kill", "--yes", "--max-unavailable-nodes", "1"],
        );
        common::kill_at_journal_line(&mut first, dir.path(), line, extra, &context).await;
        for attempt in 0..3 {
            let args: &[&str] = match common::runs_left(dir.path()) {
                (true, _) => &["resume", "--yes"],
                (false, false) => &["refresh", "--pool", "r-kill", "--yes", "--max-unavailable-nodes", "1"],
                (false, true) => break,
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
    let child = common::spawn_repool(dir.path(), &key, &args);
    kill_once_held_then_abandon(&sim, dir.path(), &key, "r-gone", child, formula);
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

/// A node whose task outlasts the service's default resize timeout (15 minutes) is still replaced:
/// the removal carries the drain's timeout, so the service does not give up on it and keep the
/// node while the run counts it replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_replaces_nodes_whose_tasks_outlast_the_default_resize_timeout() {
    let (sim, dir) = account_with_busy_pool("r-long", 2, None).await;
    let config = dir.path().join("repool/config.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("resize_timeout = \"PT60M\"\n", "");
    std::fs::write(&config, text).unwrap();
    sim.with_world(|w, _| {
        w.find_mut("r-long").unwrap().workload = Some(repool::sim::world::Workload { task_seconds: 1800.0 })
    });
    common::tasks_just_began(&sim, "r-long");
    let original = nodes(&sim, "r-long");
    let args = ["refresh", "--pool", "r-long", "--yes", "--json", "--max-unavailable-nodes", "2"];
    let (code, _, err) = repool(dir.path(), sim.key(), &args);
    assert_eq!(code, 0, "{err}");
    let now = nodes(&sim, "r-long");
    assert!(
        original.iter().all(|(id, ..)| now.iter().all(|(n, ..)| n != id)),
        "all replaced: {original:?} {now:?}\n{err}"
    );
    assert_eq!(killed(&sim), 0);
}
