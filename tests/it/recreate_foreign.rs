//! Runs among others' pools and lost answers: a pool someone else made under our id is never
//! claimed, drained or rolled back; an answer lost or a list that leaves a pool out is judged by
//! the pool itself.

use super::recreate::{Harness, policy, run_json, wire};
use crate::common;
use repool::definition::EXAMPLE;
use repool::rollout::journal::Record;
use repool::rollout::policy::{DrainTimeoutPolicy, RunPolicy};
use repool::rollout::report::PoolStatus;
use repool::rollout::step::Step;
use repool::sim::faults::Faults;

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_recognised_as_ours() {
    let h = Harness::new().await;
    let first = h.run(&["p-render"], Some(Step::WaitGone), policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(first.pools[0].status, PoolStatus::Paused);
    // The crash came after the POST reached the service but before the journal said so.
    h.journal(&first.run_id, Record::StepStarted { pool: "p-render".into(), step: Step::Create }).await;
    h.client.add_pool(&h.definition.pool("p-render").unwrap().body).await.unwrap();
    let resumed = h.resume(&first.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(resumed.pools[0].status, PoolStatus::Recreated, "{resumed:#?}");
    let create = resumed.pools[0].steps.iter().find(|s| s.step == Step::Create).unwrap();
    assert!(create.detail.as_ref().unwrap().contains("already created"), "{create:?}");
    assert_eq!(h.sim.stats().pools_created, 1);
}

#[tokio::test]
async fn someone_elses_pool_with_the_same_id_is_left_alone() {
    let h = Harness::new().await;
    let first = h.run(&["p-render"], Some(Step::WaitGone), policy(DrainTimeoutPolicy::Fail, 60)).await;
    h.client.add_pool(&common::pool_body("p-render", 1)).await.unwrap();
    let resumed = h.resume(&first.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(resumed.pools[0].status, PoolStatus::Failed);
    assert!(
        resumed.pools[0].error.as_ref().unwrap().contains("this run did not create"),
        "{:?}",
        resumed.pools[0].error
    );
}

/// List answers that leave the draining pool out (pages shift while pools come and go) are
/// never taken for its absence: a direct read decides, the pool is really recreated and ends
/// at its targets — not "recreated" while the drained old pool sits at 0/0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_answer_that_leaves_the_pool_out_is_not_its_absence() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let before = wire(&sim, "p-ingest").unwrap();
    sim.set_faults(Faults::parse("omit=0.6,omit-pool=p-ingest").unwrap());
    let (code, report, err) = run_json(dir.path(), &key, &["recreate", "--pool", "p-ingest"]);
    sim.set_faults(Faults::default());
    assert_eq!(code, 0, "{err}");
    let omitted = sim.stats().requests.get("GET list pools omitted a pool").copied().unwrap_or(0);
    assert!(omitted > 0, "the fault struck: {:?}", sim.stats().requests);
    let pool = &report["pools"][0];
    assert_eq!(pool["status"], "recreated", "{report:#}");
    assert_eq!((pool["target"].as_u64(), pool["healthy"].as_u64()), (Some(4), Some(4)), "{report:#}");
    let after = wire(&sim, "p-ingest").unwrap();
    assert!(after.creation_time > before.creation_time, "a new pool: {after:?}");
    assert_eq!((after.target_dedicated_nodes, after.target_low_priority_nodes), (Some(2), Some(2)));
    assert_eq!(after.current_nodes(), 4, "at its targets");
}

/// During the drain a second operator deletes the pool and creates another with its id: repool
/// says so, and the rollback never starts on the pool it did not create (its tasks would die).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_someone_else_created_under_our_id_is_never_rolled_back() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    common::tasks_just_began(&sim, "p-ingest");
    let child = common::repool_command(dir.path())
        .args(["recreate", "--pool", "p-ingest", "--yes", "--json", "--on-unhealthy", "rollback"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the drain begins", || {
        common::journal_text(dir.path()).contains(r#""event":"step-started","pool":"p-ingest","step":"wait-drained""#)
    });
    sim.replace_pool(common::pool_body("p-ingest", 1)).unwrap();
    let foreign = wire(&sim, "p-ingest").unwrap();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let error = report["pools"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("did not create") || error.contains("not the one this run started with"), "{error}");
    let now = wire(&sim, "p-ingest").expect("the other operator's pool is still there");
    assert_eq!((now.creation_time, now.e_tag), (foreign.creation_time, foreign.e_tag), "untouched");
    let deletes: u64 = sim.stats().requests.iter().filter(|(k, _)| k.starts_with("DELETE")).map(|(_, n)| n).sum();
    assert_eq!(deletes, 0, "repool deleted nothing: {:?}", sim.stats().requests);
    assert!(!common::journal_text(dir.path()).contains("rollback-delete"), "no rollback began");
}

/// A delete, a create and a PATCH that took effect but whose answers were lost: repool looks at
/// the pool before deciding, and reports what happened (not "changed by someone else").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_whose_answers_were_lost_are_judged_by_the_pool() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    sim.set_faults(Faults::parse("lost@delete-pool=1x,lost@add-pool=1x").unwrap());
    let (code, report, err) = run_json(dir.path(), &key, &["recreate", "--pool", "p-ingest"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["pools"][0]["status"], "recreated", "{report:#}");
    let requests = sim.stats().requests;
    assert_eq!(requests.get("DELETE delete pool lost"), Some(&1), "{requests:?}");
    assert_eq!(requests.get("POST add pool lost"), Some(&1), "{requests:?}");
    assert_eq!(sim.stats().pools_created, 1, "created once");
    // apply: a metadata PATCH whose answer is lost is retried with the old ETag (412).
    let mut definition: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    definition["p-ingest"]["metadata"] = serde_json::json!([{"name": "team", "value": "ingest-2"}]);
    let path = dir.path().join("edited.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    sim.set_faults(Faults::parse("lost@patch-pool=1x").unwrap());
    let (code, report, err) =
        run_json(dir.path(), &key, &["apply", "--pool", "p-ingest", "--definition", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["pools"][0]["status"], "updated", "{report:#}");
    assert_eq!(sim.stats().requests.get("PATCH patch pool lost"), Some(&1));
    assert_eq!(wire(&sim, "p-ingest").unwrap().rest["metadata"][0]["value"], "ingest-2");
}

/// Paused before its create, the run meets a look-alike someone else created (the definition's
/// body with other targets): it is not claimed as the run's own — no "recreated" short of the
/// targets, and no rollback deletes it.
#[tokio::test]
async fn a_look_alike_someone_else_created_is_not_claimed() {
    let h = Harness::new().await;
    let rollback = RunPolicy {
        on_unhealthy: repool::rollout::policy::OnUnhealthy::Rollback,
        ..policy(DrainTimeoutPolicy::Fail, 60)
    };
    let first = h.run(&["p-ingest"], Some(Step::WaitGone), rollback.clone()).await;
    assert_eq!(first.pools[0].status, PoolStatus::Paused, "{first:#?}");
    let mut look_alike = h.definition.pool("p-ingest").unwrap().body.clone();
    look_alike["targetDedicatedNodes"] = 1.into();
    look_alike["targetLowPriorityNodes"] = 0.into();
    h.client.add_pool(&look_alike).await.unwrap();
    let theirs = h.client.get_pool("p-ingest", None).await.unwrap().creation_time;
    let resumed = h.resume(&first.run_id, rollback).await;
    assert_eq!(resumed.pools[0].status, PoolStatus::Failed, "{resumed:#?}");
    let error = resumed.pools[0].error.clone().unwrap();
    assert!(error.contains("this run did not create") && error.contains("left alone"), "{error}");
    assert_eq!(h.client.get_pool("p-ingest", None).await.unwrap().creation_time, theirs, "theirs, untouched");
    assert_eq!(h.sim.stats().pools_created, 1, "only theirs");
}
