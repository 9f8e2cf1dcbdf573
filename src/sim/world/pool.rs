//! One simulated pool over time: allocation, resizing, deletion; a timeline computed from the
//! clock, advanced lazily (its nodes' own timelines are in node.rs).

use super::*;

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
    pub(super) busy_since: Option<f64>,
    /// Jobs' tasks cut short on its nodes, not yet requeued or failed in their jobs.
    pub cuts: Vec<Cut>,
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
            cuts: Vec::new(),
        }
    }

    /// Enters a transition; the time until steady (or gone) counts as service time.
    pub fn enter(&mut self, phase: Phase, now: f64) {
        self.busy_since.get_or_insert(now);
        self.phase = phase;
    }

    /// Ends the current transition at `at`; returns how long it took.
    pub(super) fn end_transition(&mut self, at: f64) -> f64 {
        self.busy_since.take().map_or(0.0, |since| at - since)
    }

    pub fn is_deleting(&self) -> bool {
        matches!(self.phase, Phase::Deleting { .. })
    }

    /// Nodes in the pool at `now` (allocated, not yet removed).
    pub fn visible_nodes(&self, now: f64) -> impl Iterator<Item = &SimNode> {
        self.nodes.iter().filter(move |n| n.appears_at <= now && n.leaving.as_ref().is_none_or(|l| l.removal_at > now))
    }

    /// The pool's start task as it is now: what a node joining or restarting runs.
    pub fn start_task(&self) -> Option<Value> {
        self.wire.rest.get("startTask").cloned()
    }

    pub(super) fn resize_done_at(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.leaving.as_ref().map(|l| l.removal_at).unwrap_or(n.appears_at))
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Returns the transition's service time.
    pub(super) fn set_steady(&mut self, at: f64, clock: &crate::sim::clock::SimClock) -> f64 {
        self.phase = Phase::Steady;
        self.wire.allocation_state = Some(AllocationState::Steady);
        self.wire.allocation_state_transition_time = Some(clock.timestamp(at));
        self.end_transition(at)
    }

    pub fn set_allocation(&mut self, state: AllocationState, at: f64, clock: &crate::sim::clock::SimClock) {
        self.wire.allocation_state = Some(state);
        self.wire.allocation_state_transition_time = Some(clock.timestamp(at));
    }

    /// Kinds ("dedicated", "low priority") whose current count misses the target.
    pub(super) fn unmet_kinds(&self) -> Vec<&'static str> {
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
        clock: &crate::sim::clock::SimClock,
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
                    // Its address from its id: no extra draw, so seeded worlds keep their node ids.
                    let address = u16::from_str_radix(&id[6..10], 16).unwrap_or(4);
                    let node = SimNode::new(id, dedicated, appears_at, timings.node_boot, self.start_task(), address);
                    self.nodes.push(node);
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
                    killed += u64::from(self.leave(i, &dealloc, now, timings));
                }
            }
        }
        self.refresh_counts(now);
        killed
    }

    /// Marks the pool deleting; returns how many running tasks are requeued.
    pub fn start_delete(&mut self, now: f64, timings: &Timings, clock: &crate::sim::clock::SimClock) -> u64 {
        let mut killed = 0;
        let any_nodes = self.visible_nodes(now).next().is_some();
        let ids: Vec<usize> = (0..self.nodes.len()).collect();
        for i in ids {
            if self.node_state(&self.nodes[i], now) == NodeState::Running {
                killed += 1;
            }
            self.cut_job_task(i, now, true);
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
}
