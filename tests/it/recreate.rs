//! The recreation engine against the simulator over HTTP: busy pools drain without a task being
//! cut short, every drain policy, concurrent changes stop the delete, and a run stopped at any
//! step boundary, mid-wait or mid-create resumes to exactly one recreation.

use crate::common;

use repool::batch::BatchClient;
use repool::definition::plan::{Action, Plan};
use repool::definition::{Definition, EXAMPLE};
use repool::rollout::account::AccountId;
use repool::rollout::engine::Progress;
use repool::rollout::journal::{self, Journal, Record, StepOutcome};
use repool::rollout::lock::RunLock;
use repool::rollout::policy::{DrainTimeoutPolicy, RunPolicy};
use repool::rollout::report::{PoolStatus, RunReport, RunStatus};
use repool::rollout::run::{Intent, Until, Workspace};
use repool::rollout::step::Step;
use repool::sim::{self, RunningSim, SimOptions, faults::Faults};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The demo account at 3000× (50 simulated minutes a second).
async fn fast_sim() -> RunningSim {
    sim::start(SimOptions { speed: 3000.0, seed: Some("demo".into()), ..Default::default() }, "127.0.0.1:0")
        .await
        .unwrap()
}

pub(crate) fn policy(on_drain_timeout: DrainTimeoutPolicy, resize_minutes: u64) -> RunPolicy {
    RunPolicy {
        resize_timeout: repool::batch::BatchDuration::from_mins(resize_minutes),
        poll_interval: Duration::from_millis(20),
        fast_poll_interval: Duration::from_millis(5),
        wait_timeout: Duration::from_secs(30),
        drain_timeout: Duration::from_secs(30),
        on_drain_timeout,
        ..Default::default()
    }
}

