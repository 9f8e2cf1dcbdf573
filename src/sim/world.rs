//! The simulated account's state machine: pools, nodes and their tasks over simulated time.
//!
//! Node timelines are pure functions of time (appear → start → run tasks back to back → leave),
//! so the world advances lazily whenever it is looked at; no background task, deterministic for
//! a given seed. Timings follow batch-api.md §5.

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

#[derive(Clone, Debug)]
pub struct SimNode {
    pub id: String,
    pub dedicated: bool,
    pub appears_at: f64,
    pub ready_at: f64,
    pub leaving: Option<Leave>,
    pub tasks_started: u64,
    /// The start task this node ran when it joined (exit code, wait for success): a PATCH of the
    /// pool's start task reaches a node only when it restarts or is replaced, as on the service.
    pub start_task: Option<(i64, bool)>,
}

#[derive(Clone, Debug)]
pub struct Leave {
    pub since: f64,
    /// The node keeps running its task until then (taskcompletion / retaineddata).
    pub task_until: f64,
    pub removal_at: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Steady,
    Resizing { started: f64, deadline: f64, failure: Option<(String, String)> },
    Stopping { until: f64 },
    Settling { until: f64 },
    Deleting { until: f64 },
}

#[derive(Clone, Debug)]
pub struct SimPool {
    /// The wire form; dynamic fields are refreshed from the nodes on every look.
    pub wire: Pool,
    pub nodes: Vec<SimNode>,
    pub phase: Phase,
    pub workload: Option<Workload>,
    pub last_enable_autoscale: Option<f64>,
    pub next_autoscale_eval: Option<f64>,
    /// When the current service-side transition began (None while steady).
    busy_since: Option<f64>,
}

