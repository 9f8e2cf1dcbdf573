//! The outcome of a run: per pool, its steps with timestamps and durations, backup, old and new
//! creation time, errors. `repool recreate --json` prints it; the TUI shows it.

use super::journal::RunState;
use super::probe::ProbeReport;
use super::step::Step;
use super::strategy::Strategy;
use crate::batch::Pool;
use crate::named::named_enum;
use serde::Serialize;
use std::time::Duration;

named_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum PoolStatus {
        Pending = "pending",
        Recreated = "recreated",
        /// `apply`: changed in place or rebuilt; the pool kept its id, creation time and identity.
        Updated = "updated",
        /// `heal`: its failed nodes rebooted or replaced, the pool itself untouched.
        Healed = "healed",
        /// `refresh`: every node it had replaced, the pool itself untouched.
        Refreshed = "refreshed",
        Failed = "failed",
        /// Created, but its nodes failed the health gate (start task failed, unusable, or too few in time).
        Unhealthy = "unhealthy",
        /// Not started: a canary pool before it did not come through.
        Held = "held",
        /// The new pool failed and was replaced by the pool as it was before the run.
        RolledBack = "rolled-back",
        /// Stopped after the requested step (`--until`, the TUI's step-through).
        Paused = "paused",
        /// Cancelled or crashed mid-run; `repool resume` continues.
        Interrupted = "interrupted",
    }
}

impl PoolStatus {
    /// The pool's work is done: recreated, or updated without recreating.
    pub fn is_done(self) -> bool {
        matches!(self, PoolStatus::Recreated | PoolStatus::Updated | PoolStatus::Healed | PoolStatus::Refreshed)
    }
}

named_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RunStatus {
        Done = "done",
        Paused = "paused",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Closed by the operator (`repool abandon`) without touching its pools.
        Abandoned = "abandoned",
    }
}

