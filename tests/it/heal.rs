//! `repool heal` through the binary against the simulator: failed nodes rebooted after the start
//! task was fixed in place, unusable nodes replaced and the pool sized back (fixed and autoscale),
//! never more than `--max-unavailable-nodes` taken out at once, SIGKILL and resume, bad input.

use crate::common;
use common::{pool_report, repool_with_key as repool, wire};

use repool::batch::models::NodeState;
use repool::sim::RunningSim;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The demo account at speed, with pool `id` of `nodes` dedicated nodes all idle (and, with
/// `formula`, autoscaled by it).
async fn account_with_pool(id: &str, nodes: u32, formula: Option<&str>) -> (RunningSim, tempfile::TempDir) {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body = common::pool_body(id, nodes);
    if let Some(formula) = formula {
        body.as_object_mut().unwrap().remove("targetDedicatedNodes");
        body["enableAutoScale"] = true.into();
        body["autoScaleFormula"] = formula.into();
        body["autoScaleEvaluationInterval"] = "PT5M".into();
    }
    common::client_for(&sim).add_pool(&body).await.unwrap();
    common::wait_until("the pool's nodes are idle", || {
        states(&sim, id).iter().filter(|s| **s == NodeState::Idle).count() == nodes as usize
    });
    (sim, dir)
}

/// The state of each node in pool `id` now.
fn states(sim: &RunningSim, id: &str) -> Vec<NodeState> {
    sim.with_world(|w, now| {
        let pool = w.find(id).unwrap();
        pool.visible_nodes(now).map(|n| pool.node_state(n, now)).collect()
    })
}

/// Nodes of pool `id` in place at `now`: in the pool and not rebooting, starting or leaving.
fn in_place(world: &repool::sim::world::World, id: &str, now: f64) -> usize {
    let pool = world.find(id).unwrap();
    let out = |s: &NodeState| {
        matches!(
            s,
            NodeState::Rebooting
                | NodeState::Starting
                | NodeState::WaitingForStartTask
                | NodeState::Creating
                | NodeState::LeavingPool
        )
    };
    pool.visible_nodes(now).filter(|n| !out(&pool.node_state(n, now))).count()
}

/// Makes one node of pool `id` unusable; returns its id.
fn make_unusable(sim: &RunningSim, id: &str) -> String {
    sim.with_world(|w, _| {
        let node = &mut w.find_mut(id).unwrap().nodes[0];
        node.unusable = true;
        node.id.clone()
    })
}

/// Samples, until dropped, the fewest nodes of `id` in place (from the simulator's own nodes).
struct Sampler {
    low: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Reads the simulator's nodes as they are at each instant, without advancing its world.
    fn start(sim: &RunningSim, id: &str) -> Sampler {
        let (low, stop) = (Arc::new(AtomicUsize::new(usize::MAX)), Arc::new(AtomicBool::new(false)));
        let (state, id, l, s) = (sim.state.clone(), id.to_string(), low.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let now = state.clock.lock().unwrap().now();
                l.fetch_min(in_place(&state.world.lock().unwrap(), &id, now), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(300));
            }
        });
        Sampler { low, stop, thread: Some(thread) }
    }

    fn lowest(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.low.load(Ordering::Relaxed)
    }
}