/// Counters for tests and benchmarks (`GET /_sim/stats`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// "METHOD operation status" → count.
    pub requests: BTreeMap<String, u64>,
    /// Tasks cut short by a resize (requeue/terminate); taskcompletion must keep this at 0.
    pub tasks_killed_by_resize: u64,
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
    pub fn advance(&mut self, now: f64, clock: &super::clock::SimClock) {
        let ids: Vec<String> = self.pools.keys().cloned().collect();
        for key in ids {
            self.advance_one(key, now, clock);
        }
    }

    /// Brings one pool (lower-cased id) to `now`: pools change independently, so a request about
    /// one pool costs the same in an account of ten thousand.
    pub fn advance_one(&mut self, key: String, now: f64, clock: &super::clock::SimClock) {
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

    fn advance_pool(&mut self, key: &str, now: f64, clock: &super::clock::SimClock) {
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
        clock: &super::clock::SimClock,
    ) -> String {
        let stamp = clock.timestamp(created);
        pool.e_tag = Some(self.next_etag());
        pool.last_modified = Some(stamp);
        pool.creation_time = Some(stamp);
        pool.state = Some(PoolState::Active);
        pool.state_transition_time = Some(stamp);
        let targets = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
        let timeout = pool.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        let (key, autoscale) = (pool.id().to_lowercase(), pool.autoscale());
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
    pub fn evaluate_and_apply_autoscale(&mut self, key: &str, at: f64, clock: &super::clock::SimClock) {
        let timings = self.timings.clone();
        let pool = self.pools.get_mut(key).expect("known pool");
        let formula = pool.wire.auto_scale_formula.clone().unwrap_or_default();
        let interval = pool.wire.auto_scale_evaluation_interval.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        pool.next_autoscale_eval = Some(at + interval);
        let run = formula::evaluate(&formula);
        pool.wire.auto_scale_run = Some(AutoScaleRun {
            timestamp: clock.timestamp(at),
            results: run.results.clone(),
            error: run.error.clone(),
        });
        if let Some(targets) = run.targets {
            let current =
                (pool.wire.target_dedicated_nodes.unwrap_or(0), pool.wire.target_low_priority_nodes.unwrap_or(0));
            if targets != current {
                let dealloc = run.deallocation.unwrap_or(NodeDeallocationOption::Requeue);
                let timeout = pool.wire.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
                let mut rng = std::mem::replace(&mut self.rng, fastrand::Rng::new());
                let killed = pool.start_resize(targets, dealloc, at, timeout, None, &timings, &mut rng, clock);
                self.rng = rng;
                self.stats.tasks_killed_by_resize += killed;
            }
        }
    }
}

impl SimPool {
    pub fn new(wire: Pool, workload: Option<Workload>) -> Self {
        SimPool {
            wire,
            nodes: Vec::new(),
            phase: Phase::Steady,
            workload,
            last_enable_autoscale: None,
            next_autoscale_eval: None,
            busy_since: None,
        }
    }

    /// Enters a transition; the time until steady (or gone) counts as service time.
    pub fn enter(&mut self, phase: Phase, now: f64) {
        self.busy_since.get_or_insert(now);
        self.phase = phase;
    }

    /// Ends the current transition at `at`; returns how long it took.
    fn end_transition(&mut self, at: f64) -> f64 {
        self.busy_since.take().map_or(0.0, |since| at - since)
    }

    pub fn is_deleting(&self) -> bool {
        matches!(self.phase, Phase::Deleting { .. })
    }

    /// Nodes in the pool at `now` (allocated, not yet removed).
    pub fn visible_nodes(&self, now: f64) -> impl Iterator<Item = &SimNode> {
        self.nodes.iter().filter(move |n| n.appears_at <= now && n.leaving.as_ref().is_none_or(|l| l.removal_at > now))
    }

    /// The start task's exit code (`exit N` in its command line, else 0) and whether nodes wait
    /// for it (`waitForSuccess`, default true); None without a start task. Symbolic: the command
    /// never runs, its `exit N` decides.
    pub fn start_task(&self) -> Option<(i64, bool)> {
        let task = self.wire.rest.get("startTask")?;
        let line = task.get("commandLine").and_then(Value::as_str).unwrap_or_default();
        let code = line
            .rsplit("exit ")
            .next()
            .filter(|_| line.contains("exit "))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0);
        Some((code, task.get("waitForSuccess").and_then(Value::as_bool).unwrap_or(true)))
    }

    /// The node's state at `now`.
    pub fn node_state(&self, node: &SimNode, now: f64) -> NodeState {
        if let Some(leave) = &node.leaving {
            return if now < leave.task_until { NodeState::Running } else { NodeState::LeavingPool };
        }
        if now < node.ready_at {
            NodeState::Starting
        } else if node.start_task.is_some_and(|(code, wait)| code != 0 && wait) {
            NodeState::StartTaskFailed
        } else if self.workload.is_some() && !self.is_deleting() {
            NodeState::Running
        } else {
            NodeState::Idle
        }
    }

    /// When the task running on `node` at `now` started, if one runs.
    pub fn task_started(&self, node: &SimNode, now: f64) -> Option<f64> {
        if self.node_state(node, now) != NodeState::Running {
            return None;
        }
        let seconds = self.workload.as_ref().map(|w| w.task_seconds).filter(|s| *s > 0.0)?;
        let end = match &node.leaving {
            Some(leave) => leave.task_until,
            None => self.task_end(node, now),
        };
        Some((end - seconds).max(node.ready_at))
    }

    /// When the task running at `now` on `node` ends (`now` itself if none runs).
    fn task_end(&self, node: &SimNode, now: f64) -> f64 {
        match &self.workload {
            Some(w) if now > node.ready_at && w.task_seconds > 0.0 => {
                let done = ((now - node.ready_at) / w.task_seconds).ceil();
                node.ready_at + done * w.task_seconds
            }
            _ => now,
        }
    }

    fn resize_done_at(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.leaving.as_ref().map(|l| l.removal_at).unwrap_or(n.appears_at))
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Returns the transition's service time.
    fn set_steady(&mut self, at: f64, clock: &super::clock::SimClock) -> f64 {
        self.phase = Phase::Steady;
        self.wire.allocation_state = Some(AllocationState::Steady);
        self.wire.allocation_state_transition_time = Some(clock.timestamp(at));
        self.end_transition(at)
    }

    pub fn set_allocation(&mut self, state: AllocationState, at: f64, clock: &super::clock::SimClock) {
        self.wire.allocation_state = Some(state);
        self.wire.allocation_state_transition_time = Some(clock.timestamp(at));
    }

    /// Kinds ("dedicated", "low priority") whose current count misses the target.
    fn unmet_kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.wire.current_dedicated_nodes != self.wire.target_dedicated_nodes {
            kinds.push("dedicated");
        }
        if self.wire.current_low_priority_nodes != self.wire.target_low_priority_nodes {
            kinds.push("low priority");
        }
        kinds
    }

    /// Drops allocations that had not happened by `at` and keeps nodes not yet removed.
    pub fn cancel_pending_changes(&mut self, at: f64) {
        self.nodes.retain(|n| n.appears_at <= at);
        for node in &mut self.nodes {
            if node.leaving.as_ref().is_some_and(|l| l.removal_at > at) {
                node.leaving = None;
            }
        }
        self.refresh_counts(at);
    }

    pub fn refresh_counts(&mut self, now: f64) {
        let (mut dedicated, mut low) = (0, 0);
        for node in self.visible_nodes(now) {
            if node.dedicated {
                dedicated += 1;
            } else {
                low += 1;
            }
        }
        self.wire.current_dedicated_nodes = Some(dedicated);
        self.wire.current_low_priority_nodes = Some(low);
    }

    pub fn node_counts(&self, now: f64) -> (NodeCounts, NodeCounts) {
        let (mut dedicated, mut low) = (NodeCounts::default(), NodeCounts::default());
        for node in self.visible_nodes(now) {
            let state = self.node_state(node, now);
            if node.dedicated { dedicated.add(&state) } else { low.add(&state) }
        }
        (dedicated, low)
    }

    /// Starts a resize to `targets` at `now`; returns how many running tasks were cut short.
    #[allow(clippy::too_many_arguments)]
    pub fn start_resize(
        &mut self,
        targets: (u32, u32),
        dealloc: NodeDeallocationOption,
        now: f64,
        timeout: f64,
        failure: Option<(String, String)>,
        timings: &Timings,
        rng: &mut fastrand::Rng,
        clock: &super::clock::SimClock,
    ) -> u64 {
        self.wire.target_dedicated_nodes = Some(targets.0);
        self.wire.target_low_priority_nodes = Some(targets.1);
        self.wire.resize_errors = None;
        self.set_allocation(AllocationState::Resizing, now, clock);
        self.enter(Phase::Resizing { started: now, deadline: now + timeout, failure: failure.clone() }, now);
        let mut killed = 0;
        for (dedicated, target) in [(true, targets.0), (false, targets.1)] {
            // A failed allocation gets half of what it asked for.
            let reachable = if failure.is_some() { target / 2 } else { target };
            let staying: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].dedicated == dedicated && self.nodes[i].leaving.is_none())
                .collect();
            let have = staying.len() as u32;
            if have < reachable {
                for k in 0..(reachable - have) {
                    let appears_at = now + timings.node_alloc + k as f64 * timings.node_alloc_spacing + rng.f64();
                    let suffix = if dedicated { "d" } else { "p" };
                    let id = format!(
                        "tvmps_{:016x}{:016x}{:016x}{:016x}_{suffix}",
                        rng.u64(..),
                        rng.u64(..),
                        rng.u64(..),
                        rng.u64(..)
                    );
                    let start_task = self.start_task();
                    self.nodes.push(SimNode {
                        id,
                        dedicated,
                        appears_at,
                        ready_at: appears_at + timings.node_boot,
                        leaving: None,
                        tasks_started: 0,
                        start_task,
                    });
                }
            } else if have > target {
                // Remove the cheapest first: not yet allocated, then the ones whose task ends soonest.
                let mut order = staying;
                order.sort_by(|&a, &b| {
                    let key = |i: usize| {
                        let n = &self.nodes[i];
                        if n.appears_at > now { f64::MIN } else { self.task_end(n, now) }
                    };
                    key(a).total_cmp(&key(b))
                });
                for &i in order.iter().take((have - target) as usize) {
                    let running = self.node_state(&self.nodes[i], now) == NodeState::Running;
                    let waits = matches!(
                        dealloc,
                        NodeDeallocationOption::TaskCompletion | NodeDeallocationOption::RetainedData
                    );
                    let task_until = if waits { self.task_end(&self.nodes[i], now) } else { now };
                    if running && !waits && self.nodes[i].appears_at <= now {
                        killed += 1;
                    }
                    let removal_at =
                        if self.nodes[i].appears_at > now { now } else { task_until + timings.node_release };
                    self.nodes[i].leaving = Some(Leave { since: now, task_until, removal_at });
                }
            }
        }
        self.refresh_counts(now);
        killed
    }

    /// Marks the pool deleting; returns how many running tasks are requeued.
    pub fn start_delete(&mut self, now: f64, timings: &Timings, clock: &super::clock::SimClock) -> u64 {
        let mut killed = 0;
        let any_nodes = self.visible_nodes(now).next().is_some();
        let ids: Vec<usize> = (0..self.nodes.len()).collect();
        for i in ids {
            if self.node_state(&self.nodes[i], now) == NodeState::Running {
                killed += 1;
            }
            self.nodes[i].leaving = Some(Leave { since: now, task_until: now, removal_at: now + timings.node_release });
        }
        self.wire.state = Some(PoolState::Deleting);
        self.wire.state_transition_time = Some(clock.timestamp(now));
        self.wire.target_dedicated_nodes = Some(0);
        self.wire.target_low_priority_nodes = Some(0);
        self.set_allocation(AllocationState::Resizing, now, clock);
        let until = now + timings.delete_base + if any_nodes { timings.node_release * 2.0 } else { 0.0 };
        self.enter(Phase::Deleting { until }, now);
        killed
    }

    /// The wire JSON at `now`, in the service's property order, without secrets the service
    /// never returns.
    pub fn to_wire(&self, base_url: &str) -> Map<String, Value> {
        let mut pool = self.wire.clone();
        pool.url = Some(format!("{base_url}/pools/{}", pool.id()));
        match serde_json::to_value(&pool) {
            Ok(Value::Object(map)) => order_properties(map),
            _ => Map::new(),
        }
    }
}

