//! Runs the recreation of many pools concurrently, one journaled step at a time.
//!
//! Every step decides from the pool's live state, so running it again after a crash does the
//! right thing; the journal says where each pool was. Nothing is deleted unless the pool was
//! drained, backed up, and is unchanged since (ETag, autoscale, targets); the delete itself
//! carries `If-Match`, so a concurrent change makes it fail instead of losing work.

mod health;

use super::account::AccountId;
use super::backup::{self, BackupKind};
use super::journal::{Journal, Record, StepOutcome};
use super::policy::{DrainTimeoutPolicy, OnUnhealthy, RecreatePolicy};
use super::report::{PoolReport, PoolStatus, RunReport, RunStatus, StepReport};
use super::snapshots::{Snapshots, WaitError};
use super::step::Step;
use super::strategy::Strategy;
use super::update::{self, Capacity, Update};
use crate::batch::models::{AllocationState, EnableAutoScaleRequest, NodeDeallocationOption, PoolState, ResizeRequest};
use crate::batch::{ApiVersion, BatchClient, BatchError, Pool};
use crate::definition::plan::{Action, Apply, plan_pool};
use crate::definition::{PoolDefinition, sealed};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// What the TUI and headless output show while a run goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    StepStarted { pool: String, step: Step },
    StepFinished { pool: String, step: Step, outcome: StepOutcome, detail: Option<String>, elapsed: Duration },
    Waiting { pool: String, step: Step, detail: String },
    PoolFinished { pool: String, status: PoolStatus, error: Option<String> },
    RunFinished { run: String, status: RunStatus },
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub account: AccountId,
    pub api_version: ApiVersion,
    pub policy: RecreatePolicy,
    pub backup_dir: PathBuf,
    /// Pools of the run already between drain and healthy that this execution does not run.
    pub unavailable: usize,
}

/// Where one pool starts: a fresh run starts at the beginning, a resumed one where the journal says.
#[derive(Clone, Debug)]
pub struct PoolTarget {
    pub id: String,
    /// Which chain of steps the pool follows.
    pub strategy: Strategy,
    pub start_at: Step,
    /// Stop (paused) after this step: step-through and `--until`.
    pub until: Option<Step>,
    pub etag: Option<String>,
    pub backup: Option<String>,
}

/// The body a pool is created from, and the same with its secrets as references (which also
/// says where the live pool's secrets are, so its backups keep none in clear).
pub struct CreateBody {
    pub clear: Value,
    pub sealed: Value,
    /// The pool as it was before the run (None: it did not exist).
    pub before: Option<PreRun>,
}

/// What the pre-run backup says of a pool.
pub struct PreRun {
    /// What a rollback creates: the backup as an add body, or why it cannot.
    pub body: Result<Value, String>,
    /// The original pool's creation time: the pool the drain may act on, never deleted by a rollback.
    pub created: Option<jiff::Timestamp>,
    /// Its targets or autoscale, for the advice after a drain that failed.
    pub capacity: Option<Capacity>,
}

/// Driven by `recreate::run`, which hands it the run's create bodies.
#[derive(Clone)]
pub struct Engine {
    client: BatchClient,
    /// The create body of every target, by lower-cased id: nothing is deleted without one.
    bodies: Arc<BTreeMap<String, CreateBody>>,
    config: Arc<EngineConfig>,
    snapshots: Arc<Snapshots>,
    progress: mpsc::UnboundedSender<Progress>,
    cancel: CancellationToken,
    window: Arc<Window>,
}

/// Bounds how many pools are unavailable (between the resize to 0 and healthy) at once.
struct Window {
    inside: std::sync::Mutex<usize>,
    max: Option<usize>,
    left: tokio::sync::Notify,
}

/// A pool's place in the window; leaving it (the pool's task ends) lets the next one in.
struct InWindow(Arc<Window>);

impl Drop for InWindow {
    fn drop(&mut self) {
        *self.0.inside.lock().expect("window lock") -= 1;
        self.0.left.notify_waiters();
    }
}

impl Window {
    fn is_full(&self) -> bool {
        self.max.is_some_and(|max| *self.inside.lock().expect("window lock") >= max)
    }

    /// Takes a place, waiting while the window is full; `already` (a pool that is unavailable
    /// anyway, e.g. deleted) takes its place at once.
    async fn enter(self: &Arc<Self>, already: bool, cancel: &CancellationToken) -> Option<InWindow> {
        loop {
            let left = self.left.notified();
            {
                let mut inside = self.inside.lock().expect("window lock");
                if already || self.max.is_none_or(|max| *inside < max) {
                    *inside += 1;
                    return Some(InWindow(self.clone()));
                }
            }
            tokio::select! {
                _ = left => {}
                _ = cancel.cancelled() => return None,
            }
        }
    }
}

/// How a step ended.
enum Outcome {
    Done(String),
    Skipped(String),
    /// Continue at another step (pool missing → create; pool deleting → wait gone).
    Jump(Step, String),
}

/// Per-pool facts carried between steps.
#[derive(Default)]
struct PoolRun {
    etag: Option<String>,
    backup: Option<String>,
    old_creation: Option<jiff::Timestamp>,
    new_creation: Option<jiff::Timestamp>,
    warnings: Vec<String>,
    /// The pool as a step just read it, when this run has not changed it since: the next step
    /// starts from it instead of reading again (one GET instead of three before the drain).
    seen: Option<Pool>,
    /// Why a rollback began.
    rollback_reason: Option<String>,
    /// Held from the drain's first step until the pool's task ends.
    unavailable: Option<InWindow>,
    /// The pool's chain: which pool a step may act on depends on it (the original, or ours).
    strategy: Strategy,
    /// This execution's create was accepted (201): the new pool is ours.
    created: bool,
    /// A pool this run did not create stands under the id: never rolled back (deleted).
    foreign: bool,
    /// The health gate's figures: the pool's target, nodes allocated, nodes healthy.
    capacity: Option<super::report::CapacityFigures>,
}

type StepResult = Result<Outcome, String>;

