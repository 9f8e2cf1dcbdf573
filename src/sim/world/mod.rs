//! The simulated account's state machine: pools, nodes and their tasks over simulated time.
//!
//! Node timelines are pure functions of time (appear → start → run tasks back to back → leave),
//! so the world advances lazily whenever it is looked at; no background task, deterministic for
//! a given seed. Timings follow batch-api.md §5.

mod capacity;
mod jobs;
mod node;
mod pool;
mod wire;

pub use jobs::{SimJob, SimTask, TaskRun, TaskView, background_job_id};
pub use node::{
    Cut, JobTaskRun, Leave, Outage, OutageKind, START_TASK_SECONDS, SimNode, start_task_outcome, symbolic_number,
    waits_for_task,
};
pub use pool::{Phase, SimPool};

use super::faults::Faults;
use super::formula;
use crate::batch::models::{
    AllocationState, AutoScaleRun, NodeCounts, NodeDeallocationOption, NodeState, Pool, PoolState, ResizeError,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Simulated-time durations (seconds) of the service's transitions.
#[derive(Clone, Debug)]
pub struct Timings {
    pub create_settle: f64,
    pub node_alloc: f64,
    pub node_alloc_spacing: f64,
    pub node_boot: f64,
    pub node_release: f64,
    pub node_reboot: f64,
    pub node_deallocate: f64,
    pub stop_settle: f64,
    pub disable_autoscale_settle: f64,
    pub delete_base: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            create_settle: 1.3,
            node_alloc: 30.0,
            node_alloc_spacing: 1.0,
            node_boot: 60.0,
            node_release: 15.0,
            node_reboot: 30.0,
            node_deallocate: 20.0,
            stop_settle: 10.0,
            disable_autoscale_settle: 40.0,
            delete_base: 20.0,
        }
    }
}

/// Simulated tasks on a pool's nodes: each ready node runs tasks of this length back to back.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub task_seconds: f64,
}

/// Counters for tests and benchmarks (`GET /_sim/stats`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// "METHOD operation status" → count.
    pub requests: BTreeMap<String, u64>,
    /// Tasks cut short by a resize (requeue/terminate); taskcompletion must keep this at 0.
    pub tasks_killed_by_resize: u64,
    /// Tasks cut short by a node operation (reboot, disable scheduling, deallocate with
    /// requeue/terminate).
    pub tasks_killed_by_node_ops: u64,
    /// Tasks requeued because their pool was deleted while they ran.
    pub tasks_killed_by_delete: u64,
    pub pools_created: u64,
    pub pools_deleted: u64,
    /// Simulated seconds each pool id spent in transitions (resizing, stopping, settling, deleting):
    /// its own service time, against which the recreation benchmark measures repool.
    pub service_seconds: BTreeMap<String, f64>,
}

pub struct World {
    /// Keyed by lower-cased id: ids are case-insensitive.
    pub pools: BTreeMap<String, SimPool>,
    pub timings: Timings,
    pub faults: Faults,
    pub rng: fastrand::Rng,
    pub stats: Stats,
    /// Keyed by lower-cased id, like pools.
    pub jobs: BTreeMap<String, SimJob>,
    /// Per pool (lower-cased id, whether or not it exists yet): the jobs' tasks waiting for a
    /// node, oldest first. A pool without waiting tasks costs nothing to advance.
    pub queues: BTreeMap<String, std::collections::VecDeque<jobs::Queued>>,
    etag_counter: u64,
}

pub const MAX_FORMULA_CHARS: usize = 8192;

impl World {
    pub fn new(seed: u64) -> Self {
        World {
            pools: BTreeMap::new(),
            timings: Timings::default(),
            faults: Faults::default(),
            rng: fastrand::Rng::with_seed(seed),
            stats: Stats::default(),
            jobs: BTreeMap::new(),
            queues: BTreeMap::new(),
            etag_counter: 0x8DE_0000_0000_0000,
        }
    }