/// Puts the properties after `enableInterNodeCommunication` in the order the service uses.
fn order_properties(mut map: Map<String, Value>) -> Map<String, Value> {
    const TAIL: [&str; 16] = [
        "certificateReferences",
        "metadata",
        "userAccounts",
        "startTask",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "virtualMachineConfiguration",
        "networkConfiguration",
        "applicationPackageReferences",
        "mountConfiguration",
        "identity",
        "upgradePolicy",
        "resourceTags",
        "stats",
        "targetNodeCommunicationMode",
        "currentNodeCommunicationMode",
    ];
    let mut tail = Map::new();
    for key in TAIL {
        if let Some(value) = map.shift_remove(key) {
            tail.insert(key.to_string(), value);
        }
    }
    let mut others = Map::new();
    let head_keys: Vec<String> = map.keys().cloned().collect();
    for key in head_keys {
        if !is_typed_key(&key)
            && let Some(v) = map.shift_remove(&key)
        {
            others.insert(key, v);
        }
    }
    map.extend(tail);
    map.extend(others);
    map
}

fn is_typed_key(key: &str) -> bool {
    matches!(
        key,
        "id" | "displayName"
            | "url"
            | "eTag"
            | "lastModified"
            | "creationTime"
            | "state"
            | "stateTransitionTime"
            | "allocationState"
            | "allocationStateTransitionTime"
            | "vmSize"
            | "resizeTimeout"
            | "currentDedicatedNodes"
            | "targetDedicatedNodes"
            | "currentLowPriorityNodes"
            | "targetLowPriorityNodes"
            | "resizeErrors"
            | "enableAutoScale"
            | "autoScaleFormula"
            | "autoScaleEvaluationInterval"
            | "autoScaleRun"
            | "enableInterNodeCommunication"
    )
}
