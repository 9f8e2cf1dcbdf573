//! One simulated node over time, and what an operator does to it: boot, start task, tasks back
//! to back; reboot, disable/enable scheduling, deallocate/start, removal. A timeline computed
//! from the clock, like the pool's: each operation only moves the instants it is made of.

use super::*;

#[derive(Clone, Debug)]
pub struct SimNode {
    pub id: String,
    pub dedicated: bool,
    pub appears_at: f64,
    /// When the current boot began: allocation, or the end of a reboot, or a start.
    pub booted_at: f64,
    /// When the current boot's start task ends and the node takes tasks.
    pub ready_at: f64,
    pub leaving: Option<Leave>,
    /// The start task this node ran on its current boot: a PATCH of the pool's start task
    /// reaches a node only when it reboots or is replaced, as on the service.
    pub start_task: Option<Value>,
    /// Tasks run back to back from here (the boot's ready time, or when scheduling came back).
    pub tasks_from: f64,
    /// No task runs from here on (scheduling disabled, or a reboot or deallocation coming).
    pub tasks_until: Option<f64>,
    /// Tasks completed before `tasks_from`.
    pub tasks_done_before: u64,
    pub scheduling_enabled: bool,
    pub outage: Option<Outage>,
    /// The node runs nothing and reports an error until it reboots or is removed (tests set it).
    pub unusable: bool,
    /// The last two bytes of its 10.0.x.y address.
    pub address: u16,
    /// The last task of a job (added through the API) this node took: its synthetic tasks
    /// pause while it runs and resume from `tasks_from` (its end).
    pub job_task: Option<JobTaskRun>,
}

/// A job's task on a node: [start, end), `end` moved to when it was cut short.
#[derive(Clone, Debug, PartialEq)]
pub struct JobTaskRun {
    /// Lower-cased job and task ids (the world's keys).
    pub job: String,
    pub task: String,
    pub start: f64,
    pub end: f64,
    /// Cut short by requeue/terminate: it does not count as run.
    pub cut: bool,
    /// Already in `tasks_done_before`.
    pub counted: bool,
}

/// A job's task cut short on a node, for the world to requeue or fail (`World::settle_cuts`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cut {
    pub job: String,
    pub task: String,
    pub at: f64,
    pub requeue: bool,
}

/// A reboot or deallocation: the node runs its last task until `down_at`, then is rebooting or
/// deallocating until `until` (a deallocated node stays so until started).
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    pub kind: OutageKind,
    pub down_at: f64,
    pub until: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    Reboot,
    Deallocate,
}

#[derive(Clone, Debug)]
pub struct Leave {
    pub since: f64,
    /// The node keeps running its task until then (taskcompletion / retaineddata).
    pub task_until: f64,
    pub removal_at: f64,
}

/// The exit code (`exit N` in the command line, else 0) and whether the node waits for success
/// (`waitForSuccess`, default true) of a symbolic start task: the command never runs.
pub fn start_task_outcome(task: &Value) -> (i64, bool) {
    let line = task.get("commandLine").and_then(Value::as_str).unwrap_or_default();
    (symbolic_number(line, "exit ").unwrap_or(0), task.get("waitForSuccess").and_then(Value::as_bool).unwrap_or(true))
}

