//! Jobs and their tasks over simulated time. A job is bound to a pool by id; its tasks wait in
//! that pool's queue (`World::queues`) until a node of the pool is free, then run for their
//! symbolic length (`sleep N` in the command line, else the pool's task length, else 60 s) and
//! end with their symbolic exit code (`exit N`, else 0). Tasks are handed to nodes lazily, in
//! time order, when their pool is brought up to date: no work for a pool with nothing queued.
//!
//! A seeded busy pool also has a background job (`job-POOL`) with no stored tasks: its tasks are
//! the synthetic ones its nodes run back to back, named after the node and their sequence on it
//! (`task-XXXXXXXX-000042`), as far back as the node's current stretch (since it last booted,
//! took a job's task or had scheduling changed).

use super::*;
use crate::batch::models::TaskState;

/// How long a task runs when neither its command line nor its pool says.
const DEFAULT_TASK_SECONDS: f64 = 60.0;

#[derive(Clone, Debug)]
pub struct SimJob {
    pub id: String,
    pub pool_id: String,
    pub created: f64,
    pub e_tag: String,
    /// When it was terminated (it is `completed` from then on) and why (`terminateReason`).
    pub completed: Option<(f64, String)>,
    /// The add body's other properties, echoed (priority, constraints, metadata, …).
    pub rest: Map<String, Value>,
    /// Keyed by lower-cased id.
    pub tasks: BTreeMap<String, SimTask>,
    /// The seeded pool's job whose tasks are its nodes' synthetic ones.
    pub background: bool,
}

#[derive(Clone, Debug)]
pub struct SimTask {
    pub id: String,
    pub command_line: String,
    pub created: f64,
    /// When it last became active (added, or requeued).
    pub queued_at: f64,
    pub requeues: u32,
    pub run: Option<TaskRun>,
    pub rest: Map<String, Value>,
}

/// Where and when a task ran (or runs).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    pub node: String,
    pub start: f64,
    pub end: f64,
    /// None when it was terminated before its process ended.
    pub exit_code: Option<i64>,
}

/// A task waiting for a node of its job's pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Queued {
    pub job: String,
    pub task: String,
    pub at: f64,
}

/// A task as a request sees it at `now` (stored or synthetic).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub id: String,
    pub state: TaskState,
    pub created: f64,
    pub state_since: f64,
    pub command_line: String,
    pub run: Option<TaskRun>,
    pub requeues: u32,
    pub rest: Map<String, Value>,
}

impl SimTask {
    pub fn view(&self, now: f64) -> TaskView {
        let (state, since) = match &self.run {
            None => (TaskState::Active, self.queued_at),
            Some(run) if now < run.end => (TaskState::Running, run.start),
            Some(run) => (TaskState::Completed, run.end),
        };
        let run = self.run.clone().map(|mut run| {
            if now < run.end {
                run.exit_code = None;
            }
            run
        });
        TaskView {
            id: self.id.clone(),
            state,
            created: self.created,
            state_since: since,
            command_line: self.command_line.clone(),
            run,
            requeues: self.requeues,
            rest: self.rest.clone(),
        }
    }
}

/// The background job of a pool with simulated work.
pub fn background_job_id(pool_id: &str) -> String {
    format!("job-{pool_id}")
}

/// A short, stable name for a node in its synthetic tasks' ids.
fn node_tag(node: &SimNode) -> &str {
    node.id.get(6..14).unwrap_or(&node.id)
}

impl SimPool {
    /// The earliest instant from `from` on at which node `i` can take a job's task: booted with
    /// its start task done, usable, scheduling on, not leaving or going down, its own job's task
    /// over and at the end of the synthetic task it runs.
    fn free_at(&self, i: usize, from: f64) -> Option<f64> {
        let node = &self.nodes[i];
        let healthy = !node.unusable && node.start_outcome().is_none_or(|(code, wait)| code == 0 || !wait);
        let down = node.outage.as_ref().is_some_and(|o| o.kind == OutageKind::Deallocate);
        if !healthy || down || node.leaving.is_some() || !node.scheduling_enabled || self.is_deleting() {
            return None;
        }
        let mut at = from.max(node.appears_at).max(node.ready_at);
        if let Some(run) = &node.job_task {
            at = at.max(run.end);
        }
        if let Some(outage) = &node.outage {
            at = at.max(outage.until);
        }
        let at = if self.task_seconds().is_some() { self.task_end(node, at) } else { at };
        node.tasks_until.is_none_or(|until| at < until).then_some(at)
    }