/// The operator's story: a start task that fails on every node is fixed with `apply --no-roll`
/// (patched only: the nodes keep the old one, so the health gate says unhealthy), then `heal` reboots every node
/// a node at a time: all idle with the new start task, the pool's creation time and targets as
/// they were, and never more than one node out at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_after_an_in_place_fix_brings_every_node_back_one_at_a_time() {
    let (sim, dir) = account_with_pool("h-fix", 4, None).await;
    let key = sim.key().to_string();
    common::fail_start_tasks(&sim, "h-fix");
    assert!(states(&sim, "h-fix").iter().all(|s| *s == NodeState::StartTaskFailed));
    let (code, out, err) = repool(dir.path(), &key, &["export", "--pool", "h-fix"]);
    assert_eq!(code, 0, "{err}");
    let mut definition: Value = serde_json::from_str(&out).unwrap();
    definition["h-fix"]["startTask"] =
        serde_json::json!({"commandLine": "/bin/sh -c 'echo fixed'", "waitForSuccess": true});
    let path = dir.path().join("fixed.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let (code, _, err) = repool(
        dir.path(),
        &key,
        &["apply", "--pool", "h-fix", "--yes", "--no-roll", "--definition", path.to_str().unwrap()],
    );
    assert_eq!(code, 1, "patched only (--no-roll), the nodes keep the failing start task: {err}");
    assert!(err.contains("unhealthy"), "{err}");
    let journals = repool::rollout::journal::list(&dir.path().join("journal"));
    let run = journals[0].file_stem().unwrap().to_string_lossy().into_owned();
    // The failed apply says why and what to type next; three nodes by name, not all four.
    let next =
        format!("only when they restart: close this run (`repool abandon {run}`), then `repool heal --pool h-fix`");
    assert!(err.contains(&next), "{err}");
    assert!(err.contains("and 1 more (`repool nodes --pool h-fix`)"), "{err}");
    // The apply run holds the pool until it is closed: heal names it and the command, changes nothing.
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-fix", "--yes"]);
    assert_eq!(code, 2, "{err}");
    let refusal =
        format!("held by unfinished run {run} (unhealthy in wait-healthy): close it with `repool abandon {run}`");
    assert!(err.contains(&refusal) && !err.contains("repool resume"), "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &run, "--yes"]);
    assert_eq!(code, 0, "{run}: {err}");

    let (before, created) = (wire(&sim, "h-fix"), sim.stats().pools_created);
    let sampler = Sampler::start(&sim, "h-fix");
    let (code, out, err) =
        repool(dir.path(), &key, &["heal", "--pool", "h-fix", "--yes", "--json", "--max-unavailable-nodes", "1"]);
    let lowest = sampler.lowest();
    assert_eq!(code, 0, "{err}");
    // A reboot keeps a node out for tens of milliseconds at this speed: the sampler sees each.
    assert_eq!(lowest, 3, "one node out at a time, never more; {lowest} of 4 were in place at the lowest");
    assert!(states(&sim, "h-fix").iter().all(|s| *s == NodeState::Idle), "{:?}", states(&sim, "h-fix"));
    let after = wire(&sim, "h-fix");
    assert_eq!(after.creation_time, before.creation_time, "the pool is the same pool");
    assert_eq!((after.target_dedicated_nodes, after.current_dedicated_nodes), (Some(4), Some(4)));
    let report: Value = serde_json::from_str(&out).unwrap();
    let pool = pool_report(&report, "h-fix");
    assert_eq!(pool["status"], "healed", "{pool}");
    let nodes = pool["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4, "{pool}");
    assert!(nodes.iter().all(|n| n["actions"] == serde_json::json!(["reboot"]) && n["outcome"] == "healthy"), "{pool}");
    assert_eq!(sim.stats().pools_created, created, "no pool created");
    assert!(err.contains("batch 4 (at most 1 at once): reboot"), "each batch is said: {err}");
}

/// An unusable node is removed and the pool sized back: to its targets for a fixed pool, by its
/// own formula (never taken away) for an autoscale pool. The healthy nodes are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_node_is_replaced_and_the_pool_is_back_at_its_targets() {
    for formula in [None, Some("$TargetDedicatedNodes = 3;")] {
        let (sim, dir) = account_with_pool("h-gone", 3, formula).await;
        let key = sim.key().to_string();
        let broken = make_unusable(&sim, "h-gone");
        let others: Vec<String> =
            sim.with_world(|w, _| w.find("h-gone").unwrap().nodes.iter().skip(1).map(|n| n.id.clone()).collect());
        let before = wire(&sim, "h-gone");
        let (code, out, err) = repool(dir.path(), &key, &["heal", "--pool", "h-gone", "--yes", "--json"]);
        assert_eq!(code, 0, "{formula:?}: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        let nodes = &pool_report(&report, "h-gone")["nodes"];
        assert_eq!(nodes, &serde_json::json!([{"node": broken, "actions": ["remove"], "outcome": "removed"}]));
        let after = wire(&sim, "h-gone");
        assert_eq!(after.creation_time, before.creation_time);
        assert_eq!((after.target_dedicated_nodes, after.current_dedicated_nodes), (Some(3), Some(3)), "{formula:?}");
        assert_eq!(after.auto_scale_formula.as_deref(), formula, "autoscale keeps its formula");
        let ids: Vec<String> =
            sim.with_world(|w, now| w.find("h-gone").unwrap().visible_nodes(now).map(|n| n.id.clone()).collect());
        assert!(!ids.contains(&broken) && others.iter().all(|o| ids.contains(o)), "{ids:?}");
        assert!(states(&sim, "h-gone").iter().all(|s| *s == NodeState::Idle));
        assert_eq!(sim.stats().tasks_killed_by_node_ops + sim.stats().tasks_killed_by_resize, 0);
    }
}

/// A heal stopped between removing a node and sizing the pool back leaves it a target short:
/// abandoning that run says so, from the account as it is, and how to give the target back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoning_a_heal_that_removed_a_node_names_the_missing_target() {
    let (sim, dir) = account_with_pool("h-short", 3, None).await;
    let key = sim.key().to_string();
    make_unusable(&sim, "h-short");
    // The resize back fails (and fails again when retried): the run stops after its removal.
    sim.set_faults(repool::sim::faults::Faults::parse("401@resize-pool=50x").unwrap());
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-short", "--yes"]);
    assert_eq!(code, 1, "{err}");
    sim.set_faults(repool::sim::faults::Faults::default());
    assert_eq!(wire(&sim, "h-short").target_dedicated_nodes, Some(2), "removenodes lowered the target");
    let journals = repool::rollout::journal::list(&dir.path().join("journal"));
    let run = journals[0].file_stem().unwrap().to_string_lossy().into_owned();
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &run, "--yes"]);
    assert_eq!(code, 0, "{err}");
    let warning = "'h-short' is below the targets it had before the run: 2 dedicated, 0 low-priority (before: 3, 0); \
                   resize it back (the dashboard's `z` on the pool, or `az batch pool resize --pool-id h-short \
                   --target-dedicated-nodes 3 --target-low-priority-nodes 0`)";
    assert!(err.contains(warning), "{err}");
}

