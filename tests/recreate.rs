//! The recreation engine against the simulator over HTTP: busy pools drain without a task being
//! cut short, every drain policy, concurrent changes stop the delete, and a run stopped at any
//! step boundary, mid-wait or mid-create resumes to exactly one recreation.

mod common;

use repool::batch::BatchClient;
use repool::definition::plan::{Action, Plan};
use repool::definition::{Definition, EXAMPLE};
use repool::recreate::account::AccountId;
use repool::recreate::engine::Progress;
use repool::recreate::journal::{self, Journal, Record, StepOutcome};
use repool::recreate::lock::RunLock;
use repool::recreate::policy::{DrainTimeoutPolicy, RecreatePolicy};
use repool::recreate::report::{PoolStatus, RunReport, RunStatus};
use repool::recreate::run::{Intent, Until, Workspace};
use repool::recreate::step::Step;
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

fn policy(on_drain_timeout: DrainTimeoutPolicy, resize_minutes: u64) -> RecreatePolicy {
    RecreatePolicy {
        resize_timeout: repool::batch::BatchDuration::from_mins(resize_minutes),
        poll_interval: Duration::from_millis(20),
        fast_poll_interval: Duration::from_millis(5),
        wait_timeout: Duration::from_secs(30),
        drain_timeout: Duration::from_secs(30),
        on_drain_timeout,
        ..Default::default()
    }
}

struct Harness {
    sim: RunningSim,
    client: BatchClient,
    definition: Definition,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Harness {
        let sim = fast_sim().await;
        let client = common::client_for(&sim);
        let definition = Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap();
        Harness { sim, client, definition, dir: tempfile::tempdir().unwrap() }
    }

    fn workspace(&self, policy: RecreatePolicy) -> Workspace {
        Workspace::new(self.client.clone(), "2024-07-01.20.0", policy, self.dir.path().to_path_buf())
    }

    fn journal_path(&self, run: &str) -> std::path::PathBuf {
        self.dir.path().join("journal").join(format!("{run}.jsonl"))
    }

    /// Appends a record to `run`'s journal, as a crash at that instant would have left it.
    async fn journal(&self, run: &str, record: Record) {
        Journal::open(&self.dir.path().join("journal"), run).unwrap().append(record).await.unwrap();
    }

    /// A new run for `ids`, through the run API, as `repool recreate` does.
    async fn run(&self, ids: &[&str], until: Option<Step>, policy: RecreatePolicy) -> RunReport {
        self.run_with(ids, until, policy, CancellationToken::new(), mpsc::unbounded_channel().0).await
    }

    async fn run_with(
        &self,
        ids: &[&str],
        until: Option<Step>,
        policy: RecreatePolicy,
        cancel: CancellationToken,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> RunReport {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let run = self.workspace(policy).start(&self.definition, &ids, Intent::Recreate).await.unwrap();
        let bodies = run.bodies(Some(&self.definition), None).unwrap();
        let targets = run.targets(&[], until.map_or(Until::End, Until::After));
        run.execute(targets, bodies, progress, cancel).await
    }

    /// Continues `run` from its journal, as `repool resume` does.
    async fn resume(&self, run: &str, policy: RecreatePolicy) -> RunReport {
        self.resume_until(run, Until::End, policy).await
    }

    async fn resume_until(&self, run: &str, until: Until, policy: RecreatePolicy) -> RunReport {
        let run = self.workspace(policy).open(run).unwrap();
        let bodies = run.bodies(Some(&self.definition), None).unwrap();
        let targets = run.targets(&[], until);
        run.execute(targets, bodies, mpsc::unbounded_channel().0, CancellationToken::new()).await
    }

    async fn matches_definition(&self, id: &str) -> bool {
        let live = self.client.list_pools(None, None, None).await.unwrap();
        let plan = Plan::new(&self.definition, &live, &[id.to_string()], "2024-07-01.20.0");
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
    assert!(gets <= 5, "GETs per pool: {:?}", stats.requests);
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
    for stop in Step::ALL {
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
        let slow = RecreatePolicy { poll_interval: Duration::from_millis(300), ..policy(DrainTimeoutPolicy::Fail, 60) };
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
        resumed.pools[0].error.as_ref().unwrap().contains("differs from the definition"),
        "{:?}",
        resumed.pools[0].error
    );
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