    pub fn next_etag(&mut self) -> String {
        self.etag_counter += 1 + self.rng.u64(0..4096);
        format!("0x{:015X}", self.etag_counter)
    }

    pub fn find(&self, id: &str) -> Option<&SimPool> {
        self.pools.get(&id.to_lowercase())
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut SimPool> {
        self.pools.get_mut(&id.to_lowercase())
    }

    /// Brings every pool to simulated time `now`.
    pub fn advance(&mut self, now: f64, clock: &crate::sim::clock::SimClock) {
        let ids: Vec<String> = self.pools.keys().cloned().collect();
        for key in ids {
            self.advance_one(key, now, clock);
        }
    }

    /// Brings one pool (lower-cased id) to `now`: pools change independently, so a request about
    /// one pool costs the same in an account of ten thousand.
    pub fn advance_one(&mut self, key: String, now: f64, clock: &crate::sim::clock::SimClock) {
        self.settle_cuts(&key);
        let Some(pool) = self.pools.get_mut(&key) else { return };
        match pool.phase {
            Phase::Deleting { until } if until <= now => {
                let served = pool.end_transition(until);
                self.pools.remove(&key);
                self.stats.pools_deleted += 1;
                *self.stats.service_seconds.entry(key).or_default() += served;
            }
            _ => self.advance_pool(&key, now, clock),
        }
    }

    fn advance_pool(&mut self, key: &str, now: f64, clock: &crate::sim::clock::SimClock) {
        // Autoscale evaluations come due while steady.
        let due = {
            let pool = &self.pools[key];
            pool.wire.autoscale() && pool.phase == Phase::Steady && pool.next_autoscale_eval.is_some_and(|t| t <= now)
        };
        if due {
            let at = self.pools[key].next_autoscale_eval.expect("due");
            self.evaluate_and_apply_autoscale(key, at, clock);
        }
        let timings = self.timings.clone();
        let pool = self.pools.get_mut(key).expect("advancing a known pool");
        let served = match pool.phase.clone() {
            Phase::Resizing { started, deadline, failure } => {
                let done_at = pool.resize_done_at().max(started + timings.create_settle.min(deadline - started));
                if done_at <= deadline && done_at <= now {
                    if let Some((code, message)) = failure {
                        pool.wire.resize_errors = Some(vec![ResizeError { code, message, values: None }]);
                    }
                    Some(pool.set_steady(done_at, clock))
                } else if deadline <= now && done_at > deadline {
                    pool.cancel_pending_changes(deadline);
                    let errors: Vec<ResizeError> = pool
                        .unmet_kinds()
                        .into_iter()
                        .map(|kind| ResizeError {
                            code: "AllocationTimedout".into(),
                            message: format!(
                                "Desired number of {kind} nodes could not be allocated as the resize timeout was reached"
                            ),
                            values: None,
                        })
                        .collect();
                    // The service omits resizeErrors when there are none.
                    pool.wire.resize_errors = (!errors.is_empty()).then_some(errors);
                    Some(pool.set_steady(deadline, clock))
                } else {
                    None
                }
            }
            Phase::Stopping { until } if until <= now => {
                let errors: Vec<ResizeError> = pool
                    .unmet_kinds()
                    .into_iter()
                    .map(|kind| ResizeError {
                        code: "ResizeStopped".into(),
                        message: format!(
                            "Desired number of {kind} nodes could not be allocated due to a stop resize operation"
                        ),
                        values: None,
                    })
                    .collect();
                pool.wire.resize_errors = (!errors.is_empty()).then_some(errors);
                Some(pool.set_steady(until, clock))
            }
            Phase::Settling { until } if until <= now => Some(pool.set_steady(until, clock)),
            _ => None,
        };
        self.schedule(key, now);
        let pool = self.pools.get_mut(key).expect("advancing a known pool");
        pool.nodes.retain(|n| n.leaving.as_ref().is_none_or(|l| l.removal_at > now));
        pool.refresh_counts(now);
        if let Some(served) = served {
            *self.stats.service_seconds.entry(key.to_string()).or_default() += served;
        }
    }

    /// Adds a validated pool created at `created`, allocating its first nodes from `resize_from`
    /// (its targets, or its formula's); returns its key.
    pub fn admit(
        &mut self,
        mut pool: Pool,
        created: f64,
        resize_from: f64,
        workload: Option<Workload>,
        failure: Option<(String, String)>,
        clock: &crate::sim::clock::SimClock,
    ) -> String {
        let stamp = clock.timestamp(created);
        pool.e_tag = Some(self.next_etag());
        pool.last_modified = Some(stamp);
        pool.creation_time = Some(stamp);
        pool.state = Some(PoolState::Active);
        pool.state_transition_time = Some(stamp);
        let targets = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
        let timeout = pool.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        let (key, autoscale, id) = (pool.id().to_lowercase(), pool.autoscale(), pool.id().to_string());
        if workload.is_some() {
            self.add_background_job(&id, created);
        }
        let mut sim = SimPool::new(pool, workload);
        let timings = self.timings.clone();
        sim.start_resize(
            targets,
            NodeDeallocationOption::Requeue,
            resize_from,
            timeout,
            failure,
            &timings,
            &mut self.rng,
            clock,
        );
        self.pools.insert(key.clone(), sim);
        if autoscale {
            self.evaluate_and_apply_autoscale(&key, resize_from, clock);
        }
        key
    }

    /// Evaluates the pool's formula at `at`, records the run and resizes to its targets.
    /// Draws the allocation-failure fault for one growing resize (a create, a resize, an
    /// autoscale evaluation): (code, message) that will land in resizeErrors.
    pub fn draw_alloc_failure(&mut self) -> Option<(String, String)> {
        let World { faults, rng, .. } = self;
        faults.alloc_failure.hit(rng, "allocation").then(|| {
            if rng.bool() {
                (
                    "AccountCoreQuotaReached".to_string(),
                    "The specified account has reached VM core quota for the target VM size.".to_string(),
                )
            } else {
                (
                    "AllocationFailed".to_string(),
                    "Desired number of dedicated nodes could not be allocated due to an internal error.".to_string(),
                )
            }
        })
    }

    pub fn evaluate_and_apply_autoscale(&mut self, key: &str, at: f64, clock: &crate::sim::clock::SimClock) {
        let timings = self.timings.clone();
        let pool = self.pools.get(key).expect("known pool");
        let formula = pool.wire.auto_scale_formula.clone().unwrap_or_default();
        let current = (pool.wire.target_dedicated_nodes.unwrap_or(0), pool.wire.target_low_priority_nodes.unwrap_or(0));
        let run = formula::evaluate(&formula, &formula::Start::of(&pool.wire));
        // A formula that asks for more nodes meets allocation failures like any growing resize.
        let grows = run.targets.is_some_and(|t| t.0 + t.1 > current.0 + current.1);
        let failure = if grows { self.draw_alloc_failure() } else { None };
        let pool = self.pools.get_mut(key).expect("known pool");
        let interval = pool.wire.auto_scale_evaluation_interval.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        pool.next_autoscale_eval = Some(at + interval);
        pool.wire.auto_scale_run = Some(AutoScaleRun {
            timestamp: clock.timestamp(at),
            results: run.results.clone(),
            error: run.error.clone(),
        });
        if let Some(targets) = run.targets
            && targets != current
        {
            let dealloc = run.deallocation.unwrap_or(NodeDeallocationOption::Requeue);
            let timeout = pool.wire.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
            let mut rng = std::mem::replace(&mut self.rng, fastrand::Rng::new());
            let killed = pool.start_resize(targets, dealloc, at, timeout, failure, &timings, &mut rng, clock);
            self.rng = rng;
            self.stats.tasks_killed_by_resize += killed;
        }
    }
}