/// SIGKILL at several instants of a heal (reboots and a replacement), then `resume` until done:
/// every node healthy, the pool's targets and creation time intact, the run closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_killed_at_any_instant_and_resumed_ends_healed() {
    let trials = common::env_number("REPOOL_HEAL_TRIALS", 6);
    let seed = common::env_number("REPOOL_HEAL_SEED", 20261224);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut killed = 0;
    for trial in 0..trials {
        // A heal of 4 nodes in batches of 2 journals about 10 lines (start, nodes found, two
        // batches, the steps, the end); the extra delay lands inside calls and waits.
        let (line, extra) = (rng.usize(1..10), Duration::from_millis(rng.u64(0..20)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {line} + {extra:?})");
        let (sim, dir) = account_with_pool("h-kill", 4, None).await;
        let key = sim.key().to_string();
        common::fail_start_tasks(&sim, "h-kill");
        sim.with_world(|w, _| {
            let pool = w.find_mut("h-kill").unwrap();
            pool.wire.rest.insert("startTask".into(), serde_json::json!({"commandLine": "/bin/sh -c 'echo fixed'"}));
            pool.nodes[3].unusable = true;
        });
        let before = wire(&sim, "h-kill");
        let mut first = common::spawn_repool(
            dir.path(),
            &key,
            &["heal", "--pool", "h-kill", "--yes", "--max-unavailable-nodes", "2"],
        );
        if common::kill_at_journal_line(&mut first, dir.path(), line, extra, &context).await {
            killed += 1;
        }
        for attempt in 0..3 {
            let args: &[&str] = match common::runs_left(dir.path()) {
                (true, _) => &["resume", "--yes"],
                (false, false) => &["heal", "--pool", "h-kill", "--yes"],
                (false, true) => break,
            };
            let (code, _, err) = repool(dir.path(), &key, args);
            assert!(
                attempt < 2 || code == 0,
                "{context}: {args:?} failed: {err}\n{}",
                common::journal_text(dir.path())
            );
        }
        let after = wire(&sim, "h-kill");
        assert_eq!(after.creation_time, before.creation_time, "{context}");
        assert_eq!(after.target_dedicated_nodes, Some(4), "{context}: targets intact");
        common::wait_until("the pool settles", || {
            wire(&sim, "h-kill").current_dedicated_nodes == Some(4) || states(&sim, "h-kill").len() == 4
        });
        assert!(
            states(&sim, "h-kill").iter().all(|s| *s == NodeState::Idle),
            "{context}: {:?}",
            states(&sim, "h-kill")
        );
    }
    println!("{trials} trials (seed {seed}): {killed} killed in the middle of a heal");
}

