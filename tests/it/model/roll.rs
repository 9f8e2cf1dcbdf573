//! The model's operator rolls and refreshes: `apply` of a start task change (roll: every node
//! rebooted a batch at a time) or `refresh` (every node replaced), to the end or killed at a
//! random journal instant then resumed or abandoned. The pool is never deleted, no task is cut
//! short, its capacity never drops below target − `--max-unavailable-nodes` (plus what a killed
//! batch had out), and once the run is over the pool has the formula or targets it began with.

use super::*;
use crate::common::capacity::CapacitySampler;

/// How many of each roll action the model drew (printed at the end of the test).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RollTally {
    pub roll: u32,
    pub refresh: u32,
    pub killed_resumed: u32,
    pub killed_abandoned: u32,
    /// Refused (the pool held by another run, nothing to change) or stopped short (exit 1).
    pub not_done: u32,
}

impl RollTally {
    pub(super) fn add(&mut self, other: RollTally) {
        self.roll += other.roll;
        self.refresh += other.refresh;
        self.killed_resumed += other.killed_resumed;
        self.killed_abandoned += other.killed_abandoned;
        self.not_done += other.not_done;
    }
}

/// The pool before the action: what must not change, and the floor its capacity keeps.
struct Before {
    created: Option<jiff::Timestamp>,
    /// Node id → boot time.
    boots: BTreeMap<String, f64>,
    killed: u64,
    runs: BTreeSet<String>,
    floor: u32,
}

impl Model {
    /// `apply` of a start task change (a roll) or `refresh [--surge N]` of a busy pool, with
    /// `--max-unavailable-nodes 1..=2`: to the end with `--json`, or SIGKILLed once the journal
    /// grew by a few lines and then resumed or abandoned at once.
    pub(super) async fn roll(&mut self) {
        let id = ["p-render", "p-ingest"][self.roll_rng.usize(..2)];
        if self.gone(id) {
            return;
        }
        let refresh = self.roll_rng.bool();
        let max_unavailable = self.roll_rng.u32(1..=2);
        let mut args = if refresh {
            let mut args = vec!["refresh".to_string(), "--pool".into(), id.into(), "--yes".into()];
            if self.roll_rng.bool() {
                args.extend(["--surge".into(), self.roll_rng.u32(1..=2).to_string()]);
            }
            args
        } else {
            let Some(definition) = self.start_task_changed(id) else { return };
            let definition = definition.display().to_string();
            vec!["apply".into(), "--pool".into(), id.into(), "--yes".into(), "--definition".into(), definition]
        };
        args.extend(["--max-unavailable-nodes".into(), max_unavailable.to_string()]);
        self.selected.insert(id.into());
        if refresh {
            self.rolls.refresh += 1;
        } else {
            self.rolls.roll += 1;
        }
        let before = self.before_roll(id, max_unavailable);
        let sampler = CapacitySampler::start(&self.sim, &[id.to_string()], Duration::from_millis(1));
        let what = if refresh { "refresh" } else { "roll" };
        let mut allowance = 0;
        if self.roll_rng.usize(..3) == 0 {
            // A batch journals a few lines: kill within the first batches.
            let (grow, extra) = (self.roll_rng.usize(1..8), Duration::from_millis(self.roll_rng.u64(0..20)));
            self.run_killed_at(what, args, grow, extra).await;
            if let Some(run) = self.new_run(&before) {
                // The batch the kill interrupted may still have its nodes out while the next runs.
                allowance = run.pool(id).nodes.batches.last().map_or(0, |b| b.len() as u32);
                self.after_kill(what, &run);
            }
        } else {
            args.push("--json".into());
            let (code, _) = self.run(what, args);
            if code != 0 {
                self.rolls.not_done += 1;
            }
        }
        let capacity = &sampler.finish().await[id];
        self.log.push(format!("  {id}: lowest {} nodes taking tasks, floor {}", capacity.lowest, before.floor));
        let context = format!("{}\n{what} of {id}: capacity {capacity:?}", self.history());
        self.check_rolled(id, &before, allowance, capacity.lowest, &context);
    }

