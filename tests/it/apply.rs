//! `repool apply` through the binary against the simulated demo account: the least disruptive
//! change per pool, from a definition `repool export` wrote (as a newcomer would start), and
//! SIGKILL at random instants of a rebuild, then resume.

use crate::common;

use repool::sim::RunningSim;
use serde_json::Value;
use std::time::Duration;

/// `repool export` of `pools`, edited by `edit`, written next to the config: the definition to apply.
fn exported(dir: &std::path::Path, key: &str, pools: &[&str], edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut args = vec!["export"];
    for pool in pools {
        args.extend(["--pool", pool]);
    }
    let output = common::repool_command(dir).args(&args).env("AZURE_BATCH_ACCESS_KEY", key).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut definition: Value = serde_json::from_slice(&output.stdout).unwrap();
    edit(&mut definition);
    let path = dir.join("pools.applied.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    path
}

fn apply(dir: &std::path::Path, key: &str, definition: &std::path::Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["apply", "--yes", "--json", "--definition", definition.to_str().unwrap()];
    args.extend(extra);
    let output = common::repool_command(dir).args(&args).env("AZURE_BATCH_ACCESS_KEY", key).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), report, stderr)
}

fn node_ids(sim: &RunningSim, id: &str) -> Vec<String> {
    sim.with_world(|world, _| world.find(id).unwrap().nodes.iter().map(|n| n.id.clone()).collect())
}

fn wire(sim: &RunningSim, id: &str) -> repool::batch::Pool {
    sim.with_world(|world, _| world.find(id).unwrap().wire.clone())
}

fn status_of<'a>(report: &'a Value, id: &str) -> &'a str {
    report["pools"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["status"].as_str().unwrap()
}