impl Engine {
    pub(super) fn new(
        client: BatchClient,
        bodies: Arc<BTreeMap<String, CreateBody>>,
        config: EngineConfig,
        snapshots: Arc<Snapshots>,
        progress: mpsc::UnboundedSender<Progress>,
        cancel: CancellationToken,
    ) -> Self {
        let window = Arc::new(Window {
            inside: std::sync::Mutex::new(config.unavailable),
            max: config.policy.max_unavailable,
            left: tokio::sync::Notify::new(),
        });
        Engine { client, bodies, config: Arc::new(config), snapshots, progress, cancel, window }
    }

    /// Runs `targets` (at most `policy.parallel` at once); each stops after its `until` if given.
    pub(super) async fn run(&self, run_id: &str, journal: Journal, mut targets: Vec<PoolTarget>) -> RunReport {
        let started = jiff::Timestamp::now();
        // Pools already deleted but not yet created go first.
        targets.sort_by_key(|t| std::cmp::Reverse(t.start_at >= Step::Delete && t.start_at < Step::WaitReady));
        let poller = {
            let (snapshots, cancel) = (self.snapshots.clone(), self.cancel.child_token());
            let policy = &self.config.policy;
            tokio::spawn(snapshots.poll(policy.poll_interval, policy.fast_poll_interval, cancel))
        };
        // Canaries go all the way to healthy first; if one does not, the others are not touched.
        let rest = targets.split_off(self.config.policy.canary.min(targets.len()));
        let canaries = self.config.policy.canary > 0;
        let mut pools = self.run_batch(targets, &journal).await;
        let failed: Vec<String> =
            pools.iter().filter(|p| !p.status.is_done()).map(|p| format!("{} {}", p.id, p.status.name())).collect();
        if canaries && !failed.is_empty() {
            for target in rest {
                let error = format!("not started: the canary did not come through ({})", failed.join(", "));
                let record = Record::PoolFinished {
                    pool: target.id.clone(),
                    status: PoolStatus::Held,
                    error: Some(error.clone()),
                };
                let _ = journal.append(record).await;
                let _ = self.progress.send(Progress::PoolFinished {
                    pool: target.id.clone(),
                    status: PoolStatus::Held,
                    error: Some(error.clone()),
                });
                pools.push(PoolReport { status: PoolStatus::Held, error: Some(error), ..PoolReport::new(&target.id) });
            }
        } else {
            pools.extend(self.run_batch(rest, &journal).await);
        }
        poller.abort();
        let status = RunStatus::from_pools(&pools, self.cancel.is_cancelled());
        let _ = journal.append(Record::RunFinished { status }).await;
        let _ = self.progress.send(Progress::RunFinished { run: run_id.to_string(), status });
        RunReport {
            run_id: run_id.to_string(),
            account: self.config.account.to_string(),
            status,
            started,
            finished: jiff::Timestamp::now(),
            journal: journal.path.display().to_string(),
            pools,
        }
    }

