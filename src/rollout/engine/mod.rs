//! Runs the recreation of many pools concurrently, one journaled step at a time.
//!
//! Every step decides from the pool's live state, so running it again after a crash does the
//! right thing; the journal says where each pool was. Nothing is deleted unless the pool was
//! drained, backed up, and is unchanged since (ETag, autoscale, targets); the delete itself
//! carries `If-Match`, so a concurrent change makes it fail instead of losing work.

mod change;
mod choose;
mod drain;
mod health;
mod identity;
mod nodes;
mod replace;
mod surge;
mod window;

use window::{InWindow, Window};

use super::account::AccountId;
use super::backup::{self, BackupKind};
use super::batches::NodeHistory;
use super::journal::{Journal, Record, StepOutcome};
use super::policy::{DrainTimeoutPolicy, OnUnhealthy, RunPolicy};
use super::report::{PoolReport, PoolStatus, RunReport, RunStatus, StepReport};
use super::snapshots::{Pace, Snapshots, WaitError};
use super::step::Step;
use super::strategy::Strategy;
use super::update::{self, Capacity, Update};
use crate::batch::models::{AllocationState, EnableAutoScaleRequest, NodeDeallocationOption, PoolState, ResizeRequest};
use crate::batch::{ApiVersion, BatchClient, BatchError, Pool, PoolSummary};
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
    pub policy: RunPolicy,
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
    /// An earlier execution of the run sent the pool's create (the journal says so).
    pub create_sent: bool,
    /// The node batches earlier executions journaled (heal).
    pub nodes: NodeHistory,
    /// Step-through: a node-batch step pauses after each batch (resume continues with the next).
    pub one_batch: bool,
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
    /// Its targets (dedicated, low-priority), autoscaled or not: what a surge adds to.
    pub targets: Option<(u32, u32)>,
}

/// Driven by `rollout::run`, which hands it the run's create bodies.
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