    /// Pool `id`'s definition as exported, with a new start task, in a file of its own; None when
    /// the export fails (then there is nothing to roll). The secrets the service never returns
    /// (placeholders in the export) are filled in as the operator would: the registry password.
    fn start_task_changed(&mut self, id: &str) -> Option<PathBuf> {
        let (code, mut out, err) = output(&mut self.command(&["export".into(), "--pool".into(), id.into()]));
        while let Some(start) = out.find("{{ env(") {
            let end = start + out[start..].find(") }}")? + ") }}".len();
            out.replace_range(start..end, "model-registry-password");
        }
        let parsed = serde_json::from_str::<serde_json::Value>(&out).ok().filter(|_| code == 0);
        let Some(mut definition) = parsed else {
            panic!("{}\nexport --pool {id} → exit {code}, not a definition:\n{out}\n{err}", self.history());
        };
        self.start_tasks += 1;
        let command = format!("/bin/sh -c 'echo start task {}'", self.start_tasks);
        definition[id]["startTask"] = serde_json::json!({"commandLine": command, "waitForSuccess": true});
        let path = self.dir.path().join(format!("roll-{}.json", self.start_tasks));
        std::fs::write(&path, definition.to_string()).unwrap();
        Some(path)
    }

    fn before_roll(&self, id: &str, max_unavailable: u32) -> Before {
        let (created, boots, floor) = self.sim.with_world(|w, now| {
            let pool = w.find(id).unwrap();
            let boots = pool.visible_nodes(now).map(|n| (n.id.clone(), n.booted_at)).collect();
            let target =
                pool.wire.target_dedicated_nodes.unwrap_or(0) + pool.wire.target_low_priority_nodes.unwrap_or(0);
            // Nodes failed or on their way do not count: the floor is below what takes tasks now.
            let floor = target.min(pool.usable_nodes(now)).saturating_sub(max_unavailable);
            (pool.wire.creation_time, boots, floor)
        });
        let runs = self.runs().into_iter().map(|r| r.run).collect();
        Before { created, boots, killed: tasks_killed(&self.sim), runs, floor }
    }

    fn new_run(&self, before: &Before) -> Option<RunState> {
        self.runs().into_iter().find(|r| !before.runs.contains(&r.run))
    }

    /// Right after the kill: `resume` the run to the end, or `abandon` it.
    fn after_kill(&mut self, what: &str, run: &RunState) {
        if !run.is_closed() && !run.pending().is_empty() {
            if self.roll_rng.bool() {
                self.rolls.killed_resumed += 1;
                let args = vec!["resume".into(), run.run.clone(), "--yes".into(), "--json".into()];
                if self.run(&format!("resume the killed {what}"), args).0 != 0 {
                    self.rolls.not_done += 1;
                }
            } else {
                self.rolls.killed_abandoned += 1;
                self.run(
                    &format!("abandon the killed {what}"),
                    vec!["abandon".into(), run.run.clone(), "--yes".into()],
                );
            }
        }
    }

    /// The same pool, no task cut short, capacity above the floor (less what a killed batch had
    /// out); a run that is over left the formula or targets it found, and a refresh or roll done
    /// replaced or rebooted every node it found.
    fn check_rolled(&self, id: &str, before: &Before, allowance: u32, lowest: u32, context: &str) {
        let created = self.sim.with_world(|w, _| w.find(id).map(|p| p.wire.creation_time));
        assert_eq!(created, Some(before.created), "{context}\n{id} was deleted or replaced");
        assert_eq!(tasks_killed(&self.sim), before.killed, "{context}\na task was cut short");
        let floor = before.floor.saturating_sub(allowance);
        assert!(lowest >= floor, "{context}\n{id} fell below {floor} nodes taking tasks");
        let Some(run) = self.new_run(before) else { return };
        // Open (a resume stopped short: the model's other actions go on with it), or over before
        // it backed up the pool (then it changed nothing).
        if (!run.is_closed() && !run.pending().is_empty()) || run.target(id).is_none_or(|t| t.backup.is_none()) {
            return;
        }
        self.check_kept(&run.run, id, context);
        let pool = run.pool(id);
        if !pool.status.is_some_and(PoolStatus::is_done) {
            return;
        }
        let now: BTreeMap<String, f64> = self
            .sim
            .with_world(|w, now| w.find(id).unwrap().visible_nodes(now).map(|n| (n.id.clone(), n.booted_at)).collect());
        for node in pool.nodes.found.iter().flatten() {
            let (was, is) = (before.boots.get(node), now.get(node));
            match pool.strategy {
                Strategy::Refresh => assert!(is.is_none(), "{context}\n{node} was not replaced: {now:?}"),
                _ => assert!(is.is_none() || is > was, "{context}\n{node} was not rebooted: {now:?}"),
            }
        }
    }
}

/// Tasks the simulator saw cut short by a resize, a node operation or a pool deletion.
fn tasks_killed(sim: &repool::sim::RunningSim) -> u64 {
    let stats = sim.stats();
    stats.tasks_killed_by_node_ops + stats.tasks_killed_by_resize + stats.tasks_killed_by_delete
}