    /// The synthetic tasks of node `node`'s current stretch by `now`, oldest first.
    fn synthetic_tasks(&self, node: &SimNode, job: &SimJob, now: f64) -> Vec<TaskView> {
        let Some(seconds) = self.task_seconds() else { return Vec::new() };
        let base = self.tasks_done(node, node.tasks_from);
        let done = self.tasks_done(node, now).saturating_sub(base);
        let task = |n: u64, start: f64, end: Option<f64>| TaskView {
            id: format!("task-{}-{n:06}", node_tag(node)),
            state: if end.is_some() { TaskState::Completed } else { TaskState::Running },
            created: start,
            state_since: end.unwrap_or(start),
            command_line: "/bin/sh -c 'simulated work'".into(),
            run: Some(TaskRun {
                node: node.id.clone(),
                start,
                end: end.unwrap_or(f64::INFINITY),
                exit_code: end.map(|_| 0),
            }),
            requeues: 0,
            rest: Map::new(),
        };
        let mut tasks: Vec<TaskView> = (0..done)
            .map(|j| {
                let start = node.tasks_from + j as f64 * seconds;
                task(base + j + 1, start.max(job.created), Some(start + seconds))
            })
            .collect();
        if self.job_task_at(node, now).is_none()
            && let Some(start) = self.task_started(node, now)
        {
            tasks.push(task(base + done + 1, start, None));
        }
        tasks
    }

    /// The id of the synthetic task node `node` runs at `now` (its `recentTasks`).
    pub fn synthetic_task_id(&self, node: &SimNode, now: f64) -> Option<String> {
        self.task_started(node, now)?;
        let done = self.tasks_done(node, now);
        Some(format!("task-{}-{:06}", node_tag(node), done + 1))
    }
}

impl World {
    /// A background job for a seeded pool with work, unless a job of that id exists.
    pub fn add_background_job(&mut self, pool_id: &str, created: f64) {
        let id = background_job_id(pool_id);
        let key = id.to_lowercase();
        if self.jobs.contains_key(&key) {
            return;
        }
        // No draw from the world's generator: seeded worlds keep their node ids and ETags.
        let e_tag = format!("0x8DE{:012X}", (created.abs() * 1000.0) as u64 & 0xFFFF_FFFF_FFFF);
        let job = SimJob {
            id,
            pool_id: pool_id.to_string(),
            created,
            e_tag,
            completed: None,
            rest: Map::new(),
            tasks: BTreeMap::new(),
            background: true,
        };
        self.jobs.insert(key, job);
    }

    /// Queues `task` (already stored in job `job_key`) on its pool at `at`, after every task
    /// that became active no later.
    pub fn enqueue(&mut self, job_key: &str, task_key: &str, at: f64) {
        let Some(pool) = self.jobs.get(job_key).map(|j| j.pool_id.to_lowercase()) else { return };
        let queue = self.queues.entry(pool).or_default();
        let position = queue.iter().position(|q| q.at > at).unwrap_or(queue.len());
        queue.insert(position, Queued { job: job_key.to_string(), task: task_key.to_string(), at });
    }

    /// Requeues or fails the jobs' tasks cut short on pool `key`'s nodes since it was last seen.
    pub(super) fn settle_cuts(&mut self, key: &str) {
        let Some(cuts) = self.pools.get_mut(key).map(|p| std::mem::take(&mut p.cuts)) else { return };
        for cut in cuts {
            let Some(task) = self.jobs.get_mut(&cut.job).and_then(|j| j.tasks.get_mut(&cut.task)) else { continue };
            if cut.requeue {
                task.run = None;
                task.requeues += 1;
                task.queued_at = cut.at;
                self.enqueue(&cut.job, &cut.task, cut.at);
            } else if let Some(run) = task.run.as_mut() {
                run.end = cut.at;
                run.exit_code = None;
            }
        }
    }