/// Only metadata differs: one PATCH, no drain; creation time and nodes as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_change_is_applied_in_place_without_touching_nodes() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition = exported(dir.path(), &key, &["p-ingest"], |d| {
        d["p-ingest"]["metadata"] = serde_json::json!([{"name": "owner", "value": "ingest-team"}]);
    });
    let plan = common::repool_command(dir.path())
        .args(["plan", "--json", "--definition", definition.to_str().unwrap()])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        (plan["pools"][0]["applyStrategy"].as_str(), plan["pools"][0]["applyWhy"].as_str()),
        (Some("in-place"), Some("metadata change at any time"))
    );
    let (before, nodes) = (wire(&sim, "p-ingest"), node_ids(&sim, "p-ingest"));
    let mutating = common::mutating_calls(&sim);
    let (code, report, err) = apply(dir.path(), &key, &definition, &["--pool", "p-ingest"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("p-ingest: in place (metadata change at any time)"), "the plan says how and why: {err}");
    assert_eq!(status_of(&report, "p-ingest"), "updated");
    let after = wire(&sim, "p-ingest");
    assert_eq!(after.creation_time, before.creation_time, "the same pool");
    assert_eq!(node_ids(&sim, "p-ingest"), nodes, "its nodes untouched");
    assert_eq!(after.rest["metadata"][0]["value"], "ingest-team");
    assert_eq!(common::mutating_calls(&sim) - mutating, 1, "one PATCH: {:?}", sim.stats().requests);
    let (code, _, err) = apply(dir.path(), &key, &definition, &["--pool", "p-ingest"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to do"), "applied again, nothing is left to do: {err}");
    // A pause after a step the pool's chain lacks is refused before anything starts.
    let rebuilt = exported(dir.path(), &key, &["p-ingest"], |d| d["p-ingest"]["vmSize"] = "standard_d8s_v3".into());
    let (code, _, err) = apply(dir.path(), &key, &rebuilt, &["--pool", "p-ingest", "--until", "delete"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--until delete: the change of p-ingest (rebuild when empty) has no such step"), "{err}");
}

/// The VM size changes only on an empty pool: drained with taskcompletion, patched, scaled back,
/// healthy — the demo's pool with a managed identity keeps it, and its creation time; nothing is
/// created, no task killed, and the new nodes have the new size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_size_change_rebuilds_the_pool_keeping_its_identity() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition =
        exported(dir.path(), &key, &["reporting"], |d| d["reporting"]["vmSize"] = "standard_d4s_v3".into());
    let before = wire(&sim, "reporting");
    assert!(before.rest["identity"].is_object(), "the demo's reporting pool has a managed identity");
    let (code, report, err) = apply(dir.path(), &key, &definition, &["--pool", "reporting"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("reporting: rebuild when empty (vmSize change only on an empty pool)"), "{err}");
    assert_eq!(status_of(&report, "reporting"), "updated");
    let after = wire(&sim, "reporting");
    assert_eq!(after.creation_time, before.creation_time, "never deleted");
    assert_eq!(after.rest["identity"], before.rest["identity"], "identity kept");
    assert_eq!(after.vm_size.as_deref(), Some("standard_d4s_v3"));
    assert!(after.is_steady() && after.current_dedicated_nodes == before.target_dedicated_nodes, "{after:?}");
    let nodes = common::client_for(&sim).list_nodes("reporting", None).await.unwrap();
    assert!(!nodes.is_empty() && nodes.iter().all(|n| n.vm_size.as_deref() == Some("standard_d4s_v3")));
    let stats = sim.stats();
    assert_eq!((stats.pools_created, stats.tasks_killed_by_resize + stats.tasks_killed_by_delete), (0, 0));
    let journal = common::journal_text(dir.path());
    assert!(journal.contains("\"strategy\":\"rebuild\"") && !journal.contains("\"step\":\"delete\""), "{journal}");
    assert_eq!(plan_exit(dir.path(), &key, &definition), 0, "the pool now matches its definition (resize timeout too)");
}

fn plan_exit(dir: &std::path::Path, key: &str, definition: &std::path::Path) -> i32 {
    let output = common::repool_command(dir)
        .args(["plan", "--definition", definition.to_str().unwrap()])
        .env("AZURE_BATCH_ACCESS_KEY", key)
        .output()
        .unwrap();
    output.status.code().unwrap_or(-1)
}

/// What the api-version in use cannot patch falls back to recreation, with every protection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_patched_is_recreated() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition = exported(dir.path(), &key, &["p-ingest"], |d| d["p-ingest"]["vmSize"] = "standard_d8s_v3".into());
    let before = wire(&sim, "p-ingest");
    let old = ["--pool", "p-ingest", "--api-version", "2024-07-01.20.0"];
    let (code, report, err) = apply(dir.path(), &key, &definition, &old);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("p-ingest: recreate (only a new pool can change vmSize)"), "{err}");
    assert_eq!(status_of(&report, "p-ingest"), "recreated");
    let after = wire(&sim, "p-ingest");
    assert_ne!(after.creation_time, before.creation_time, "a new pool");
    assert_eq!(after.vm_size.as_deref(), Some("standard_d8s_v3"));
    assert_eq!(sim.stats().pools_created, 1);
}

/// The unfinished run holding `pool`, if any.
fn holding_run(dir: &std::path::Path, pool: &str) -> Option<String> {
    repool::rollout::journal::list(&dir.join("journal"))
        .iter()
        .filter_map(|p| repool::rollout::journal::read(p).ok())
        .find(|s| !s.is_closed() && s.pending().iter().any(|(id, _)| id == pool))
        .map(|s| s.run)
}

/// SIGKILL at a random journal line of a rebuild (drain, backup, patch, scale, health gate), then
/// resume until done: whenever the pool stands at 0 targets, an unfinished run holds it and says
/// where it resumes; at the end it is rebuilt once, never deleted, its identity and creation time kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_rebuild_then_resume_finishes_it() {
    let trials = common::env_number("REPOOL_TORTURE_TRIALS", 8);
    let seed = common::env_number("REPOOL_TORTURE_SEED", 20261201);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut killed = 0;
    for trial in 0..trials {
        // A rebuild of one pool journals about 24 lines.
        let (line, extra) = (rng.usize(1..24), Duration::from_millis(rng.u64(0..20)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {line} + {extra:?})");
        let (sim, dir) = common::fast_demo_with_config().await;
        let key = sim.key().to_string();
        let definition =
            exported(dir.path(), &key, &["reporting"], |d| d["reporting"]["vmSize"] = "standard_d4s_v3".into());
        let before = wire(&sim, "reporting");
        let args = ["apply", "--pool", "reporting", "--yes", "--definition", definition.to_str().unwrap()];
        let mut first = common::spawn_repool(dir.path(), &key, &args);
        if common::kill_at_journal_line(&mut first, dir.path(), line, extra, &context).await {
            killed += 1;
        }
        for attempt in 0..3 {
            let pool = wire(&sim, "reporting");
            let at_zero = pool.target_dedicated_nodes == Some(0) && !pool.autoscale();
            let run = holding_run(dir.path(), "reporting");
            assert!(!at_zero || run.is_some(), "{context}: the pool stands at 0 targets and no run says so");
            let args: &[&str] = match (&run, common::journal_lines(dir.path())) {
                (Some(_), _) => &["resume", "--yes"],
                (None, 0) => &args,
                (None, _) => break,
            };
            let output =
                common::repool_command(dir.path()).args(args).env("AZURE_BATCH_ACCESS_KEY", &key).output().unwrap();
            assert!(
                attempt < 2 || output.status.success(),
                "{context}: {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let after = wire(&sim, "reporting");
        assert_eq!(after.creation_time, before.creation_time, "{context}: never deleted");
        assert_eq!(after.rest["identity"], before.rest["identity"], "{context}: identity kept");
        assert_eq!(after.vm_size.as_deref(), Some("standard_d4s_v3"), "{context}");
        assert!(
            after.is_steady() && after.target_dedicated_nodes == before.target_dedicated_nodes,
            "{context}: {after:?}"
        );
        let stats = sim.stats();
        assert_eq!(stats.pools_created, 0, "{context}: nothing created");
        assert_eq!(stats.tasks_killed_by_resize + stats.tasks_killed_by_delete, 0, "{context}: no task killed");
        assert!(holding_run(dir.path(), "reporting").is_none(), "{context}: the run is finished");
        assert_eq!(plan_exit(dir.path(), &key, &definition), 0, "{context}: the pool matches its definition");
    }
    println!("{trials} trials (seed {seed}): {killed} killed in the middle of a rebuild");
}

/// A rebuild whose new spec fails the health gate, with `--on-unhealthy rollback`: drained again,
/// patched back to the pre-run backup, scaled as it was — the same pool (creation time, identity)
/// with its old size and start task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rebuild_rolls_back_to_the_pre_run_spec_in_place() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition = exported(dir.path(), &key, &["reporting"], |d| {
        d["reporting"]["vmSize"] = "standard_d4s_v3".into();
        d["reporting"]["startTask"] =
            serde_json::json!({"commandLine": "/bin/bash -c 'exit 3'", "waitForSuccess": true});
    });
    let before = wire(&sim, "reporting");
    let (code, report, err) =
        apply(dir.path(), &key, &definition, &["--pool", "reporting", "--on-unhealthy", "rollback"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(status_of(&report, "reporting"), "rolled-back", "{report:#}");
    let after = wire(&sim, "reporting");
    assert_eq!(after.creation_time, before.creation_time, "the same pool throughout");
    assert_eq!(after.rest["identity"], before.rest["identity"]);
    assert_eq!(after.vm_size, before.vm_size, "its size as before the run");
    assert_eq!(after.rest.get("startTask"), before.rest.get("startTask"), "its start task as before the run");
    assert!(after.is_steady() && after.target_dedicated_nodes == before.target_dedicated_nodes, "{after:?}");
    assert_eq!(sim.stats().pools_created, 0);
    let journal = common::journal_text(dir.path());
    for step in ["rollback-drain", "rollback-patch", "rollback-scale", "rollback-wait-ready"] {
        assert!(journal.contains(&format!("\"step\":\"{step}\"")), "{step} journaled: {journal}");
    }
}

/// A rebuild that needs two requests (the PATCH, then updateproperties to drop the start task),
/// interrupted between them: the resume sees the PATCH done, finishes with updateproperties (no
/// ETag guard refuses the run's own change), and the pool ends as defined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_interrupted_between_its_two_requests_resumes_to_the_end() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    sim.with_world(|world, _| {
        let start = serde_json::json!({"commandLine": "/bin/bash -c 'echo old'", "waitForSuccess": true});
        world.find_mut("reporting").unwrap().wire.rest.insert("startTask".into(), start);
    });
    let definition = exported(dir.path(), &key, &["reporting"], |d| {
        d["reporting"].as_object_mut().unwrap().remove("startTask");
        d["reporting"]["vmSize"] = "standard_d4s_v3".into();
    });
    let before = wire(&sim, "reporting");
    let (code, _, err) = apply(dir.path(), &key, &definition, &["--pool", "reporting", "--until", "backup"]);
    assert_eq!(code, 0, "{err}");
    // The first request went through, then the process died.
    sim.with_world(|world, _| {
        let tag = world.next_etag();
        let pool = &mut world.find_mut("reporting").unwrap().wire;
        assert_eq!(pool.current_dedicated_nodes, Some(0), "paused after the backup, drained");
        pool.vm_size = Some("standard_d4s_v3".into());
        pool.e_tag = Some(tag);
    });
    let output = common::repool_command(dir.path())
        .args(["resume", "--yes"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = wire(&sim, "reporting");
    assert_eq!(after.creation_time, before.creation_time);
    assert_eq!(after.vm_size.as_deref(), Some("standard_d4s_v3"));
    assert!(after.rest.get("startTask").is_none(), "the start task is gone: {:?}", after.rest.get("startTask"));
    assert!(after.is_steady() && after.target_dedicated_nodes == before.target_dedicated_nodes);
    assert_eq!(plan_exit(dir.path(), &key, &definition), 0);
}

/// apply's refusals speak of what apply does: a mistyped pool gets the nearest name, and a rebuild
/// resumed without a body says it cannot patch (a rebuild deletes nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refusals_are_worded_for_apply() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition = exported(dir.path(), &key, &["reporting"], |d| {
        d["reporting"]["vmSize"] = "standard_d4s_v3".into();
    });
    let (code, _, err) = apply(dir.path(), &key, &definition, &["--pool", "reportnig"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("(did you mean 'reporting'?); apply changes only pools the definition describes"), "{err}");
    assert!(!err.contains("recreate"), "{err}");
    let (code, _, err) = apply(dir.path(), &key, &definition, &["--pool", "reporting", "--until", "backup"]);
    assert_eq!(code, 0, "{err}");
    let before = common::mutating_calls(&sim);
    let example = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    let output = common::repool_command(dir.path())
        .args(["resume", "--yes", "--definition", &example, "--create-from", "definition"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("lacks the definition to patch every pool it would change") && !err.contains("delete"),
        "{err}"
    );
    assert_eq!(common::mutating_calls(&sim), before, "refusals change nothing");
}

/// A start task changed in place reaches only nodes that start after the PATCH: plan and apply say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_task_changed_in_place_says_existing_nodes_keep_the_old_one() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let definition = exported(dir.path(), &key, &["p-ingest"], |d| {
        d["p-ingest"]["startTask"] = serde_json::json!({"commandLine": "/bin/sh -c 'echo v2'", "waitForSuccess": true});
    });
    let note = "note: nodes already in p-ingest keep the old start task until they reboot or are replaced";
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["plan", "--definition", definition.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 4, "{err}");
    assert!(out.contains("all of which Batch can apply in place") && out.contains(note), "{out}");
    let (code, report, err) = apply(dir.path(), &key, &definition, &["--pool", "p-ingest"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(note), "{err}");
    assert_eq!(status_of(&report, "p-ingest"), "updated");
}