/// The number after the last `word` in a symbolic command line (`exit 3`, `sleep 600`).
pub fn symbolic_number(line: &str, word: &str) -> Option<i64> {
    let rest = line.rsplit(word).next().filter(|_| line.contains(word))?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// How long a symbolic start task runs, at the end of a boot.
pub const START_TASK_SECONDS: f64 = 5.0;

impl SimNode {
    /// Boots at `at` with `start_task` (the pool's as it is then): it runs again, tasks after it.
    fn boot(&mut self, start_task: Option<serde_json::Value>, at: f64, timings: &Timings) {
        self.start_task = start_task;
        self.tasks_until = None;
        self.booted_at = at;
        self.ready_at = at + timings.node_boot;
        self.tasks_from = self.ready_at;
    }

    pub fn new(
        id: String,
        dedicated: bool,
        appears_at: f64,
        boot: f64,
        start_task: Option<Value>,
        address: u16,
    ) -> Self {
        SimNode {
            id,
            dedicated,
            appears_at,
            booted_at: appears_at,
            ready_at: appears_at + boot,
            leaving: None,
            start_task,
            tasks_from: appears_at + boot,
            tasks_until: None,
            tasks_done_before: 0,
            scheduling_enabled: true,
            outage: None,
            unusable: false,
            address,
            job_task: None,
        }
    }

    /// Its tasks start over at `at`, as if the node became ready then (tests: tasks that just began).
    pub fn tasks_begin_at(&mut self, at: f64) {
        (self.ready_at, self.tasks_from) = (at, at);
    }

    /// The start task's (exit code, wait for success), None without one.
    pub fn start_outcome(&self) -> Option<(i64, bool)> {
        self.start_task.as_ref().map(start_task_outcome)
    }

    /// When this boot's start task began.
    pub fn start_task_began(&self) -> f64 {
        (self.ready_at - START_TASK_SECONDS).max(self.booted_at)
    }

    /// A reboot or deallocation that has not begun yet (the node finishes its task first).
    fn pending_outage(&self, now: f64) -> Option<&Outage> {
        self.outage.as_ref().filter(|o| now < o.down_at)
    }
}

/// What an operation does to the task a node runs: cut it short (requeue, terminate) or let it end.
pub fn waits_for_task(option: &NodeDeallocationOption) -> bool {
    matches!(option, NodeDeallocationOption::TaskCompletion | NodeDeallocationOption::RetainedData)
}

impl SimPool {
    /// The node's state at `now`.
    pub fn node_state(&self, node: &SimNode, now: f64) -> NodeState {
        if let Some(leave) = &node.leaving {
            return if now < leave.task_until { NodeState::Running } else { NodeState::LeavingPool };
        }
        if node.pending_outage(now).is_some() {
            return NodeState::Running;
        }
        match &node.outage {
            Some(o) if o.kind == OutageKind::Deallocate => {
                return if now < o.until { NodeState::Deallocating } else { NodeState::Deallocated };
            }
            Some(o) if now < o.until => return NodeState::Rebooting,
            _ => {}
        }
        if now < node.ready_at {
            NodeState::Starting
        } else if node.unusable {
            NodeState::Unusable
        } else if node.start_outcome().is_some_and(|(code, wait)| code != 0 && wait) {
            NodeState::StartTaskFailed
        } else if self.runs_task(node, now) {
            NodeState::Running
        } else if !node.scheduling_enabled {
            NodeState::Offline
        } else {
            NodeState::Idle
        }
    }

    /// Whether a booted, usable node runs one of the pool's tasks at `now`.
    fn runs_task(&self, node: &SimNode, now: f64) -> bool {
        if self.job_task_at(node, now).is_some() {
            return !self.is_deleting();
        }
        self.workload.is_some()
            && !self.is_deleting()
            && now >= node.tasks_from
            && node.tasks_until.is_none_or(|until| now < until)
    }

    /// The job's task `node` runs at `now`, if one.
    pub fn job_task_at<'n>(&self, node: &'n SimNode, now: f64) -> Option<&'n JobTaskRun> {
        node.job_task.as_ref().filter(|r| r.start <= now && now < r.end)
    }

    pub(super) fn task_seconds(&self) -> Option<f64> {
        self.workload.as_ref().map(|w| w.task_seconds).filter(|s| *s > 0.0)
    }

    /// When the task running on `node` at `now` started, if one runs.
    pub fn task_started(&self, node: &SimNode, now: f64) -> Option<f64> {
        if self.node_state(node, now) != NodeState::Running {
            return None;
        }
        if let Some(run) = self.job_task_at(node, now) {
            return Some(run.start);
        }
        let seconds = self.task_seconds()?;
        let end = match &node.leaving {
            Some(leave) => leave.task_until,
            None => self.task_end(node, now),
        };
        Some((end - seconds).max(node.booted_at))
    }

    /// When the task running at `now` on `node` ends (`now` itself if none runs).
    pub(super) fn task_end(&self, node: &SimNode, now: f64) -> f64 {
        if let Some(outage) = node.pending_outage(now) {
            return outage.down_at;
        }
        if let Some(run) = self.job_task_at(node, now) {
            return run.end;
        }
        let Some(seconds) = self.task_seconds() else { return now };
        let until = node.tasks_until.unwrap_or(f64::INFINITY);
        if now <= node.tasks_from || now >= until || now < node.ready_at {
            return now;
        }
        let done = ((now - node.tasks_from) / seconds).ceil();
        (node.tasks_from + done * seconds).min(until)
    }

    /// Tasks the node completed by `now` (`totalTasksRun`; symbolic tasks all succeed).
    pub fn tasks_done(&self, node: &SimNode, now: f64) -> u64 {
        let healthy = !node.unusable && node.start_outcome().is_none_or(|(code, wait)| code == 0 || !wait);
        let stretch = match (self.task_seconds(), healthy) {
            (Some(seconds), true) => {
                let mut upto = now.min(node.tasks_until.unwrap_or(f64::INFINITY));
                if let Some(outage) = &node.outage {
                    upto = upto.min(outage.down_at);
                }
                if let Some(leave) = &node.leaving {
                    upto = upto.min(leave.task_until);
                }
                if upto > node.tasks_from { ((upto - node.tasks_from) / seconds).floor() as u64 } else { 0 }
            }
            _ => 0,
        };
        let job_task = node.job_task.as_ref().is_some_and(|r| !r.cut && !r.counted && r.end <= now);
        node.tasks_done_before + stretch + u64::from(job_task)
    }

    /// Folds what node `i` completed by `at` into `tasks_done_before` (its stretch starts over).
    pub(super) fn fold_done(&mut self, i: usize, at: f64) {
        let done = self.tasks_done(&self.nodes[i], at);
        let node = &mut self.nodes[i];
        node.tasks_done_before = done;
        if let Some(run) = node.job_task.as_mut().filter(|r| r.end <= at) {
            run.counted = true;
        }
    }

    /// Cuts short the job's task node `i` runs at `at`, if one: the world requeues it or fails it.
    pub(super) fn cut_job_task(&mut self, i: usize, at: f64, requeue: bool) -> bool {
        let Some(run) = self.nodes[i].job_task.as_mut().filter(|r| r.start <= at && at < r.end) else {
            return false;
        };
        run.end = at;
        run.cut = true;
        let cut = Cut { job: run.job.clone(), task: run.task.clone(), at, requeue };
        // Its synthetic tasks, if any, take the time it leaves.
        self.nodes[i].tasks_from = at;
        self.cuts.push(cut);
        true
    }

    /// When a node told to stop its task at `now` stops it (`option`), and whether a task is cut short.
    /// A node that runs nothing (a failed start task, unusable, starting) stops at once.
    fn stop_task(&mut self, i: usize, option: &NodeDeallocationOption, now: f64) -> (f64, bool) {
        let running = self.node_state(&self.nodes[i], now) == NodeState::Running;
        if !running {
            return (now, false);
        }
        if waits_for_task(option) {
            return (self.task_end(&self.nodes[i], now), false);
        }
        self.cut_job_task(i, now, *option != NodeDeallocationOption::Terminate);
        (now, running)
    }

    /// Marks node `i` leaving at `now` (a shrinking resize, removenodes); returns whether a
    /// running task was cut short.
    pub(super) fn leave(&mut self, i: usize, option: &NodeDeallocationOption, now: f64, timings: &Timings) -> bool {
        let (task_until, killed) = self.stop_task(i, option, now);
        let node = &mut self.nodes[i];
        let removal_at = if node.appears_at > now { now } else { task_until + timings.node_release };
        node.leaving = Some(Leave { since: now, task_until, removal_at });
        killed && node.appears_at <= now
    }

    /// Reboots node `i`: it finishes or loses its task (`option`), reboots, boots again and runs
    /// the pool's start task as it is now. Returns whether a running task was cut short.
    pub fn reboot_node(&mut self, i: usize, option: &NodeDeallocationOption, now: f64, timings: &Timings) -> bool {
        let (down_at, killed) = self.stop_task(i, option, now);
        self.fold_done(i, down_at);
        let start_task = self.wire.rest.get("startTask").cloned();
        let node = &mut self.nodes[i];
        let until = down_at + timings.node_reboot;
        node.outage = Some(Outage { kind: OutageKind::Reboot, down_at, until });
        node.unusable = false;
        node.boot(start_task, until, timings);
        killed
    }

    /// Deallocates node `i` (2025-06-01): like a reboot's first half; it stays deallocated until started.
    pub fn deallocate_node(&mut self, i: usize, option: &NodeDeallocationOption, now: f64, timings: &Timings) -> bool {
        let (down_at, killed) = self.stop_task(i, option, now);
        self.fold_done(i, down_at);
        let node = &mut self.nodes[i];
        node.outage = Some(Outage { kind: OutageKind::Deallocate, down_at, until: down_at + timings.node_deallocate });
        node.tasks_until = Some(down_at);
        killed
    }

    /// Starts a deallocated node: it boots and runs the pool's start task as it is now.
    pub fn start_node(&mut self, i: usize, now: f64, timings: &Timings) {
        let start_task = self.wire.rest.get("startTask").cloned();
        let node = &mut self.nodes[i];
        node.outage = None;
        node.boot(start_task, now, timings);
    }

    /// Stops scheduling on node `i`; its running task ends or is cut short (`option`). Returns
    /// whether a task was cut short.
    pub fn disable_scheduling(&mut self, i: usize, option: &NodeDeallocationOption, now: f64) -> bool {
        if !self.nodes[i].scheduling_enabled {
            return false;
        }
        let (until, killed) = self.stop_task(i, option, now);
        let node = &mut self.nodes[i];
        node.scheduling_enabled = false;
        node.tasks_until = Some(until.max(node.tasks_from).min(node.tasks_until.unwrap_or(f64::INFINITY)));
        killed
    }

    /// Lets node `i` take tasks again: the task it still finishes goes on, otherwise new ones start now.
    pub fn enable_scheduling(&mut self, i: usize, now: f64) {
        if self.nodes[i].scheduling_enabled {
            return;
        }
        self.nodes[i].scheduling_enabled = true;
        if self.nodes[i].outage.is_some() {
            return;
        }
        if self.nodes[i].tasks_until.is_some_and(|until| until <= now) {
            self.fold_done(i, now);
            let node = &mut self.nodes[i];
            node.tasks_from = node.tasks_from.max(now);
        }
        self.nodes[i].tasks_until = None;
    }

    /// Removes these nodes (indices) at `now` (removenodes): each kind's target drops by the nodes
    /// of that kind removed, and the pool resizes until they are gone. Returns tasks cut short.
    #[allow(clippy::too_many_arguments)]
    pub fn remove_nodes(
        &mut self,
        indices: &[usize],
        option: &NodeDeallocationOption,
        now: f64,
        timeout: f64,
        timings: &Timings,
        clock: &crate::sim::clock::SimClock,
    ) -> u64 {
        let mut killed = 0;
        for &i in indices {
            let target = if self.nodes[i].dedicated {
                &mut self.wire.target_dedicated_nodes
            } else {
                &mut self.wire.target_low_priority_nodes
            };
            *target = Some(target.unwrap_or(0).saturating_sub(1));
            killed += u64::from(self.leave(i, option, now, timings));
        }
        self.wire.resize_errors = None;
        self.set_allocation(AllocationState::Resizing, now, clock);
        self.enter(Phase::Resizing { started: now, deadline: now + timeout, failure: None }, now);
        self.refresh_counts(now);
        killed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::SimClock;
    use serde_json::json;

    /// A steady pool of one node, ready at 100, running 10-second tasks, with this start task.
    fn pool(start: Option<Value>) -> SimPool {
        let mut wire = Pool { id: Some("p".into()), ..Default::default() };
        if let Some(task) = &start {
            wire.rest.insert("startTask".into(), task.clone());
        }
        let mut pool = SimPool::new(wire, Some(Workload { task_seconds: 10.0 }));
        pool.nodes.push(SimNode::new("n1".into(), true, 40.0, 60.0, start, 4));
        pool.wire.target_dedicated_nodes = Some(1);
        pool
    }

    fn timings() -> Timings {
        Timings::default()
    }

    #[test]
    fn a_reboot_runs_the_pools_current_start_task_after_rebooting_and_starting() {
        let mut pool = pool(Some(json!({"commandLine": "sh -c 'exit 3'"})));
        let n = |p: &SimPool, t: f64| p.node_state(&p.nodes[0], t);
        assert_eq!(n(&pool, 120.0), NodeState::StartTaskFailed);
        pool.wire.rest.insert("startTask".into(), json!({"commandLine": "sh -c 'echo fixed'"}));
        assert_eq!(n(&pool, 130.0), NodeState::StartTaskFailed, "a patch reaches no running node");
        pool.reboot_node(0, &NodeDeallocationOption::Requeue, 130.0, &timings());
        let t = timings();
        assert_eq!(n(&pool, 131.0), NodeState::Rebooting);
        assert_eq!(n(&pool, 130.0 + t.node_reboot + 1.0), NodeState::Starting);
        let ready = 130.0 + t.node_reboot + t.node_boot;
        assert_eq!(n(&pool, ready + 1.0), NodeState::Running, "the fixed start task succeeded");
        assert_eq!(pool.nodes[0].start_outcome(), Some((0, true)));
    }

    #[test]
    fn a_failed_node_rebooted_with_taskcompletion_waits_for_no_task() {
        let mut pool = pool(Some(json!({"commandLine": "sh -c 'exit 3'", "waitForSuccess": true})));
        assert_eq!(pool.node_state(&pool.nodes[0], 115.0), NodeState::StartTaskFailed);
        assert!(!pool.reboot_node(0, &NodeDeallocationOption::TaskCompletion, 115.0, &timings()));
        assert_eq!(pool.node_state(&pool.nodes[0], 115.5), NodeState::Rebooting, "no task to finish first");
        assert_eq!(pool.task_started(&pool.nodes[0], 115.5), None);
    }

    #[test]
    fn taskcompletion_lets_the_task_end_requeue_cuts_it_short() {
        let mut pool = pool(None);
        // Tasks run 100–110, 110–120, …: at 115 one runs until 120.
        let mut waiting = pool.clone();
        assert!(!waiting.reboot_node(0, &NodeDeallocationOption::TaskCompletion, 115.0, &timings()));
        assert_eq!(waiting.node_state(&waiting.nodes[0], 119.0), NodeState::Running);
        assert_eq!(waiting.node_state(&waiting.nodes[0], 121.0), NodeState::Rebooting);
        assert_eq!(waiting.tasks_done(&waiting.nodes[0], 200.0), 2);
        assert!(pool.reboot_node(0, &NodeDeallocationOption::Requeue, 115.0, &timings()), "a task was cut short");
        assert_eq!(pool.node_state(&pool.nodes[0], 116.0), NodeState::Rebooting);
        assert_eq!(pool.tasks_done(&pool.nodes[0], 200.0), 1);
    }

    #[test]
    fn disabled_scheduling_goes_offline_after_the_task_and_back_to_running_when_enabled() {
        let mut pool = pool(None);
        assert!(!pool.disable_scheduling(0, &NodeDeallocationOption::TaskCompletion, 115.0));
        assert_eq!(pool.node_state(&pool.nodes[0], 119.0), NodeState::Running);
        assert_eq!(pool.node_state(&pool.nodes[0], 121.0), NodeState::Offline);
        assert_eq!(pool.tasks_done(&pool.nodes[0], 500.0), 2);
        pool.enable_scheduling(0, 200.0);
        assert_eq!(pool.node_state(&pool.nodes[0], 201.0), NodeState::Running);
        assert_eq!(pool.tasks_done(&pool.nodes[0], 215.0), 3);
    }

    #[test]
    fn removing_nodes_lowers_the_target_and_resizes_until_they_leave() {
        let mut pool = pool(None);
        let clock = SimClock::new(1.0);
        let killed = pool.remove_nodes(&[0], &NodeDeallocationOption::TaskCompletion, 115.0, 900.0, &timings(), &clock);
        assert_eq!((killed, pool.wire.target_dedicated_nodes), (0, Some(0)));
        assert_eq!(pool.wire.allocation_state, Some(AllocationState::Resizing));
        assert_eq!(pool.node_state(&pool.nodes[0], 119.0), NodeState::Running);
        assert_eq!(pool.node_state(&pool.nodes[0], 121.0), NodeState::LeavingPool);
        assert_eq!(pool.resize_done_at(), 120.0 + timings().node_release);
    }

    #[test]
    fn a_deallocated_node_stays_so_until_started() {
        let mut pool = pool(None);
        pool.deallocate_node(0, &NodeDeallocationOption::Terminate, 115.0, &timings());
        assert_eq!(pool.node_state(&pool.nodes[0], 116.0), NodeState::Deallocating);
        assert_eq!(pool.node_state(&pool.nodes[0], 10_000.0), NodeState::Deallocated);
        pool.start_node(0, 10_000.0, &timings());
        assert_eq!(pool.node_state(&pool.nodes[0], 10_001.0), NodeState::Starting);
        assert_eq!(pool.node_state(&pool.nodes[0], 10_000.0 + timings().node_boot + 1.0), NodeState::Running);
    }
}