    /// Hands pool `key`'s queued tasks to its free nodes, up to `now`, oldest first.
    pub(super) fn schedule(&mut self, key: &str, now: f64) {
        let World { pools, queues, jobs, .. } = self;
        let (Some(queue), Some(pool)) = (queues.get_mut(key), pools.get_mut(key)) else { return };
        while let Some(head) = queue.front().cloned() {
            let Some(task) = jobs.get_mut(&head.job).and_then(|j| j.tasks.get_mut(&head.task)) else {
                queue.pop_front();
                continue;
            };
            let best = (0..pool.nodes.len())
                .filter_map(|i| pool.free_at(i, head.at).map(|at| (at, i)))
                .filter(|(at, _)| *at <= now)
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some((at, i)) = best else { break };
            let line = task.command_line.as_str();
            let seconds = symbolic_number(line, "sleep ")
                .map(|s| s as f64)
                .or(pool.task_seconds())
                .unwrap_or(DEFAULT_TASK_SECONDS)
                .max(1.0);
            let exit_code = symbolic_number(line, "exit ").unwrap_or(0);
            pool.fold_done(i, at);
            let node = &mut pool.nodes[i];
            let end = at + seconds;
            node.job_task = Some(JobTaskRun {
                job: head.job.clone(),
                task: head.task.clone(),
                start: at,
                end,
                cut: false,
                counted: false,
            });
            node.tasks_from = end;
            task.run = Some(TaskRun { node: node.id.clone(), start: at, end, exit_code: Some(exit_code) });
            queue.pop_front();
        }
    }

    /// Ends job `key`'s tasks running at `now` (terminated) and drops its queued ones.
    fn stop_job_tasks(&mut self, key: &str, now: f64) {
        let Some(pool_key) = self.jobs.get(key).map(|j| j.pool_id.to_lowercase()) else { return };
        if let Some(queue) = self.queues.get_mut(&pool_key) {
            queue.retain(|q| q.job != key);
        }
        if let Some(pool) = self.pools.get_mut(&pool_key) {
            for i in 0..pool.nodes.len() {
                if pool.nodes[i].job_task.as_ref().is_some_and(|r| r.job == key) {
                    pool.cut_job_task(i, now, false);
                }
            }
        }
        self.settle_cuts(&pool_key);
    }

    /// Terminates job `key` at `now` for `reason`: running tasks end as failures, waiting ones
    /// never run.
    pub fn terminate_job(&mut self, key: &str, now: f64, reason: String) {
        self.stop_job_tasks(key, now);
        if let Some(job) = self.jobs.get_mut(key) {
            job.completed.get_or_insert((now, reason));
        }
    }

    pub fn delete_job(&mut self, key: &str, now: f64) {
        self.stop_job_tasks(key, now);
        self.jobs.remove(key);
    }

    /// Job `key`'s tasks at `now` (stored and synthetic), by lower-cased id.
    pub fn job_tasks(&self, key: &str, now: f64) -> Vec<(String, TaskView)> {
        let Some(job) = self.jobs.get(key) else { return Vec::new() };
        let mut tasks: Vec<(String, TaskView)> = job.tasks.iter().map(|(k, t)| (k.clone(), t.view(now))).collect();
        if job.background
            && let Some(pool) = self.pools.get(&job.pool_id.to_lowercase())
        {
            for node in pool.visible_nodes(now) {
                tasks.extend(pool.synthetic_tasks(node, job, now).into_iter().map(|t| (t.id.to_lowercase(), t)));
            }
            tasks.sort_by(|a, b| a.0.cmp(&b.0));
        }
        tasks
    }