pub(crate) struct Harness {
    pub(crate) sim: RunningSim,
    pub(crate) client: BatchClient,
    pub(crate) definition: Definition,
    pub(crate) dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        let sim = fast_sim().await;
        let client = common::client_for(&sim);
        let definition = Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap();
        Harness { sim, client, definition, dir: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn workspace(&self, policy: RunPolicy) -> Workspace {
        Workspace::new(
            self.client.clone(),
            repool::batch::ApiVersion::V2024_07_01,
            policy,
            self.dir.path().to_path_buf(),
        )
    }

    pub(crate) fn journal_path(&self, run: &str) -> std::path::PathBuf {
        self.dir.path().join("journal").join(format!("{run}.jsonl"))
    }

    /// Appends a record to `run`'s journal, as a crash at that instant would have left it.
    pub(crate) async fn journal(&self, run: &str, record: Record) {
        Journal::open(&self.dir.path().join("journal"), run).unwrap().append(record).await.unwrap();
    }

    /// A new run for `ids`, proposed and started through the run API, as `repool recreate` does.
    pub(crate) async fn run(&self, ids: &[&str], until: Option<Step>, policy: RunPolicy) -> RunReport {
        self.run_with(ids, until, policy, CancellationToken::new(), mpsc::unbounded_channel().0).await
    }

    pub(crate) async fn run_with(
        &self,
        ids: &[&str],
        until: Option<Step>,
        policy: RunPolicy,
        cancel: CancellationToken,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> RunReport {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let workspace = self.workspace(policy);
        let proposal = workspace.propose(&self.definition, &ids, Intent::Recreate, false).await.unwrap();
        let run = proposal.start().await.unwrap();
        let until = until.map_or(Until::End, Until::After);
        run.prepare(Some(&self.definition), None, &[], until).await.unwrap().execute(progress, cancel).await
    }

    /// Continues `run` from its journal, as `repool resume` does.
    pub(crate) async fn resume(&self, run: &str, policy: RunPolicy) -> RunReport {
        self.resume_until(run, Until::End, policy).await
    }

    pub(crate) async fn resume_until(&self, run: &str, until: Until, policy: RunPolicy) -> RunReport {
        let run = open_when_free(&self.workspace(policy), run).await;
        let prepared = run.prepare(Some(&self.definition), None, &[], until).await.unwrap();
        prepared.execute(mpsc::unbounded_channel().0, CancellationToken::new()).await
    }

    pub(crate) async fn matches_definition(&self, id: &str) -> bool {
        let live = self.client.list_pools(None, None, None).await.unwrap();
        let plan = Plan::new(&self.definition, &live, &[id.to_string()], repool::batch::ApiVersion::V2024_07_01);
        plan.pools[0].action == Action::Unchanged
    }
}

#[tokio::test]
async fn busy_pools_are_recreated_without_cutting_a_task_short() {
    let h = Harness::new().await;
    let report = h.run(&["p-render", "p-ingest"], None, policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(report.status, RunStatus::Done, "{report:#?}");
    for pool in &report.pools {
        assert_eq!(pool.status, PoolStatus::Recreated);
        assert!(pool.backup.as_ref().is_some_and(|b| std::path::Path::new(b).exists()));
        assert_ne!(pool.old_creation_time, pool.new_creation_time);
        assert!(h.matches_definition(&pool.id).await, "{} differs from the definition", pool.id);
    }
    let stats = h.sim.stats();
    assert_eq!(
        (stats.tasks_killed_by_resize, stats.tasks_killed_by_delete),
        (0, 0),
        "taskcompletion drains, delete finds no tasks"
    );
    assert_eq!(stats.pools_created, 2);
    let mutations: u64 =
        stats.requests.iter().filter(|(k, _)| !k.starts_with("GET") && !k.starts_with("HEAD")).map(|(_, n)| n).sum();
    assert!(mutations <= 10, "at most 5 mutating calls per pool: {:?}", stats.requests);
    let gets = stats.requests.iter().filter(|(k, _)| k.starts_with("GET get pool")).map(|(_, n)| n).sum::<u64>();
    // A first look and the backup per pool, plus one after disabling p-render's autoscale; waits
    // and the steps after them use the shared list.
    let confirmed_gone = stats.requests.get("GET get pool 404").copied().unwrap_or(0);
    assert!(gets - confirmed_gone <= 5, "GETs per pool: {:?}", stats.requests);
    // Absence is acted on only once a direct read confirms it: one per deleted pool.
    assert!(confirmed_gone <= 2, "{:?}", stats.requests);
    let state = journal::read(&h.journal_path(&report.run_id)).unwrap();
    assert_eq!(state.finished, Some(RunStatus::Done));
    assert!(state.per_pool.values().all(|p| p.status == Some(PoolStatus::Recreated)));
}

#[tokio::test]
async fn drain_timeout_fail_leaves_the_pool_steady_and_undeleted() {
    let h = Harness::new().await;
    // p-ingest runs 25-minute tasks; one just began: a 5-minute resize timeout cannot drain it.
    common::tasks_just_began(&h.sim, "p-ingest");
    let report = h.run(&["p-ingest"], None, policy(DrainTimeoutPolicy::Fail, 5)).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    let error = report.pools[0].error.clone().unwrap();
    assert!(error.contains("NOT deleted") && error.contains("--on-drain-timeout"), "{error}");
    let pool = h.client.get_pool("p-ingest", None).await.unwrap();
    assert!(pool.is_steady() && pool.current_nodes() > 0);
    assert_eq!(h.sim.stats().pools_deleted, 0);
    assert!(report.pools[0].pre_delete_snapshot.is_none(), "never got as far as the delete");
    assert!(report.pools[0].backup.is_some(), "the pre-run backup is taken before anything changes");
}

#[tokio::test]
async fn drain_timeout_force_deletes_and_says_tasks_are_requeued() {
    let h = Harness::new().await;
    common::tasks_just_began(&h.sim, "p-ingest");
    let report = h.run(&["p-ingest"], None, policy(DrainTimeoutPolicy::Force, 5)).await;
    assert_eq!(report.pools[0].status, PoolStatus::Recreated, "{report:#?}");
    assert!(report.pools[0].warnings.iter().any(|w| w.contains("requeued")), "{:?}", report.pools[0].warnings);
    assert!(h.sim.stats().tasks_killed_by_delete > 0);
    assert_eq!(h.sim.stats().tasks_killed_by_resize, 0);
}

#[tokio::test]
async fn drain_timeout_wait_keeps_waiting_until_tasks_end() {
    let h = Harness::new().await;
    common::tasks_just_began(&h.sim, "p-ingest");
    let report = h.run(&["p-ingest"], None, policy(DrainTimeoutPolicy::Wait, 5)).await;
    assert_eq!(report.pools[0].status, PoolStatus::Recreated, "{report:#?}");
    let stats = h.sim.stats();
    assert_eq!((stats.tasks_killed_by_resize, stats.tasks_killed_by_delete), (0, 0));
}

#[tokio::test]
async fn a_pool_changed_after_draining_is_not_deleted() {
    let h = Harness::new().await;
    let report = h.run(&["p-render"], Some(Step::WaitDrained), policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(report.pools[0].status, PoolStatus::Paused);
    // Another operator scales the pool up again.
    let resize = repool::batch::models::ResizeRequest { target_dedicated_nodes: Some(1), ..Default::default() };
    h.client.resize_pool("p-render", &resize).await.unwrap();
    let resumed = h.resume(&report.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(resumed.pools[0].status, PoolStatus::Failed);
    assert!(
        resumed.pools[0].error.as_ref().unwrap().contains("changed by someone else"),
        "{:?}",
        resumed.pools[0].error
    );
    assert!(h.client.pool_exists("p-render").await.unwrap());
    assert_eq!(h.sim.stats().pools_deleted, 0);
}

#[tokio::test]
async fn stopping_after_any_step_then_resuming_recreates_exactly_once() {
    for stop in Step::RECREATE {
        let h = Harness::new().await;
        let first = h.run(&["p-render"], Some(stop), policy(DrainTimeoutPolicy::Fail, 60)).await;
        let expected = if stop == Step::WaitHealthy { PoolStatus::Recreated } else { PoolStatus::Paused };
        assert_eq!(first.pools[0].status, expected, "stopped after {stop}");
        let second = h.resume(&first.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
        assert_eq!(second.status, RunStatus::Done, "resumed after {stop}: {second:#?}");
        assert_eq!(h.sim.stats().pools_created, 1, "exactly one creation after stopping at {stop}");
        assert!(h.matches_definition("p-render").await, "after {stop}");
    }
}

#[tokio::test]
async fn cancelling_mid_wait_then_resuming_recreates_exactly_once() {
    for during in [Step::WaitSteady, Step::WaitDrained, Step::WaitGone, Step::WaitReady] {
        let h = Harness::new().await;
        let cancel = CancellationToken::new();
        // Slow polling keeps the engine inside the wait when the cancel arrives.
        let slow = RunPolicy { poll_interval: Duration::from_millis(300), ..policy(DrainTimeoutPolicy::Fail, 60) };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let canceller = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if event == (Progress::StepStarted { pool: "p-render".into(), step: during }) {
                        cancel.cancel();
                    }
                }
            })
        };
        let first = h.run_with(&["p-render"], None, slow, cancel, tx).await;
        canceller.await.unwrap();
        assert_eq!(first.status, RunStatus::Cancelled, "during {during}");
        assert_eq!(first.pools[0].status, PoolStatus::Interrupted);
        let second = h.resume(&first.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
        assert_eq!(second.status, RunStatus::Done, "resumed after cancelling in {during}: {second:#?}");
        assert_eq!(h.sim.stats().pools_created, 1, "exactly one creation after cancelling in {during}");
    }
}

#[tokio::test]
async fn create_waits_out_a_pool_still_being_deleted() {
    let h = Harness::new().await;
    let first = h.run(&["p-render"], Some(Step::WaitDrained), policy(DrainTimeoutPolicy::Fail, 60)).await;
    // Time stands still from before the delete until the create has met the pool still being deleted.
    common::set_speed(&h.sim, 0.0);
    h.resume_until(&first.run_id, Until::After(Step::Delete), policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert!(h.client.get_pool("p-render", None).await.unwrap().state == Some(repool::batch::PoolState::Deleting));
    let state = h.sim.state.clone();
    let thaw = std::thread::spawn(move || {
        let met = || state.world.lock().unwrap().stats.requests.keys().any(|k| k.starts_with("POST add pool 409"));
        common::wait_until("the create meets PoolBeingDeleted", met);
        state.clock.lock().unwrap().set_speed(3000.0);
    });
    // Journal says wait-gone finished (a crash between its end and create's start, say).
    let finished = Record::StepFinished {
        pool: "p-render".into(),
        step: Step::WaitGone,
        outcome: StepOutcome::Ok,
        detail: None,
        etag: None,
        backup: None,
    };
    h.journal(&first.run_id, finished).await;
    let resumed = h.resume(&first.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
    thaw.join().unwrap();
    assert_eq!(resumed.pools[0].status, PoolStatus::Recreated, "{resumed:#?}");
}

#[tokio::test]
async fn a_pool_missing_from_the_account_is_simply_created() {
    let h = Harness::new().await;
    let mut body: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    body["p-brand-new"] = serde_json::json!({"targetDedicatedNodes": 1});
    let definition = Definition::from_text("d.json", &body.to_string(), false, &BTreeMap::new()).unwrap();
    let h = Harness { definition, ..h };
    let report = h.run(&["p-brand-new"], None, policy(DrainTimeoutPolicy::Fail, 60)).await;
    assert_eq!(report.pools[0].status, PoolStatus::Recreated, "{report:#?}");
    assert!(report.pools[0].backup.is_none());
    assert_eq!(h.sim.stats().pools_deleted, 0);
}

#[tokio::test]
async fn faults_slow_the_run_but_lose_nothing() {
    let h = Harness::new().await;
    h.sim.set_faults(
        Faults::parse("503=0.1,429=0.1,timeout=0.05,drop=0.03,retry-after=0,latency=2ms,jitter=3ms").unwrap(),
    );
    let report = h.run(&["p-render", "p-ingest"], None, policy(DrainTimeoutPolicy::Fail, 60)).await;
    h.sim.set_faults(Faults::default());
    for pool in &report.pools {
        // A failure must be reported, and the pool must still exist either way.
        assert!(pool.status == PoolStatus::Recreated || pool.error.is_some(), "{pool:?}");
        assert!(h.client.pool_exists(&pool.id).await.unwrap() || pool.status == PoolStatus::Failed);
    }
    let lost: Vec<_> = report.pools.iter().filter(|p| p.status == PoolStatus::Failed).map(|p| p.id.clone()).collect();
    if !lost.is_empty() {
        let resumed = h.resume(&report.run_id, policy(DrainTimeoutPolicy::Fail, 60)).await;
        assert_eq!(resumed.status, RunStatus::Done, "{resumed:#?}");
    }
    for id in ["p-render", "p-ingest"] {
        assert!(h.matches_definition(id).await, "{id}");
    }
}

#[test]
fn one_run_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let account = |url: &str| AccountId::from_endpoint(&url::Url::parse(url).unwrap());
    let held = RunLock::acquire(dir.path(), &account("https://acct.westeurope.batch.azure.com"), "run-1").unwrap();
    // Another spelling of the same account is the same lock.
    let refused =
        RunLock::acquire(dir.path(), &account("https://ACCT.westeurope.batch.azure.com/"), "run-2").err().unwrap();
    assert!(refused.contains("run-1"), "{refused}");
    RunLock::acquire(dir.path(), &account("https://other.westeurope.batch.azure.com"), "run-3").unwrap();
    drop(held);
    RunLock::acquire(dir.path(), &account("https://acct.westeurope.batch.azure.com"), "run-4").unwrap();
}

/// Opens `run`, waiting while its lock is still held: another test of this process spawning a
/// child at the instant the previous execution closed the lock file shares its open file until
/// the child's exec (the lock is an flock on it), for a moment.
async fn open_when_free(workspace: &Workspace, run: &str) -> repool::rollout::run::Run {
    for _ in 0..100 {
        match workspace.open(run) {
            Ok(run) => return run,
            Err(e) if e.contains("another repool run") => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("run {run} stayed locked")
}

/// The binary's `--json` run: exit code, report, stderr.
pub(crate) fn run_json(dir: &std::path::Path, key: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut command = common::repool_command(dir);
    command.args(args).args(["--yes", "--json"]).env("AZURE_BATCH_ACCESS_KEY", key);
    let (code, out, err) = common::output(&mut command);
    (code, serde_json::from_str(&out).unwrap_or(serde_json::Value::Null), err)
}

pub(crate) fn wire(sim: &RunningSim, id: &str) -> Option<repool::batch::Pool> {
    sim.with_world(|world, _| world.find(id).map(|p| p.wire.clone()))
}

/// A pool that got fewer nodes than it targets is not healthy: exit 1, and the report says what
/// it targets, has and how many are healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_short_of_its_targets_is_a_failed_pool() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    sim.set_faults(Faults::parse("alloc@allocation=1").unwrap());
    let (code, report, err) = run_json(dir.path(), &key, &["recreate", "--pool", "p-ingest"]);
    sim.set_faults(Faults::default());
    assert_eq!(code, 1, "{err}");
    let pool = &report["pools"][0];
    assert_ne!(pool["status"], "recreated", "{report:#}");
    assert_eq!(pool["target"].as_u64(), Some(4), "{report:#}");
    assert!(pool["current"].as_u64().unwrap() < 4, "{report:#}");
    assert!(pool["error"].as_str().unwrap().contains("short of capacity"), "{report:#}");
    // An autoscaled pool: short of what its formula asked.
    sim.set_faults(Faults::parse("alloc@allocation=1").unwrap());
    let (code, report, err) = run_json(dir.path(), &key, &["recreate", "--pool", "p-render"]);
    sim.set_faults(Faults::default());
    assert_eq!(code, 1, "{err}");
    let pool = &report["pools"][0];
    assert!(pool["current"].as_u64() < pool["target"].as_u64(), "{report:#}");
    assert!(pool["error"].as_str().unwrap().contains("short of capacity"), "{report:#}");
}

/// Under the default settings the drain's resize carries the drain's timeout, so tasks longer
/// than the service's default resize timeout (15 minutes) finish and the pool is recreated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_drain_outlasts_tasks_longer_than_fifteen_minutes() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let config = dir.path().join("repool/config.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("resize_timeout = \"PT60M\"\n", "");
    std::fs::write(&config, text).unwrap();
    // p-ingest's tasks run 25 minutes and have just begun.
    common::tasks_just_began(&sim, "p-ingest");
    let (code, report, err) = run_json(dir.path(), &key, &["recreate", "--pool", "p-ingest"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["pools"][0]["status"], "recreated", "{report:#}");
    let drain = report["pools"][0]["steps"].as_array().unwrap().iter().find(|s| s["step"] == "resize-to-zero").unwrap();
    assert!(drain["detail"].as_str().unwrap().contains("timeout PT6H"), "{drain}");
    assert_eq!(sim.stats().tasks_killed_by_resize + sim.stats().tasks_killed_by_delete, 0);
}

/// With `--max-unavailable 1` a pool waiting for its turn is untouched: autoscale stays on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_waiting_its_turn_is_untouched() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    common::tasks_just_began(&sim, "p-ingest");
    common::tasks_just_began(&sim, "p-render");
    let mut child = common::repool_command(dir.path())
        .args(["recreate", "--pool", "p-ingest", "--pool", "p-render", "--yes", "--max-unavailable", "1"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("one pool drains", || common::journal_text(dir.path()).contains(r#""step":"wait-drained""#));
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = common::journal_text(dir.path());
    let draining = if journal.contains(r#""pool":"p-render","step":"wait-drained""#) { "p-render" } else { "p-ingest" };
    let waiting = if draining == "p-render" { "p-ingest" } else { "p-render" };
    assert!(!journal.contains(&format!(r#""pool":"{waiting}","step""#)), "{waiting} never began:\n{journal}");
    let pool = wire(&sim, waiting).unwrap();
    match waiting {
        "p-render" => assert!(pool.autoscale(), "autoscale still on: {pool:?}"),
        _ => assert_eq!((pool.target_dedicated_nodes, pool.target_low_priority_nodes), (Some(2), Some(2))),
    }
}

/// A create throttled with a Retry-After longer than one call waits: the deleted pool's step
/// waits what the service asked (saying so, naming the throttling), then creates it.
#[tokio::test]
async fn a_throttled_create_waits_what_the_service_asks() {
    let h = Harness::new().await;
    let retry = repool::batch::RetryPolicy { max_total: Duration::from_millis(500), ..Default::default() };
    let h = Harness { client: common::client_with(&h.sim, retry), ..h };
    h.sim.set_faults(Faults::parse("429@add-pool=1x,retry-after=2").unwrap());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let report =
        h.run_with(&["p-render"], None, policy(DrainTimeoutPolicy::Fail, 60), CancellationToken::new(), tx).await;
    assert_eq!(report.pools[0].status, PoolStatus::Recreated, "{report:#?}");
    assert_eq!(h.sim.stats().requests.get("POST add pool 429"), Some(&1));
    let mut waited = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let Progress::Waiting { step: Step::Create, detail, .. } = event {
            waited.push(detail);
        }
    }
    assert!(waited.iter().any(|d| d.contains("asked to wait 2 s") && d.contains("TooManyRequests")), "{waited:?}");
}

/// As on the service, a PATCH of the start task reaches no existing node: nodes whose start task
/// failed stay failed until they restart or are replaced.
#[tokio::test]
async fn a_start_task_patched_in_place_reaches_no_existing_node() {
    let h = Harness::new().await;
    h.sim.with_world(|w, _| {
        let pool = w.find_mut("p-ingest").unwrap();
        let failing = serde_json::json!({"commandLine": "/bin/sh -c 'exit 3'", "waitForSuccess": true});
        pool.wire.rest.insert("startTask".into(), failing);
        let ran = pool.start_task();
        pool.nodes.iter_mut().for_each(|n| n.start_task = ran.clone());
    });
    let failed = |nodes: &[repool::batch::Node]| {
        !nodes.is_empty() && nodes.iter().all(|n| n.state == Some(repool::batch::NodeState::StartTaskFailed))
    };
    assert!(failed(&h.client.list_nodes("p-ingest", None).await.unwrap()));
    let fixed = serde_json::json!({"startTask": {"commandLine": "/bin/sh -c 'echo fixed'", "waitForSuccess": true}});
    h.client.patch_pool("p-ingest", &fixed, None).await.unwrap();
    let nodes = h.client.list_nodes("p-ingest", None).await.unwrap();
    assert!(failed(&nodes), "existing nodes keep the start task they ran: {nodes:?}");
    assert_eq!(nodes[0].start_task_exit(), Some(3));
}

/// A throttled read whose Retry-After is longer than a call waits says what the service asked,
/// and does not pretend it retried or blame autoscale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_is_named_not_hidden() {
    let (sim, dir) = common::fast_demo_with_config().await;
    sim.set_faults(Faults::parse("429@list-pools=1x,retry-after=3600").unwrap());
    let mut command = common::repool_command(dir.path());
    command.args(["pools"]).env("AZURE_BATCH_ACCESS_KEY", sim.key());
    let (code, _, err) = common::output(&mut command);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("429 TooManyRequests") && err.contains("asked to retry after 3600 s"), "{err}");
    assert!(!err.contains("autoscale") && !err.contains("already retried"), "{err}");
}