/// How a step ended.
enum Outcome {
    Done(String),
    Skipped(String),
    /// Continue at another step (pool missing → create; pool deleting → wait gone).
    Jump(Step, String),
    /// Stopped inside the step (step-through, after a node batch): it is not finished, and the
    /// pool continues there.
    Pause(String),
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
    /// This run has sent the pool's create (now or in an earlier execution): until then no pool
    /// under its id can be the run's own.
    create_sent: bool,
    /// A pool this run did not create stands under the id: never rolled back (deleted).
    foreign: bool,
    /// The health gate's figures: the pool's target, nodes allocated, nodes healthy.
    capacity: Option<super::report::CapacityFigures>,
    /// The node batches so far (journaled), and what they did per node once done.
    nodes: NodeHistory,
    /// Pause after each batch (step-through).
    one_batch: bool,
    node_report: Vec<super::report::NodeReport>,
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
        let window = Window::new(config.unavailable, config.policy.max_unavailable);
        Engine { client, bodies, config: Arc::new(config), snapshots, progress, cancel, window }
    }

    /// Runs `targets` (at most `policy.parallel` at once); each stops after its `until` if given.
    pub(super) async fn run(&self, run_id: &str, journal: Journal, mut targets: Vec<PoolTarget>) -> RunReport {
        let started = jiff::Timestamp::now();
        // Pools already deleted but not yet created go first.
        targets.sort_by_key(|t| std::cmp::Reverse(t.start_at >= Step::Delete && t.start_at < Step::WaitReady));
        let policy = &self.config.policy;
        self.snapshots.poll_for_waits(Pace { interval: policy.poll_interval, fast: policy.fast_poll_interval });
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
            create_sent: target.create_sent,
            nodes: target.nodes.clone(),
            one_batch: target.one_batch,
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
            if !self.take_window_place(target, step, run).await {
                return (PoolStatus::Interrupted, Some(format!("stopped before {step}; `repool resume` continues")));
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
            let result = self.step(id, step, run, journal).await;
            let elapsed = began.elapsed();
            let strategy = target.strategy;
            let result = match result {
                // A rebuilt or patched pool that vanished is not created behind the operator's back.
                Ok(Outcome::Jump(to, detail)) if !strategy.chain().contains(&to) => Err(format!(
                    "{detail}: the pool is gone or being deleted, so it cannot be {}; `repool recreate` creates it",
                    match strategy {
                        Strategy::Rebuild => "rebuilt",
                        Strategy::Heal => "healed",
                        Strategy::Refresh => "refreshed",
                        Strategy::Roll => "rolled",
                        _ => "changed in place",
                    }
                )),
                other => other,
            };
            let (outcome, detail, next) = match result {
                Ok(Outcome::Done(detail)) => (StepOutcome::Ok, detail, strategy.next(step)),
                Ok(Outcome::Skipped(detail)) => (StepOutcome::Skipped, detail, strategy.next(step)),
                Ok(Outcome::Jump(to, detail)) => (StepOutcome::Skipped, detail, Some(to)),
                Ok(Outcome::Pause(detail)) => {
                    report.steps.push(StepReport::new(step, started_at, elapsed, "paused", Some(detail.clone())));
                    return (PoolStatus::Paused, Some(format!("{detail}; `repool resume` continues")));
                }
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
            if let Err(e) = Self::journal_finished(journal, id, step, outcome, &detail, next, run) {
                return (PoolStatus::Failed, Some(format!("cannot write the journal: {e}")));
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
                Some(to) if target.until != Some(step) => step = to,
                _ => return Self::ended(target, step, next, run),
            }
        }
    }

    /// Takes the pool's place in the `--max-unavailable` window when `step` needs one; false when
    /// cancelled while waiting. A pool enters before the drain's first change (waiting while the
    /// window is full, untouched: autoscale stays on); one past the resize to 0 (resumed after the
    /// drain, deleted) is unavailable anyway and enters at once.
    async fn take_window_place(&self, target: &PoolTarget, step: Step, run: &mut PoolRun) -> bool {
        if !target.strategy.holds_window(step) || run.unavailable.is_some() {
            return true;
        }
        let already = target.strategy.is_unavailable(step) && step != Step::ResizeToZero;
        if !already && self.window.is_full() {
            let max = self.config.policy.max_unavailable.unwrap_or_default();
            let what = match target.strategy.rolls_nodes() {
                true => "may have nodes taken out",
                false => "may be unavailable",
            };
            let detail = format!("waiting: at most {max} pool(s) {what} at once");
            let _ = self.progress.send(Progress::Waiting { pool: target.id.clone(), step, detail });
        }
        run.unavailable = self.window.enter(already, &self.cancel).await;
        run.unavailable.is_some()
    }

    /// Journals `step`'s end (with the drained ETag and the pre-delete backup where they belong),
    /// and the steps a jump to `next` skips, so a resume continues at the jump's target.
    fn journal_finished(
        journal: &Journal,
        id: &str,
        step: Step,
        outcome: StepOutcome,
        detail: &str,
        next: Option<Step>,
        run: &PoolRun,
    ) -> std::io::Result<()> {
        let (etag, backup) = match step {
            Step::WaitDrained | Step::Backup => (run.etag.clone(), run.backup.clone().filter(|_| step == Step::Backup)),
            _ => (None, None),
        };
        let detail = Some(detail.to_string());
        journal.queue(Record::StepFinished { pool: id.to_string(), step, outcome, detail, etag, backup })?;
        if let Some(to) = next {
            let mut skipped = run.strategy.next(step);
            while let Some(s) = skipped.filter(|s| *s < to) {
                let (pool, outcome) = (id.to_string(), StepOutcome::Skipped);
                let _ = journal.queue(Record::StepFinished {
                    pool,
                    step: s,
                    outcome,
                    detail: None,
                    etag: None,
                    backup: None,
                });
                skipped = run.strategy.next(s);
            }
        }
        Ok(())
    }

    /// How a pool ends after `step` (the last of its chain, or its `until`).
    fn ended(target: &PoolTarget, step: Step, next: Option<Step>, run: &PoolRun) -> (PoolStatus, Option<String>) {
        match next {
            None if step.is_rollback() => {
                let why = run.rollback_reason.clone().unwrap_or_else(|| "a failed create or health gate".into());
                (PoolStatus::RolledBack, Some(format!("rolled back to the pre-run backup after {why}")))
            }
            None => (target.strategy.done(), None),
            Some(_) => (PoolStatus::Paused, Some(format!("paused after {step}; `repool resume` continues"))),
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
        report.nodes = run.node_report.clone();
        let record = Record::PoolFinished { pool: id.to_string(), status, error: error.clone() };
        let _ = journal.append(record).await;
        let _ = self.progress.send(Progress::PoolFinished { pool: id.to_string(), status, error });
        report
    }

    async fn step(&self, id: &str, step: Step, run: &mut PoolRun, journal: &Journal) -> StepResult {
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
            Step::WaitHealthy => self.wait_healthy(id, run, &journal.run_id()).await,
            Step::RollbackDelete => self.rollback_delete(id, run).await,
            Step::RollbackWaitGone => self.wait_gone(id).await,
            Step::RollbackCreate => self.rollback_create(id, run).await,
            Step::RollbackWaitReady => self.wait_ready(id, step, run).await,
            Step::Patch => self.patch(id, run, false).await,
            Step::Scale => self.scale(id, run, false).await,
            Step::RollbackDrain => self.rollback_drain(id, run, journal).await,
            Step::RollbackPatch => self.patch(id, run, true).await,
            Step::RollbackScale => self.scale(id, run, true).await,
            Step::HealNodes => self.heal_nodes(id, run, journal).await,
            Step::Surge => self.surge(id, run, journal).await,
            Step::RollNodes => self.roll_nodes(id, run, journal).await,
            Step::RollbackNodes => self.rollback_nodes(id, run, journal).await,
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

    async fn wait(
        &self,
        id: &str,
        step: Step,
        timeout: Duration,
        done: impl Fn(Option<&PoolSummary>) -> bool,
    ) -> Result<Option<Pool>, String> {
        let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail: "waiting".into() });
        match self.snapshots.wait_for(id, timeout, self.config.policy.sign_in_grace, &self.cancel, done).await {
            Ok(pool) => Ok(pool.map(Pool::from)),
            Err(WaitError::Cancelled) => Err("cancelled".into()),
            Err(WaitError::SignIn(why)) => Err(self.sign_in_stopped(&why)),
            Err(WaitError::Timeout(pool)) => Err(format!(
                "still not done after {}s (last seen: {})",
                timeout.as_secs(),
                pool.map(|p| describe(&Pool::from(*p))).unwrap_or_else(|| "absent".into())
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
            // Once nodes may have been changed: a refresh gets its capacity back (formula, targets
            // without the surge), a roll is also patched back and its rebooted nodes rebooted again.
            Strategy::Refresh | Strategy::Roll => matches!(
                step,
                Step::Surge | Step::Patch | Step::RollNodes | Step::Scale | Step::WaitReady | Step::WaitHealthy
            ),
            Strategy::InPlace | Strategy::Heal => false,
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

    fn sign_in_stopped(&self, why: &str) -> String {
        format!(
            "sign-in kept failing for {} s ({why}); stopped safely, nothing more was changed: fix the credentials \
             (`repool info` shows the sign-in method), then `repool resume`",
            self.config.policy.sign_in_grace.as_secs()
        )
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