    /// Runs `targets` at most `policy.parallel` at once.
    async fn run_batch(&self, targets: Vec<PoolTarget>, journal: &Journal) -> Vec<PoolReport> {
        let permits = Arc::new(Semaphore::new(self.config.policy.parallel.max(1)));
        let mut tasks = Vec::new();
        for target in targets {
            let (engine, journal, permits) = (self.clone(), journal.clone(), permits.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore stays open");
                engine.run_pool(target, &journal).await
            }));
        }
        let mut pools = Vec::new();
        for task in tasks {
            match task.await {
                Ok(report) => pools.push(report),
                Err(e) => tracing::error!("a pool task panicked: {e}"),
            }
        }
        pools
    }

    async fn run_pool(&self, target: PoolTarget, journal: &Journal) -> PoolReport {
        let id = target.id.clone();
        let mut run = PoolRun {
            etag: target.etag.clone(),
            backup: target.backup.clone(),
            strategy: target.strategy,
            ..Default::default()
        };
        let mut report = PoolReport::new(&id);
        let (status, error) = self.run_steps(&target, journal, &mut run, &mut report).await;
        self.finish(journal, &id, report, &run, status, error).await
    }

    /// Runs the pool's steps from `target.start_at`, journaling each; returns how the pool ended.
    async fn run_steps(
        &self,
        target: &PoolTarget,
        journal: &Journal,
        run: &mut PoolRun,
        report: &mut PoolReport,
    ) -> (PoolStatus, Option<String>) {
        let id = &target.id;
        let mut step = target.start_at;
        loop {
            if self.cancel.is_cancelled() {
                return (PoolStatus::Interrupted, Some(format!("stopped before {step}; `repool resume` continues")));
            }
            // A pool enters the window before the drain's first change (waiting while it is full,
            // untouched: autoscale stays on); one past the resize to 0 (resumed after the drain,
            // deleted) is unavailable anyway.
            if target.strategy.holds_window(step) && run.unavailable.is_none() {
                let already = target.strategy.is_unavailable(step) && step != Step::ResizeToZero;
                if !already && self.window.is_full() {
                    let max = self.config.policy.max_unavailable.unwrap_or_default();
                    let detail = format!("waiting: at most {max} pool(s) may be unavailable at once");
                    let _ = self.progress.send(Progress::Waiting { pool: id.clone(), step, detail });
                }
                match self.window.enter(already, &self.cancel).await {
                    Some(place) => run.unavailable = Some(place),
                    None => {
                        return (
                            PoolStatus::Interrupted,
                            Some(format!("stopped before {step}; `repool resume` continues")),
                        );
                    }
                }
            }
            let began = Instant::now();
            let started_at = jiff::Timestamp::now();
            // Steps are redone from live state on resume, so only the intents to delete and to create
            // must be on disk before their steps act: after a power cut there, the pool shows as
            // deleted, and a resume retries the create (and recognises its own pool) rather than
            // the delete.
            let started = Record::StepStarted { pool: id.clone(), step };
            let durable = matches!(step, Step::Delete | Step::Create | Step::RollbackDelete | Step::RollbackCreate);
            let written = if durable { journal.append(started).await } else { journal.queue(started) };
            if let Err(e) = written {
                return (PoolStatus::Failed, Some(format!("cannot write the journal: {e}")));
            }
            let _ = self.progress.send(Progress::StepStarted { pool: id.clone(), step });
            let result = self.step(id, step, run).await;
            let elapsed = began.elapsed();
            let strategy = target.strategy;
            let result = match result {
                // A rebuilt or patched pool that vanished is not created behind the operator's back.
                Ok(Outcome::Jump(to, detail)) if !strategy.chain().contains(&to) => Err(format!(
                    "{detail}: the pool is gone or being deleted, so it cannot be {}; `repool recreate` creates it",
                    if strategy == Strategy::Rebuild { "rebuilt" } else { "changed in place" }
                )),
                other => other,
            };
            let (outcome, detail, next) = match result {
                Ok(Outcome::Done(detail)) => (StepOutcome::Ok, detail, strategy.next(step)),
                Ok(Outcome::Skipped(detail)) => (StepOutcome::Skipped, detail, strategy.next(step)),
                Ok(Outcome::Jump(to, detail)) => (StepOutcome::Skipped, detail, Some(to)),
                Err(error) if self.cancel.is_cancelled() => {
                    return (PoolStatus::Interrupted, Some(format!("{step}: {error}; `repool resume` continues")));
                }
                Err(error) => {
                    report.steps.push(StepReport::new(step, started_at, elapsed, "failed", Some(error.clone())));
                    let rollback = self.rolls_back(id, step, run);
                    if rollback == Ok(true)
                        && let Some(&first) = strategy.rollback().first()
                    {
                        // Back to the pool as it was before the run: its own journaled chain.
                        run.rollback_reason = Some(format!("{step}: {error}"));
                        let _ = self.progress.send(Progress::Waiting {
                            pool: id.clone(),
                            step,
                            detail: format!("rolling back: {error}"),
                        });
                        step = first;
                        continue;
                    }
                    let status = if step == Step::WaitHealthy { PoolStatus::Unhealthy } else { PoolStatus::Failed };
                    let not_rolled_back = rollback.err().map(|why| format!(" ({why})")).unwrap_or_default();
                    return (status, Some(format!("{step}: {error}{not_rolled_back}")));
                }
            };
            let (etag, backup) = match step {
                Step::WaitDrained | Step::Backup => {
                    (run.etag.clone(), run.backup.clone().filter(|_| step == Step::Backup))
                }
                _ => (None, None),
            };
            let record =
                Record::StepFinished { pool: id.clone(), step, outcome, detail: Some(detail.clone()), etag, backup };
            if let Err(e) = journal.queue(record) {
                return (PoolStatus::Failed, Some(format!("cannot write the journal: {e}")));
            }
            // A jump skips steps: journal them so a resume continues at the jump's target.
            if let Some(to) = next {
                let mut skipped = strategy.next(step);
                while let Some(s) = skipped.filter(|s| *s < to) {
                    let record = Record::StepFinished {
                        pool: id.clone(),
                        step: s,
                        outcome: StepOutcome::Skipped,
                        detail: None,
                        etag: None,
                        backup: None,
                    };
                    let _ = journal.queue(record);
                    skipped = strategy.next(s);
                }
            }
            report.steps.push(StepReport::new(step, started_at, elapsed, outcome.name(), Some(detail.clone())));
            let _ = self.progress.send(Progress::StepFinished {
                pool: id.clone(),
                step,
                outcome,
                detail: Some(detail),
                elapsed,
            });
            match next {
                None if step.is_rollback() => {
                    let why = run.rollback_reason.clone().unwrap_or_else(|| "a failed create or health gate".into());
                    return (PoolStatus::RolledBack, Some(format!("rolled back to the pre-run backup after {why}")));
                }
                None if strategy == Strategy::Recreate => return (PoolStatus::Recreated, None),
                None => return (PoolStatus::Updated, None),
                Some(_) if target.until == Some(step) => {
                    return (PoolStatus::Paused, Some(format!("paused after {step}; `repool resume` continues")));
                }
                Some(to) => step = to,
            }
        }
    }

    /// Records how a pool ended, in the report, the journal and the progress stream.
    async fn finish(
        &self,
        journal: &Journal,
        id: &str,
        mut report: PoolReport,
        run: &PoolRun,
        status: PoolStatus,
        error: Option<String>,
    ) -> PoolReport {
        report.status = status;
        report.error = error.clone();
        report.pre_delete_snapshot = run.backup.clone();
        report.old_creation_time = run.old_creation;
        report.new_creation_time = run.new_creation;
        report.warnings = run.warnings.clone();
        report.capacity = run.capacity;
        let record = Record::PoolFinished { pool: id.to_string(), status, error: error.clone() };
        let _ = journal.append(record).await;
        let _ = self.progress.send(Progress::PoolFinished { pool: id.to_string(), status, error });
        report
    }

    async fn step(&self, id: &str, step: Step, run: &mut PoolRun) -> StepResult {
        match step {
            Step::DisableAutoscale => self.disable_autoscale(id, run).await,
            Step::StopResize => self.stop_resize(id, run).await,
            Step::WaitSteady => self.wait_steady(id, run).await,
            Step::ResizeToZero => self.resize_to_zero(id, run).await,
            Step::WaitDrained => self.wait_drained(id, run).await,
            Step::Backup => self.backup(id, run).await,
            Step::Delete => self.delete(id, run).await,
            Step::WaitGone => self.wait_gone(id).await,
            Step::Create => self.create(id, run).await,
            Step::WaitReady => self.wait_ready(id, step, run).await,
            Step::WaitHealthy => self.wait_healthy(id, run).await,
            Step::RollbackDelete => self.rollback_delete(id, run).await,
            Step::RollbackWaitGone => self.wait_gone(id).await,
            Step::RollbackCreate => self.rollback_create(id, run).await,
            Step::RollbackWaitReady => self.wait_ready(id, step, run).await,
            Step::Patch => self.patch(id, run, false).await,
            Step::Scale => self.scale(id, run, false).await,
            Step::RollbackDrain => self.rollback_drain(id, run).await,
            Step::RollbackPatch => self.patch(id, run, true).await,
            Step::RollbackScale => self.scale(id, run, true).await,
        }
    }

    /// The live pool, None if it does not exist.
    async fn live(&self, id: &str) -> Result<Option<Pool>, String> {
        match self.client.get_pool(id, None).await {
            Ok(pool) => Ok(Some(pool)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// What the previous step saw of the pool if nothing changed it since, else the live pool.
    async fn seen_or_live(&self, id: &str, run: &mut PoolRun) -> Result<Option<Pool>, String> {
        match run.seen.take() {
            Some(pool) => Ok(Some(pool)),
            None => self.live(id).await,
        }
    }

    /// Pools absent or deleting skip ahead; None means "go on with this step".
    fn absent_or_deleting(pool: &Option<Pool>) -> Option<Outcome> {
        match pool {
            None => Some(Outcome::Jump(Step::Create, "not in the account: it will be created".into())),
            Some(p) if p.state == Some(PoolState::Deleting) => {
                Some(Outcome::Jump(Step::WaitGone, "already being deleted".into()))
            }
            Some(_) => None,
        }
    }

    /// What the pre-run backup says of pool `id`.
    fn before(&self, id: &str) -> Option<&PreRun> {
        self.bodies.get(&id.to_lowercase()).and_then(|b| b.before.as_ref())
    }

    /// The creation time of the pool the run started with: its pre-run backup's, else what the
    /// run's first look saw. None: the pool did not exist before the run.
    fn original_creation(&self, id: &str, run: &PoolRun) -> Option<jiff::Timestamp> {
        let backup = self.before(id).and_then(|b| b.created);
        backup.or(run.old_creation)
    }

    /// The drain, the backup and every step of a rebuild or in-place change act only on the pool
    /// the run started with: one with its id but another creation time is someone else's.
    fn expect_original(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        if self.before(id).is_none() {
            return Err(format!(
                "the pool '{id}' exists, but it did not when the run started (no pre-run backup); not touched: \
                 start a new run to change it"
            ));
        }
        match (self.original_creation(id, run), pool.creation_time) {
            (Some(original), Some(now)) if original != now => Err(format!(
                "the pool '{id}' in the account is not the one this run started with (created {now}; the run's \
                 was created {original}): someone deleted it and created another with its id; left alone"
            )),
            _ => Ok(()),
        }
    }

    /// The steps after a create act only on a pool newer than the one the run started with (the
    /// very one whose creation this run saw, once it saw it).
    fn expect_new(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        let created = pool.creation_time;
        let when = created.map(|t| t.to_string()).unwrap_or_else(|| "at an unknown time".into());
        if let Some(mine) = run.new_creation {
            return match created == Some(mine) {
                true => Ok(()),
                false => Err(format!(
                    "the pool '{id}' in the account is not the one this run created (created {when}, ours {mine}); \
                     left alone"
                )),
            };
        }
        match (self.original_creation(id, run), created) {
            (Some(original), Some(now)) if now <= original => Err(format!(
                "the pool '{id}' in the account is still the one from before the run (created {now}); this run \
                 has not created its new pool"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `pool` (read whole) is the one this run created: new, and either created by this
    /// execution (201) or as the definition says (a resumed run, a create whose answer was lost).
    fn expect_ours(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        self.expect_new(id, pool, run)?;
        if run.created || run.new_creation.is_some() {
            return Ok(());
        }
        let create = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no create body for '{id}'"))?;
        let definition =
            PoolDefinition { id: id.to_string(), body: create.clear.clone(), sealed: create.sealed.clone() };
        let plan = plan_pool(&definition, pool, self.config.api_version);
        match plan.action {
            Action::Unchanged | Action::UpdateInPlace => Ok(()),
            _ => Err(format!(
                "a pool '{id}' (created {}) exists that this run did not create: it differs from the definition \
                 ({} difference(s)); someone else created it — left alone",
                pool.creation_time.map(|t| t.to_string()).unwrap_or_default(),
                plan.changes.len()
            )),
        }
    }

    /// After a create, the pool a wait may accept: ours (recreate), the original (rebuild, in
    /// place, and their rollbacks); a recreate's rollback creates the backup, which is checked by
    /// its own create.
    fn expect_expected(&self, id: &str, step: Step, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        match (run.strategy, step) {
            (Strategy::Recreate, Step::RollbackWaitReady) => Ok(()),
            (Strategy::Recreate, _) => self.expect_new(id, pool, run),
            _ => self.expect_original(id, pool, run),
        }
    }

    async fn disable_autoscale(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = self.live(id).await?;
        if let Some(outcome) = Self::absent_or_deleting(&pool) {
            return Ok(outcome);
        }
        let pool = pool.expect("present");
        self.expect_original(id, &pool, run)?;
        run.old_creation = run.old_creation.or(pool.creation_time);
        if !pool.autoscale() {
            run.seen = Some(pool);
            return Ok(Outcome::Skipped("autoscale already off".into()));
        }
        self.client.disable_autoscale(id).await.map_err(|e| e.to_string())?;
        self.snapshots.request_fast();
        Ok(Outcome::Done("autoscale disabled".into()))
    }

    async fn stop_resize(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = self.seen_or_live(id, run).await?;
        if let Some(outcome) = Self::absent_or_deleting(&pool) {
            return Ok(outcome);
        }
        let pool = pool.expect("present");
        self.expect_original(id, &pool, run)?;
        match pool.allocation_state {
            Some(AllocationState::Resizing) => {
                self.client.stop_resize(id).await.map_err(|e| e.to_string())?;
                self.snapshots.request_fast();
                Ok(Outcome::Done("resize stopped".into()))
            }
            Some(AllocationState::Stopping) => Ok(Outcome::Skipped("already stopping".into())),
            _ => {
                run.seen = Some(pool);
                Ok(Outcome::Skipped("no resize in flight".into()))
            }
        }
    }

    async fn wait(
        &self,
        id: &str,
        step: Step,
        timeout: Duration,
        done: impl Fn(Option<&Pool>) -> bool,
    ) -> Result<Option<Pool>, String> {
        let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail: "waiting".into() });
        match self.snapshots.wait_for(id, timeout, self.config.policy.sign_in_grace, &self.cancel, done).await {
            Ok(pool) => Ok(pool),
            Err(WaitError::Cancelled) => Err("cancelled".into()),
            Err(WaitError::SignIn(why)) => Err(self.sign_in_stopped(&why)),
            Err(WaitError::Timeout(pool)) => Err(format!(
                "still not done after {}s (last seen: {})",
                timeout.as_secs(),
                pool.map(|p| describe(&p)).unwrap_or_else(|| "absent".into())
            )),
        }
    }

    /// Whether a failure at `step` rolls the pool back: the policy says so, the step is where the
    /// new pool failed (refused create, never steady, unhealthy), and the pre-run backup can be
    /// created again as it is (checked before the failed pool is deleted, so a rollback that could
    /// not finish never starts).
    fn rolls_back(&self, id: &str, step: Step, run: &PoolRun) -> Result<bool, String> {
        let where_new_fails = match run.strategy {
            Strategy::Recreate => matches!(step, Step::Create | Step::WaitReady | Step::WaitHealthy),
            Strategy::Rebuild => matches!(step, Step::Patch | Step::Scale | Step::WaitReady | Step::WaitHealthy),
            Strategy::InPlace => false,
        };
        if self.config.policy.on_unhealthy != OnUnhealthy::Rollback || !where_new_fails || self.cancel.is_cancelled() {
            return Ok(false);
        }
        if run.foreign {
            return Err("no rollback: the pool under this id is not one this run created".into());
        }
        match self.before(id).map(|b| &b.body) {
            None => Err("no rollback: the pool did not exist before the run".into()),
            Some(Err(why)) => Err(format!("no rollback: {why}")),
            Some(Ok(_)) => Ok(true),
        }
    }

    /// Deletes the failed new pool this run created: never the original one, never someone else's.
    async fn rollback_delete(&self, id: &str, run: &PoolRun) -> StepResult {
        let Some(pool) = self.live(id).await? else { return Ok(Outcome::Skipped("the new pool is not there".into())) };
        if pool.state == Some(PoolState::Deleting) {
            return Ok(Outcome::Done("already being deleted".into()));
        }
        self.expect_ours(id, &pool, run).map_err(|why| format!("{why}; not deleted, no rollback"))?;
        match self.client.delete_pool(id, pool.e_tag.as_deref()).await {
            Ok(()) => {
                self.snapshots.request_fast();
                Ok(Outcome::Done("the failed new pool is being deleted".into()))
            }
            Err(e) if e.is_not_found() => Ok(Outcome::Done("already gone".into())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Creates the pool from its pre-run backup.
    async fn rollback_create(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let before = self.before(id).ok_or("no pre-run backup")?;
        let body = before.body.as_ref().map_err(|why| format!("cannot roll back: {why}"))?;
        let deadline = Instant::now() + self.config.policy.wait_timeout;
        loop {
            match self.client.add_pool(body).await {
                Ok(()) => {
                    self.snapshots.request_fast();
                    run.new_creation = None;
                    return Ok(Outcome::Done("created again from the pre-run backup".into()));
                }
                Err(e) if e.code() == Some("PoolExists") => {
                    return Ok(Outcome::Done("a pool with this id exists again".into()));
                }
                Err(e) => match asks_to_wait(&e) {
                    Some(after) => self.wait_as_asked(id, Step::RollbackCreate, &e, after, deadline).await?,
                    None => return Err(e.to_string()),
                },
            }
        }
    }

    /// Waits `after` (what the service asked, throttling) before `step` calls again, saying so;
    /// refuses when that would pass `deadline`, naming the real cause.
    async fn wait_as_asked(
        &self,
        id: &str,
        step: Step,
        error: &BatchError,
        after: Duration,
        deadline: Instant,
    ) -> Result<(), String> {
        if Instant::now() + after > deadline {
            return Err(format!(
                "{error}; the service asks to wait {} s more, past this step's limit (wait_timeout {} s)",
                after.as_secs(),
                self.config.policy.wait_timeout.as_secs()
            ));
        }
        let code = error.code().unwrap_or("throttled");
        let detail = format!("the service asked to wait {} s before trying again ({code})", after.as_secs());
        tracing::warn!(pool = id, "{step}: {detail}");
        let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail });
        tokio::select! {
            _ = self.cancel.cancelled() => Err("cancelled".into()),
            _ = tokio::time::sleep(after) => Ok(()),
        }
    }

    /// What `patch` and `scale` bring the pool to: its definition, or rolling back, the pre-run
    /// backup as an add body.
    fn desired(&self, id: &str, back: bool) -> Result<(&Value, &Value), String> {
        let bodies = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no body for '{id}'"))?;
        if !back {
            return Ok((&bodies.clear, &bodies.sealed));
        }
        let before = bodies.before.as_ref().ok_or("no pre-run backup")?;
        let body = before.body.as_ref().map_err(|why| format!("cannot roll back: {why}"))?;
        Ok((body, &bodies.sealed))
    }

    /// Changes the pool in place to what it should be (PATCH; updateproperties to drop a start
    /// task). What only an empty pool takes is sent only to the pool this run drained and backed
    /// up, unchanged since (If-Match its ETag), never to one with nodes.
    async fn patch(&self, id: &str, run: &mut PoolRun, back: bool) -> StepResult {
        let (desired, sealed) = self.desired(id, back)?;
        let pool = self.live(id).await?;
        if let Some(outcome) = Self::absent_or_deleting(&pool) {
            return Ok(outcome);
        }
        let pool = pool.expect("present");
        self.expect_original(id, &pool, run)?;
        run.old_creation = run.old_creation.or(pool.creation_time);
        let definition = PoolDefinition { id: id.to_string(), body: desired.clone(), sealed: sealed.clone() };
        let plan = plan_pool(&definition, &pool, self.config.api_version);
        let requests = update::requests(&plan, desired, self.config.api_version);
        if requests.is_empty() {
            run.seen = Some(pool);
            return Ok(Outcome::Skipped("nothing to patch: the pool has these properties".into()));
        }
        let empty_only = plan.changes.iter().any(|c| c.apply == Apply::InPlaceWhenEmpty);
        if empty_only && (pool.current_nodes() > 0 || pool.target_nodes() > 0 || pool.autoscale() || !pool.is_steady())
        {
            return Err(format!("not patched: only an empty pool takes these changes, and it is {}", describe(&pool)));
        }
        if empty_only
            && let (Some(drained), Some(now)) = (&run.etag, &pool.e_tag)
            && drained != now
        {
            return Err(format!("changed by someone else since it was drained (ETag {drained} → {now}); not patched"));
        }
        // The first request carries the ETag seen; the next one follows the first's own change.
        let mut if_match = pool.e_tag.clone();
        let mut named = Vec::new();
        for request in &requests {
            let sent = match request {
                Update::Patch(body) => self.client.patch_pool(id, body, if_match.as_deref()).await,
                Update::Properties(body) => self.client.update_pool_properties(id, body, if_match.as_deref()).await,
            };
            if let Err(e) = sent {
                // A change that took effect but whose answer was lost is retried with the old
                // ETag and refused (412): what the pool has now decides, not the answer.
                let pool = self.live(id).await?.ok_or("the pool disappeared while it was patched")?;
                let plan = plan_pool(&definition, &pool, self.config.api_version);
                if !update::requests(&plan, desired, self.config.api_version).is_empty() {
                    return Err(match e.status() {
                        Some(412) => "changed by someone else meanwhile (ETag differs); not patched".into(),
                        _ => e.to_string(),
                    });
                }
                tracing::warn!(pool = id, "the answer to a PATCH was lost ({e}); the pool has the change");
            }
            if_match = None;
            named.extend(request.body().as_object().into_iter().flat_map(|m| m.keys().cloned()));
        }
        self.snapshots.request_fast();
        run.etag = None;
        let to = if back { "back to the pre-run backup" } else { "to the definition" };
        Ok(Outcome::Done(format!("patched {to}: {}", named.join(", "))))
    }

    /// Gives the pool the targets or the autoscale formula it should have.
    async fn scale(&self, id: &str, run: &PoolRun, back: bool) -> StepResult {
        // With the service's defaults (a resize timeout of 15 minutes), so the pool ends as its
        // definition says and not with the drain's timeout.
        let mut desired = self.desired(id, back)?.0.as_object().cloned().unwrap_or_default();
        crate::batch::defaults::apply(&mut desired, self.config.api_version);
        let capacity = Capacity::of(&Value::Object(desired));
        for _ in 0..5 {
            let pool = self.live(id).await?;
            if let Some(outcome) = Self::absent_or_deleting(&pool) {
                return Ok(outcome);
            }
            let pool = pool.expect("present");
            self.expect_original(id, &pool, run)?;
            if capacity.is_met_by(&pool) {
                return Ok(Outcome::Skipped(format!("already {}", capacity.describe())));
            }
            let sent = match &capacity {
                Capacity::Auto { formula, interval } => {
                    let request = EnableAutoScaleRequest {
                        auto_scale_formula: Some(formula.clone()),
                        auto_scale_evaluation_interval: *interval,
                    };
                    self.client.enable_autoscale(id, &request).await
                }
                Capacity::Fixed { .. } if pool.autoscale() => {
                    self.client.disable_autoscale(id).await.map_err(|e| e.to_string())?;
                    continue;
                }
                Capacity::Fixed { dedicated, low_priority, resize_timeout } => {
                    let resize = ResizeRequest {
                        target_dedicated_nodes: Some(*dedicated),
                        target_low_priority_nodes: Some(*low_priority),
                        resize_timeout: Some(resize_timeout.unwrap_or(self.config.policy.resize_timeout)),
                        // Fewer nodes than now must not kill running work.
                        node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                    };
                    self.client.resize_pool(id, &resize).await
                }
            };
            match sent {
                Ok(()) => {
                    self.snapshots.request_fast();
                    return Ok(Outcome::Done(format!("scaled: {}", capacity.describe())));
                }
                // Still settling (a resize in flight, autoscale just changed): wait and again.
                Err(e) if e.status() == Some(409) => {
                    self.wait(id, Step::Scale, self.config.policy.wait_timeout, |p| p.is_none_or(|p| p.is_steady()))
                        .await?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the pool kept refusing to scale (409); check it in the portal".into())
    }

    /// Rollback of a rebuild: the pool with the new spec is drained again before it is patched back.
    async fn rollback_drain(&self, id: &str, run: &mut PoolRun) -> StepResult {
        for step in [Step::DisableAutoscale, Step::StopResize, Step::WaitSteady, Step::ResizeToZero] {
            let outcome = Box::pin(self.step(id, step, run)).await?;
            if let Outcome::Jump(..) = outcome {
                return Ok(outcome);
            }
        }
        self.wait_drained(id, run).await
    }

    fn sign_in_stopped(&self, why: &str) -> String {
        format!(
            "sign-in kept failing for {} s ({why}); stopped safely, nothing more was changed: fix the credentials \
             (`repool info` shows the sign-in method), then `repool resume`",
            self.config.policy.sign_in_grace.as_secs()
        )
    }

    async fn wait_steady(&self, id: &str, run: &mut PoolRun) -> StepResult {
        if run.seen.as_ref().is_some_and(|p| p.is_steady()) {
            return Ok(Outcome::Done("steady".into()));
        }
        let pool = self
            .wait(id, Step::WaitSteady, self.config.policy.wait_timeout, |p| {
                p.is_none_or(|p| p.is_steady() || p.state == Some(PoolState::Deleting))
            })
            .await?;
        Ok(match (Self::absent_or_deleting(&pool), pool) {
            (Some(outcome), _) => outcome,
            (None, pool) => {
                if let Some(pool) = &pool {
                    self.expect_original(id, pool, run)?;
                }
                run.seen = pool;
                Outcome::Done("steady".into())
            }
        })
    }

    async fn resize_to_zero(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let resize = ResizeRequest {
            target_dedicated_nodes: Some(0),
            target_low_priority_nodes: Some(0),
            resize_timeout: Some(self.config.policy.drain_resize_timeout()),
            node_deallocation_option: Some(self.config.policy.node_deallocation_option.clone()),
        };
        for _ in 0..5 {
            let pool = self.seen_or_live(id, run).await?;
            if let Some(outcome) = Self::absent_or_deleting(&pool) {
                return Ok(outcome);
            }
            let pool = pool.expect("present");
            self.expect_original(id, &pool, run)?;
            if pool.autoscale() {
                return Err("autoscale was turned on again by someone else; stopped before draining".into());
            }
            if pool.target_nodes() == 0 && (pool.current_nodes() == 0 || !pool.is_steady()) {
                return Ok(Outcome::Skipped("targets already 0".into()));
            }
            match self.client.resize_pool(id, &resize).await {
                Ok(()) => {
                    let option = &self.config.policy.node_deallocation_option;
                    return Ok(Outcome::Done(format!(
                        "resize to 0 with {option}, timeout {}",
                        self.config.policy.drain_resize_timeout()
                    )));
                }
                // Not steady yet (a settle after disabling autoscale): wait and try again.
                Err(e) if e.status() == Some(409) => {
                    self.wait(id, Step::ResizeToZero, self.config.policy.wait_timeout, |p| {
                        p.is_none_or(|p| p.is_steady())
                    })
                    .await?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the pool kept refusing the resize to 0 (409); check it in the portal".into())
    }

    async fn wait_drained(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let policy = &self.config.policy;
        let drained_or_stuck =
            |p: Option<&Pool>| p.is_none_or(|p| p.is_steady() || p.state == Some(PoolState::Deleting));
        let mut deadline = Instant::now() + policy.drain_timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let grace = policy.sign_in_grace;
            let waited = self.snapshots.wait_for(id, remaining, grace, &self.cancel, drained_or_stuck).await;
            let pool = match waited {
                Ok(pool) => pool,
                Err(WaitError::Cancelled) => return Err("cancelled".into()),
                Err(WaitError::SignIn(why)) => return Err(self.sign_in_stopped(&why)),
                Err(WaitError::Timeout(pool)) => pool.map(|p| *p),
            };
            if let Some(outcome) = Self::absent_or_deleting(&pool) {
                return Ok(outcome);
            }
            let pool = pool.expect("present");
            self.expect_original(id, &pool, run)?;
            if pool.autoscale() || pool.target_nodes() > 0 {
                return Err(format!("changed by someone else while draining ({}); not deleted", describe(&pool)));
            }
            if pool.is_steady() && pool.current_nodes() == 0 {
                run.etag = pool.e_tag.clone();
                return Ok(Outcome::Done("drained: no nodes left".into()));
            }
            let errors = resize_error_codes(&pool);
            let stuck = format!("{} node(s) still running tasks{errors}", pool.current_nodes());
            match policy.on_drain_timeout {
                DrainTimeoutPolicy::Fail => {
                    let had = match self.before(id).and_then(|b| b.capacity.as_ref()) {
                        Some(capacity) => format!(" (before the run: {})", capacity.describe()),
                        None => String::new(),
                    };
                    return Err(format!(
                        "draining did not finish in {} s: {stuck}. The pool was NOT deleted and is left at 0 \
                         targets{had}: `repool resume --on-drain-timeout wait` keeps draining, `--on-drain-timeout \
                         force` deletes it anyway (running tasks are requeued); to give it its nodes back instead, \
                         resize it or enable its autoscale again (az batch pool resize / autoscale enable)",
                        policy.drain_timeout.as_secs()
                    ));
                }
                DrainTimeoutPolicy::Force => {
                    run.etag = pool.e_tag.clone();
                    run.warnings.push(format!("forced: {stuck}; their tasks are requeued by the delete"));
                    return Ok(Outcome::Done(format!("forced after drain timeout: {stuck}")));
                }
                DrainTimeoutPolicy::Wait => {
                    deadline = Instant::now() + policy.drain_timeout;
                    let _ = self.progress.send(Progress::Waiting {
                        pool: id.into(),
                        step: Step::WaitDrained,
                        detail: stuck,
                    });
                    if pool.is_steady() {
                        // The resize timed out with tasks still running: ask again and keep waiting.
                        let again = ResizeRequest {
                            target_dedicated_nodes: Some(0),
                            target_low_priority_nodes: Some(0),
                            resize_timeout: Some(policy.drain_resize_timeout()),
                            node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                        };
                        self.client.resize_pool(id, &again).await.map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }

    async fn backup(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = self.live(id).await?;
        if let Some(outcome) = Self::absent_or_deleting(&pool) {
            return Ok(outcome);
        }
        let pool = pool.expect("present");
        self.expect_original(id, &pool, run)?;
        self.check_unchanged(&pool, run)?;
        let live = serde_json::to_value(&pool).map_err(|e| e.to_string())?;
        let body = sealed::seal_live(&live, self.bodies.get(&id.to_lowercase()).map(|b| &b.sealed));
        let (dir, account) = (self.config.backup_dir.clone(), self.config.account.file_name());
        let path = backup::save_off_thread(dir, account, id, BackupKind::PreDelete, body, "not deleted").await?;
        run.backup = Some(path.display().to_string());
        run.etag = pool.e_tag.clone();
        run.old_creation = run.old_creation.or(pool.creation_time);
        Ok(Outcome::Done(format!("saved {}", path.display())))
    }

    /// Refuses a pool someone changed since it was drained.
    fn check_unchanged(&self, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        if pool.autoscale() || pool.target_nodes() > 0 {
            return Err(format!("changed by someone else since draining ({}); not deleted", describe(pool)));
        }
        if let (Some(expected), Some(now)) = (&run.etag, &pool.e_tag)
            && expected != now
        {
            return Err(format!("changed by someone else since draining (ETag {expected} → {now}); not deleted"));
        }
        let forced = self.config.policy.on_drain_timeout == DrainTimeoutPolicy::Force;
        if pool.current_nodes() > 0 && !forced {
            return Err(format!("{} node(s) appeared again; not deleted", pool.current_nodes()));
        }
        Ok(())
    }

    async fn delete(&self, id: &str, run: &mut PoolRun) -> StepResult {
        if run.backup.is_none() {
            return Err("no backup recorded for this pool; refusing to delete".into());
        }
        if !self.bodies.contains_key(&id.to_lowercase()) {
            return Err("no validated create body for this pool; refusing to delete".into());
        }
        let error = match self.client.delete_pool(id, run.etag.as_deref()).await {
            Ok(()) => {
                self.snapshots.request_fast();
                return Ok(Outcome::Done("delete accepted".into()));
            }
            Err(e) if e.is_not_found() => return Ok(Outcome::Done("already gone".into())),
            Err(e) if e.code() == Some("PoolBeingDeleted") => {
                return Ok(Outcome::Done("already being deleted".into()));
            }
            Err(e) => e,
        };
        // A delete that took effect but whose answer was lost is retried with the old ETag and
        // refused (412), or not answered at all: whether the pool is going decides.
        match self.live(id).await? {
            None => Ok(Outcome::Done(format!("gone (the answer to the delete was lost: {error})"))),
            Some(pool) if pool.state == Some(PoolState::Deleting) => {
                self.snapshots.request_fast();
                Ok(Outcome::Done(format!("being deleted (the answer to the delete was lost: {error})")))
            }
            Some(_) if error.status() == Some(412) => {
                Err("changed by someone else since the backup (ETag differs); not deleted".into())
            }
            Some(_) => Err(format!("{error}; the pool was not deleted")),
        }
    }

    /// Until the pool is gone; a pool that exists again and is not being deleted (someone created
    /// or restored it meanwhile) goes to create, which tells ours from someone else's.
    async fn wait_gone(&self, id: &str) -> StepResult {
        let deleting = |p: &Pool| p.state == Some(PoolState::Deleting);
        let seen =
            self.wait(id, Step::WaitGone, self.config.policy.wait_timeout, |p| p.is_none_or(|p| !deleting(p))).await?;
        Ok(match seen {
            None => Outcome::Done("gone".into()),
            Some(_) => {
                Outcome::Jump(Step::Create, "a pool with this id exists again; create checks whose it is".into())
            }
        })
    }

    async fn create(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let create = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no create body for '{id}'"))?;
        let body = &create.clear;
        let deadline = Instant::now() + self.config.policy.wait_timeout;
        for _ in 0..8 {
            let error = match self.client.add_pool(body).await {
                Ok(()) => {
                    self.snapshots.request_fast();
                    run.created = true;
                    return Ok(Outcome::Done("created from the definition".into()));
                }
                Err(e) => e,
            };
            // The pool is deleted: wait out what the service asks rather than leave it so.
            if let Some(after) = asks_to_wait(&error) {
                self.wait_as_asked(id, Step::Create, &error, after, deadline).await?;
                continue;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if error.code() == Some("PoolBeingDeleted") {
                self.wait(id, Step::Create, remaining, |p| p.is_none()).await?;
                continue;
            }
            // Whether an unanswered create took effect, or whose pool exists: the pool decides.
            let unanswered = matches!(error, BatchError::Transport { .. }) || error.status().is_some_and(|s| s >= 500);
            if error.code() != Some("PoolExists") && !unanswered {
                return Err(error.to_string());
            }
            match self.live(id).await? {
                Some(pool) if pool.state == Some(PoolState::Deleting) => {
                    self.wait(id, Step::Create, remaining, |p| p.is_none()).await?;
                }
                Some(pool) => {
                    return match self.expect_ours(id, &pool, run) {
                        Ok(()) => {
                            run.created = true;
                            Ok(Outcome::Done(
                                "already created by this run (an earlier answer was lost); matches the definition"
                                    .into(),
                            ))
                        }
                        Err(why) => {
                            run.foreign = true;
                            Err(why)
                        }
                    };
                }
                None => {}
            }
        }
        Err("could not create the pool after several attempts; `repool resume` tries again".into())
    }

    async fn wait_ready(&self, id: &str, step: Step, run: &mut PoolRun) -> StepResult {
        let pool = self.wait(id, step, self.config.policy.wait_timeout, |p| p.is_some_and(|p| p.is_steady())).await?;
        let pool = pool.ok_or("the new pool disappeared")?;
        self.expect_expected(id, step, &pool, run)?;
        run.new_creation = pool.creation_time;
        let errors = resize_error_codes(&pool);
        if !errors.is_empty() {
            run.warnings.push(format!("the new pool reports resize errors{errors}"));
        }
        let done = format!("steady with {} node(s){errors}", pool.current_nodes());
        run.seen = Some(pool);
        Ok(Outcome::Done(done))
    }
}

/// Whether `error` asks to try again later (throttled, busy), and after how long.
fn asks_to_wait(error: &BatchError) -> Option<Duration> {
    let e = error.service()?;
    matches!(e.status, 429 | 503).then(|| e.retry_after.unwrap_or(Duration::from_secs(30)).max(Duration::from_secs(1)))
}

fn resize_error_codes(pool: &Pool) -> String {
    match &pool.resize_errors {
        Some(errors) if !errors.is_empty() => {
            format!(" ({})", errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(", "))
        }
        _ => String::new(),
    }
}

fn describe(pool: &Pool) -> String {
    format!(
        "{} {}, autoscale {}, nodes {}/{}",
        pool.state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
        pool.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
        if pool.autoscale() { "on" } else { "off" },
        pool.current_nodes(),
        pool.target_nodes()
    )
}