    /// One task of job `key` at `now`.
    pub fn job_task(&self, key: &str, task: &str, now: f64) -> Option<TaskView> {
        let job = self.jobs.get(key)?;
        let task = task.to_lowercase();
        if let Some(stored) = job.tasks.get(&task) {
            return Some(stored.view(now));
        }
        let pool = self.pools.get(&job.pool_id.to_lowercase()).filter(|_| job.background)?;
        let tag = task.strip_prefix("task-")?.split('-').next()?;
        let node = pool.visible_nodes(now).find(|n| node_tag(n).eq_ignore_ascii_case(tag))?;
        pool.synthetic_tasks(node, job, now).into_iter().find(|t| t.id.eq_ignore_ascii_case(&task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::SimClock;

    /// A steady pool `p` of two nodes ready at 100 (no synthetic work) and a job `j` on it.
    fn world() -> World {
        let mut world = World::new(1);
        let wire = Pool { id: Some("p".into()), ..Default::default() };
        let mut pool = SimPool::new(wire, None);
        pool.nodes.push(SimNode::new("tvmps_aaaaaaaa_d".into(), true, 40.0, 60.0, None, 1));
        pool.nodes.push(SimNode::new("tvmps_bbbbbbbb_d".into(), true, 40.0, 60.0, None, 2));
        world.pools.insert("p".into(), pool);
        let e_tag = world.next_etag();
        let job = SimJob {
            id: "j".into(),
            pool_id: "p".into(),
            created: 0.0,
            e_tag,
            completed: None,
            rest: Map::new(),
            tasks: BTreeMap::new(),
            background: false,
        };
        world.jobs.insert("j".into(), job);
        world
    }

    fn add(world: &mut World, id: &str, line: &str, at: f64) {
        let task = SimTask {
            id: id.into(),
            command_line: line.into(),
            created: at,
            queued_at: at,
            requeues: 0,
            run: None,
            rest: Map::new(),
        };
        world.jobs.get_mut("j").unwrap().tasks.insert(id.to_lowercase(), task);
        world.enqueue("j", &id.to_lowercase(), at);
    }

    fn state(world: &World, task: &str, now: f64) -> (TaskState, Option<String>) {
        let view = world.job_task("j", task, now).unwrap();
        (view.state, view.run.map(|r| r.node))
    }

    #[test]
    fn queued_tasks_run_on_free_nodes_in_order_then_wait_for_one() {
        let mut world = world();
        let clock = SimClock::new(1.0);
        for id in ["t1", "t2", "t3"] {
            add(&mut world, id, "sleep 50", 10.0);
        }
        world.advance(120.0, &clock);
        assert_eq!(state(&world, "t1", 120.0), (TaskState::Running, Some("tvmps_aaaaaaaa_d".into())));
        assert_eq!(state(&world, "t2", 120.0), (TaskState::Running, Some("tvmps_bbbbbbbb_d".into())));
        assert_eq!(state(&world, "t3", 120.0).0, TaskState::Active, "both nodes are busy");
        world.advance(151.0, &clock);
        let t3 = world.job_task("j", "t3", 151.0).unwrap();
        assert_eq!((t3.state, t3.run.map(|r| r.start)), (TaskState::Running, Some(150.0)), "taken when t1 ended");
        assert_eq!(world.job_task("j", "t1", 151.0).unwrap().run.unwrap().exit_code, Some(0));
        let pool = &world.pools["p"];
        assert_eq!(pool.tasks_done(&pool.nodes[0], 151.0), 1);
    }

    #[test]
    fn requeue_puts_a_task_back_and_terminate_fails_it() {
        let mut world = world();
        let clock = SimClock::new(1.0);
        add(&mut world, "t1", "sleep 500", 0.0);
        add(&mut world, "t2", "sleep 500", 0.0);
        world.advance(120.0, &clock);
        let timings = Timings::default();
        let pool = world.pools.get_mut("p").unwrap();
        assert!(pool.reboot_node(0, &NodeDeallocationOption::Requeue, 120.0, &timings));
        pool.disable_scheduling(1, &NodeDeallocationOption::Terminate, 120.0);
        world.advance(121.0, &clock);
        let t1 = world.job_task("j", "t1", 121.0).unwrap();
        assert_eq!((t1.state, t1.requeues), (TaskState::Active, 1));
        let t2 = world.job_task("j", "t2", 121.0).unwrap();
        assert_eq!((t2.state, t2.run.unwrap().exit_code), (TaskState::Completed, None));
        // Node 0 is back after its reboot and boot: the requeued task runs there.
        let back = 120.0 + timings.node_reboot + timings.node_boot;
        world.advance(back + 1.0, &clock);
        assert_eq!(state(&world, "t1", back + 1.0), (TaskState::Running, Some("tvmps_aaaaaaaa_d".into())));
    }

    #[test]
    fn taskcompletion_waits_for_a_jobs_task() {
        let mut world = world();
        let clock = SimClock::new(1.0);
        add(&mut world, "t1", "sleep 100", 0.0);
        world.advance(120.0, &clock);
        let pool = world.pools.get_mut("p").unwrap();
        pool.start_resize(
            (0, 0),
            NodeDeallocationOption::TaskCompletion,
            120.0,
            900.0,
            None,
            &Timings::default(),
            &mut fastrand::Rng::with_seed(1),
            &clock,
        );
        assert_eq!(pool.node_state(&pool.nodes[0], 150.0), NodeState::Running);
        assert_eq!(pool.nodes[0].leaving.as_ref().unwrap().task_until, 200.0);
        world.advance(201.0, &clock);
        assert_eq!(world.job_task("j", "t1", 201.0).unwrap().state, TaskState::Completed);
    }
}
