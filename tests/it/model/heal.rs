//! The model's operator heals: some nodes of a pool fail, then `heal` runs to the end or is
//! killed; a healed pool is the pool the heal began with.

use super::*;

impl Model {
    /// Some nodes of a pool fail (their start task, as before a fix applied in place; or one
    /// turns unusable), then `heal` it: to the end with `--json`, or killed at a random instant
    /// (resume and abandon are the model's other actions).
    pub(super) async fn heal(&mut self) {
        let id = ["p-render", "p-ingest"][self.heal_rng.usize(..2)];
        if self.gone(id) {
            return;
        }
        self.selected.insert(id.into());
        let unusable = self.heal_rng.bool();
        let pick = self.heal_rng.u64(..);
        let broken = self.sim.with_world(|w, now| {
            let pool = w.find_mut(id).unwrap();
            let visible: Vec<String> = pool.visible_nodes(now).map(|n| n.id.clone()).collect();
            let mut rng = fastrand::Rng::with_seed(pick);
            let chosen: Vec<String> = visible.into_iter().filter(|_| rng.bool()).collect();
            let failed = serde_json::json!({"commandLine": "cmd /c exit 3", "waitForSuccess": true});
            for node in pool.nodes.iter_mut().filter(|n| chosen.contains(&n.id)) {
                if unusable {
                    node.unusable = true;
                } else {
                    node.start_task = Some(failed.clone());
                }
            }
            chosen.len()
        });
        let how = if unusable { "unusable" } else { "start task failed" };
        self.log.push(format!("{broken} node(s) of {id}: {how}"));
        let mut args = vec!["heal".to_string(), "--pool".into(), id.into(), "--yes".into()];
        if self.heal_rng.bool() {
            args.extend(["--max-unavailable-nodes".into(), self.heal_rng.usize(1..4).to_string()]);
        }
        if self.heal_rng.usize(..3) == 0 {
            // A heal journals a few lines per batch: kill it within them.
            let (grow, extra) = (self.heal_rng.usize(1..6), Duration::from_millis(self.heal_rng.u64(0..20)));
            self.run_killed_at("heal", args, grow, extra).await;
        } else {
            args.push("--json".into());
            self.run("heal", args);
        }
    }

    /// A pool its heal, roll or refresh `run` is over with is the pool the run began with (its
    /// creation time), with the same formula, or for a fixed pool the same targets.
    pub(super) fn check_kept(&self, run: &str, id: &str, context: &str) {
        let state = self.runs().into_iter().find(|r| r.run == run).expect("the run's journal");
        let backup =
            state.target(id).and_then(|t| t.backup.clone()).expect("a heal, roll or refresh backs up its pool");
        let before: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
        let now = self.sim.with_world(|w, _| serde_json::to_value(&w.find(id).unwrap().wire).unwrap());
        let mut kept = vec!["creationTime", "enableAutoScale", "autoScaleFormula"];
        if before["enableAutoScale"] != true {
            kept.extend(["targetDedicatedNodes", "targetLowPriorityNodes"]);
        }
        for property in kept {
            assert_eq!(now.get(property), before.get(property), "{context}\n{id}.{property} changed");
        }
    }
}