/// Only the chosen pool is touched; a pool with no failed node is nothing to do (exit 0); an
/// unknown pool and a bad flag are bad input (exit 2) with what to do, nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_touches_only_the_chosen_pool_and_refuses_bad_input() {
    let (sim, dir) = account_with_pool("h-one", 2, None).await;
    let key = sim.key().to_string();
    common::client_for(&sim).add_pool(&common::pool_body("h-two", 2)).await.unwrap();
    common::wait_until("h-two is up", || states(&sim, "h-two").iter().filter(|s| **s == NodeState::Idle).count() == 2);
    for id in ["h-one", "h-two"] {
        common::fail_start_tasks(&sim, id);
        sim.with_world(|w, _| {
            w.find_mut(id).unwrap().wire.rest.insert("startTask".into(), serde_json::json!({"commandLine": "echo ok"}));
        });
    }
    let boots =
        |id: &str| sim.with_world(|w, _| w.find(id).unwrap().nodes.iter().map(|n| n.booted_at).collect::<Vec<f64>>());
    let untouched = boots("h-two");
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-one", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(states(&sim, "h-one").iter().all(|s| *s == NodeState::Idle));
    assert_eq!(boots("h-two"), untouched, "the pool outside the selection was not touched");
    assert!(states(&sim, "h-two").iter().all(|s| *s == NodeState::StartTaskFailed));

    let calls = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-one", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("h-one: no failed node") && err.contains("nothing to do"), "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-onee", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'h-onee' is not in the account") && err.contains("h-one"), "did you mean: {err}");
    let (code, _, err) =
        repool(dir.path(), &key, &["heal", "--pool", "h-two", "--yes", "--max-unavailable-nodes", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-unavailable-nodes must be at least 1"), "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["heal", "--pool", "h-two", "--yes", "--readonly"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(common::mutating_calls(&sim), calls, "nothing changed");
    assert_eq!(boots("h-two"), untouched);
}

/// The dashboard's `H`: the run driver's heal proposal (which nodes, how many at once) is the
/// confirmation, typed to start; the run's choices carry the node bound.
#[tokio::test]
async fn the_dashboards_heal_key_proposes_the_failed_nodes_and_is_confirmed_by_typing() {
    use super::tui::{code, demo_app, proposed, select, typed};
    use crossterm::event::KeyCode;
    use repool::tui::app::{Command, Dialog};
    let (mut app, sim) = demo_app(false).await;
    common::fail_start_tasks(&sim, "win-test");
    select(&mut app, "win-test");
    let propose = app.update(super::tui::key('H'));
    assert!(matches!(propose.as_slice(), [Command::Heal { pools, .. }] if pools == &["win-test"]), "{propose:?}");
    assert!(app.dialog.is_none(), "the run driver reads the nodes first");
    proposed(&mut app, &sim, propose).await;
    let Some(Dialog::Confirm { expected, lines, title, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "win-test");
    assert!(title.contains("Heal"), "{title}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("win-test: 1 failed node(s), at most 1 at once: ") && l.contains("starttaskfailed")),
        "{lines:?}"
    );
    typed(&mut app, "win-test");
    let started = app.update(code(KeyCode::Enter));
    assert!(matches!(started.as_slice(), [Command::Start { pools, .. }] if pools == &["win-test"]), "{started:?}");
    assert!(app.run_active);
    assert!(app.update(super::tui::key('H')).is_empty(), "one run at a time");
}