/// `upgradePolicy` is carried whole: exported, planned (changed only on an empty pool under
/// 2025-06-01, so a rebuild), applied, and the pool has the new policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_policy_is_exported_planned_and_applied() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let mut body = common::pool_body("upg", 1);
    body["virtualMachineConfiguration"]["imageReference"]["version"] = "latest".into();
    body["upgradePolicy"] = serde_json::json!({"mode": "automatic",
        "automaticOSUpgradePolicy": {"enableAutomaticOSUpgrade": true, "disableAutomaticRollback": true}});
    common::client_for(&sim).add_pool(&body).await.unwrap();
    let definition = exported(dir.path(), &key, &["upg"], |d| {
        assert_eq!(d["upg"]["upgradePolicy"], body["upgradePolicy"], "exported whole: {d}");
        d["upg"]["upgradePolicy"] = serde_json::json!({"mode": "manual"});
    });
    let (code, report, err) = apply(dir.path(), &key, &definition, &["--pool", "upg"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("upg: rebuild when empty (upgradePolicy change only on an empty pool)"), "{err}");
    assert_eq!(status_of(&report, "upg"), "updated", "{report}");
    assert_eq!(wire(&sim, "upg").rest["upgradePolicy"], serde_json::json!({"mode": "manual"}));
    let plan = common::repool_command(dir.path())
        .args(["plan", "--definition", definition.to_str().unwrap(), "--pool", "upg"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&plan.stdout).contains("upg: unchanged"), "{plan:?}");
    // Before 2025-06-01 no PATCH takes it: the pool is recreated with it.
    let back = exported(dir.path(), &key, &["upg"], |d| d["upg"]["upgradePolicy"] = body["upgradePolicy"].clone());
    let (code, report, err) = apply(dir.path(), &key, &back, &["--pool", "upg", "--api-version", "2024-07-01.20.0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(status_of(&report, "upg"), "recreated", "{report}\n{err}");
    assert_eq!(wire(&sim, "upg").rest["upgradePolicy"], body["upgradePolicy"]);
}