impl RunStatus {
    pub fn from_pools(pools: &[PoolReport], cancelled: bool) -> RunStatus {
        if cancelled {
            RunStatus::Cancelled
        } else if pools.iter().any(|p| {
            matches!(p.status, PoolStatus::Failed | PoolStatus::Unhealthy | PoolStatus::Held | PoolStatus::RolledBack)
        }) {
            RunStatus::Failed
        } else if pools.iter().any(|p| !p.status.is_done()) {
            RunStatus::Paused
        } else {
            RunStatus::Done
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub run_id: String,
    pub account: String,
    pub status: RunStatus,
    pub started: jiff::Timestamp,
    pub finished: jiff::Timestamp,
    pub journal: String,
    pub pools: Vec<PoolReport>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolReport {
    pub id: String,
    pub status: PoolStatus,
    pub steps: Vec<StepReport>,
    /// The pool as it was before the run touched it: what `repool restore --pool` gives back.
    pub backup: Option<String>,
    /// The drained pool right before the delete (its ETag guarded the delete).
    pub pre_delete_snapshot: Option<String>,
    pub old_creation_time: Option<jiff::Timestamp>,
    pub new_creation_time: Option<jiff::Timestamp>,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// With `--probe`: how the service judged the create body before the run (None: not probed).
    pub probe: Option<ProbeReport>,
    /// The health gate's figures (absent when the pool never reached it).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityFigures>,
    /// What a node-batch step did to each node (heal), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeReport>,
}

/// One node a run acted on and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub node: String,
    /// What was done, in order: ["reboot"], ["reboot", "remove"], ["remove"].
    pub actions: Vec<&'static str>,
    /// Where it is now: healthy, removed, or the state it is stuck in.
    pub outcome: String,
}

/// What the health gate saw: the nodes the pool targets (what its autoscale formula asked),
/// the nodes it has, and how many of them are healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CapacityFigures {
    pub target: u32,
    pub current: u32,
    pub healthy: u32,
}

impl PoolReport {
    pub fn new(id: &str) -> Self {
        PoolReport {
            id: id.to_string(),
            status: PoolStatus::Pending,
            steps: Vec::new(),
            backup: None,
            pre_delete_snapshot: None,
            old_creation_time: None,
            new_creation_time: None,
            error: None,
            warnings: Vec::new(),
            probe: None,
            capacity: None,
            nodes: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub step: Step,
    pub started: jiff::Timestamp,
    pub duration_seconds: f64,
    /// ok, skipped, failed
    pub outcome: String,
    pub detail: Option<String>,
}

impl StepReport {
    pub fn new(step: Step, started: jiff::Timestamp, elapsed: Duration, outcome: &str, detail: Option<String>) -> Self {
        StepReport {
            step,
            started,
            duration_seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            outcome: outcome.into(),
            detail,
        }
    }
}

/// A run `repool resume` can continue: not closed, and some pool has work left.
pub fn is_resumable(run: &RunState) -> bool {
    !run.is_closed() && !run.pending().is_empty()
}

/// A line per pool of a stopped run: where it stopped, and how to go on where work is left.
pub fn where_stopped(run: &RunState) -> Vec<String> {
    let pending = run.pending();
    run.targets
        .iter()
        .map(|t| {
            let pool = run.pool(&t.pool);
            let alarm = if pool.is_between_delete_and_create() { " (deleted, not yet recreated)" } else { "" };
            match pending.iter().find(|(id, _)| *id == t.pool) {
                Some((_, at)) => {
                    format!("{}: {}{alarm}; `repool resume {}` continues it at {at}", t.pool, pool.describe(), run.run)
                }
                None => format!("{}: {}", t.pool, pool.describe()),
            }
        })
        .collect()
}

/// What closing `run` would leave as the run left it, judged from the account as it is now
/// (`live`, one listing): pools deleted and not recreated, or drained (autoscale off, 0 target
/// nodes) where they had capacity before the run. A pool restored or scaled back since is not named.
pub fn left_behind(run: &RunState, live: &[Pool]) -> Vec<String> {
    let mut warnings = Vec::new();
    for t in &run.targets {
        let state = run.pool(&t.pool);
        let Some(reached) = state.in_flight.or(state.last_finished) else { continue };
        if state.status.is_some_and(PoolStatus::is_done) {
            continue;
        }
        let Some(pool) = live.iter().find(|p| p.id().eq_ignore_ascii_case(&t.pool)) else {
            if state.is_between_delete_and_create() {
                warnings.push(format!(
                    "'{}' was deleted by the run and is not in the account; restore it with `repool restore --pool {}`",
                    t.pool, t.pool
                ));
            }
            continue;
        };
        // Past its delete, the pool in the account is not the one the run drained: created anew
        // (with the definition's capacity) or put back by someone.
        if state.strategy == Strategy::Recreate && reached >= Step::Delete {
            continue;
        }
        let before: Option<Pool> = (t.backup.as_ref())
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        let Some(before) = before else { continue };
        let mut lost = Vec::new();
        if before.autoscale() && !pool.autoscale() {
            lost.push("autoscale is off (it was on before the run)".to_string());
        }
        if !pool.autoscale() && pool.target_nodes() == 0 && before.target_nodes() > 0 {
            lost.push(format!(
                "0 target nodes (before the run: {} dedicated, {} low-priority)",
                before.target_dedicated_nodes.unwrap_or(0),
                before.target_low_priority_nodes.unwrap_or(0)
            ));
        }
        // removenodes lowered a healed pool's targets; heal sizes it back only at the end of a batch.
        let short = |target: Option<u32>, before: Option<u32>| target.unwrap_or(0) < before.unwrap_or(0);
        if lost.is_empty()
            && state.strategy == Strategy::Heal
            && !pool.autoscale()
            && !before.autoscale()
            && (short(pool.target_dedicated_nodes, before.target_dedicated_nodes)
                || short(pool.target_low_priority_nodes, before.target_low_priority_nodes))
        {
            let (dedicated, low) =
                (before.target_dedicated_nodes.unwrap_or(0), before.target_low_priority_nodes.unwrap_or(0));
            warnings.push(format!(
                "'{}' is below the targets it had before the run: {} dedicated, {} low-priority (before: {dedicated}, \
                 {low}); resize it back (the dashboard's `z` on the pool, or `az batch pool resize --pool-id {} \
                 --target-dedicated-nodes {dedicated} --target-low-priority-nodes {low}`)",
                t.pool,
                pool.target_dedicated_nodes.unwrap_or(0),
                pool.target_low_priority_nodes.unwrap_or(0),
                t.pool
            ));
        }
        if !lost.is_empty() {
            warnings.push(format!(
                "'{}' was drained by the run: {}; set it back by hand (its pre-run backup: {})",
                t.pool,
                lost.join(", "),
                t.backup.as_deref().unwrap_or("-")
            ));
        }
    }
    warnings
}
