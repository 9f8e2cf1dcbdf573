//! How a run changes a pool: recreate it (delete, create), rebuild it in place while it is empty
//! (drain, PATCH, scale back), or change it in place (PATCH, nodes untouched). `apply` picks the
//! least disruptive one the plan allows; `recreate` always recreates.

use super::report::PoolStatus;
use super::run::Intent;
use super::step::Step;
use crate::batch::Pool;
use crate::batch::defaults::CAPACITY;
use crate::definition::plan::{Action, Apply, ChangeKind, Plan, PoolPlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a node takes only when it boots: a change to these rolls the pool's nodes.
const ON_RESTART: [&str; 2] = ["startTask", "applicationPackageReferences"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    #[default]
    Recreate,
    /// Drain to 0, PATCH what only an empty pool takes, scale back: the pool never stops existing.
    Rebuild,
    /// PATCH what the service changes at any time; no drain.
    InPlace,
    /// `repool heal`: failed nodes rebooted or removed a batch at a time; the pool is not changed.
    Heal,
    /// `apply` of what reaches nodes only when they restart (start task, packages): autoscale
    /// held, PATCH, every node rebooted a batch at a time, the capacity back; the pool keeps most
    /// of its capacity throughout.
    Roll,
    /// `repool refresh`: every node replaced a batch at a time (removed, the pool sized back),
    /// no definition change; the pool keeps its capacity (with `--surge`, its whole target).
    Refresh,
}

/// The pools changed without recreating: their live properties stay, so preflight refuses no
/// loss for them and probes no create.
pub fn kept<'a, S: std::borrow::Borrow<Strategy>>(
    strategies: impl IntoIterator<Item = (&'a String, S)>,
) -> Vec<String> {
    strategies.into_iter().filter(|(_, s)| *s.borrow() != Strategy::Recreate).map(|(id, _)| id.clone()).collect()
}

/// What a pool's plan says the least disruptive way is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// None: the pool matches its definition; nothing to do.
    pub strategy: Option<Strategy>,
    pub why: String,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::Rebuild => "rebuild when empty",
            Strategy::InPlace => "in place",
            Strategy::Heal => "heal nodes",
            Strategy::Roll => "roll nodes",
            Strategy::Refresh => "refresh nodes",
        }
    }

    /// How a pool that went through its whole chain ended.
    pub fn done(self) -> PoolStatus {
        match self {
            Strategy::Recreate => PoolStatus::Recreated,
            Strategy::Rebuild | Strategy::InPlace | Strategy::Roll => PoolStatus::Updated,
            Strategy::Heal => PoolStatus::Healed,
            Strategy::Refresh => PoolStatus::Refreshed,
        }
    }

    /// Whether the pool's chain takes the pool's capacity away (heal, roll and refresh take a
    /// few nodes at a time, never the pool: they hold no `--max-unavailable` place).
    fn changes_pool(self) -> bool {
        matches!(self, Strategy::Recreate | Strategy::Rebuild)
    }

    /// Whether the run needs a definition for the pool: heal and refresh act on the pool as the
    /// account has it (their record is the live pool, sealed).
    pub fn needs_definition(self) -> bool {
        !matches!(self, Strategy::Heal | Strategy::Refresh)
    }

    pub fn chain(self) -> &'static [Step] {
        match self {
            Strategy::Recreate => &Step::RECREATE,
            Strategy::Rebuild => &Step::REBUILD,
            Strategy::InPlace => &Step::IN_PLACE,
            Strategy::Heal => &Step::HEAL,
            Strategy::Roll => &Step::ROLL,
            Strategy::Refresh => &Step::REFRESH,
        }
    }

    /// What a failure rolls back through (an in-place change has nothing to roll back: it is
    /// applied again or not at all).
    pub fn rollback(self) -> &'static [Step] {
        match self {
            Strategy::Recreate => &Step::ROLLBACK,
            Strategy::Rebuild => &Step::REBUILD_ROLLBACK,
            Strategy::Refresh => &Step::REFRESH_ROLLBACK,
            Strategy::Roll => &Step::ROLL_ROLLBACK,
            Strategy::InPlace | Strategy::Heal => &[],
        }
    }

    pub fn first(self) -> Step {
        self.chain()[0]
    }

    /// The step after `step` in its chain (the strategy's, or its rollback's).
    pub fn next(self, step: Step) -> Option<Step> {
        let chain = if step.is_rollback() { self.rollback() } else { self.chain() };
        chain.iter().position(|s| *s == step).and_then(|i| chain.get(i + 1)).copied()
    }

    /// Whether the pool lacks its capacity at `step` (`--max-unavailable`); a roll or refresh
    /// lacks a few nodes while it takes them out.
    pub fn is_unavailable(self, step: Step) -> bool {
        (self.changes_pool() && step.is_unavailable())
            || (self.rolls_nodes() && matches!(step, Step::RollNodes | Step::RollbackNodes))
    }

    /// Whether a pool at `step` holds a place in the `--max-unavailable` window: from the drain's
    /// first change (so a pool waiting for a place is untouched, its autoscale still on) until
    /// the pool's task ends. A roll or refresh holds one from its first step: `--max-unavailable`
    /// bounds how many pools have nodes taken out at once.
    pub fn holds_window(self, step: Step) -> bool {
        let drains =
            step.is_unavailable() || matches!(step, Step::DisableAutoscale | Step::StopResize | Step::WaitSteady);
        (self.changes_pool() && drains) || self.rolls_nodes()
    }

    /// Roll and refresh: every node of the pool taken out a batch at a time, an autoscale pool's
    /// formula held off meanwhile (its targets kept) and given back at the end — by a rollback, a
    /// resume and `abandon` too.
    pub fn rolls_nodes(self) -> bool {
        matches!(self, Strategy::Roll | Strategy::Refresh)
    }

    /// How a run of `intent` changes each pool of `plan`: `recreate` always recreates; `apply` takes
    /// what each plan allows (a pool that matches already is changed in place, which finds nothing to do).
    /// `live`: the account's pools (a roll needs nodes); `roll`: false with `--no-roll`.
    pub fn for_plan(plan: &Plan, intent: Intent, live: &[Pool], roll: bool) -> BTreeMap<String, Strategy> {
        let strategy = |p: &PoolPlan| match intent {
            Intent::Recreate => Strategy::Recreate,
            Intent::Apply => Strategy::choose_live(p, live, roll).strategy.unwrap_or(Strategy::InPlace),
            Intent::Heal => Strategy::Heal,
            Intent::Refresh => Strategy::Refresh,
        };
        plan.pools.iter().map(|p| (p.id.clone(), strategy(p))).collect()
    }

    /// The least disruptive strategy for a pool's plan. `api_version` older than 2025-06-01
    /// patches nothing that needs an empty pool (the plan already says recreate for those).
    pub fn choose(plan: &PoolPlan) -> Choice {
        // The top-level properties that decide it, each once.
        let paths = |keep: &dyn Fn(&crate::definition::plan::Change) -> bool| {
            let mut tops: Vec<&str> = Vec::new();
            for change in plan.changes.iter().filter(|c| keep(c)) {
                let top = change.path.split(['.', '[']).next().unwrap_or_default();
                if !tops.contains(&top) {
                    tops.push(top);
                }
            }
            tops.join(", ")
        };
        match plan.action {
            Action::Unchanged => return Choice { strategy: None, why: "matches its definition".into() },
            Action::Create => {
                return Choice { strategy: Some(Strategy::Recreate), why: "not in the account: created".into() };
            }
            Action::UpdateInPlace | Action::Recreate => {}
        }
        // A PATCH leaves out what it does not name: an object or value the definition drops
        // can only go with a new pool (lists are emptied, a start task removed by updateproperties).
        let dropped = |c: &crate::definition::plan::Change| {
            let top = c.path.split(['.', '[']).next().unwrap_or_default();
            c.kind == ChangeKind::Removed
                && c.path == top
                && !c.live.as_ref().is_some_and(|v| v.is_array())
                && !CAPACITY.contains(&top)
                && top != "startTask"
        };
        let recreate = |c: &crate::definition::plan::Change| c.apply == Apply::Recreate || dropped(c);
        if plan.changes.iter().any(recreate) {
            return Choice {
                strategy: Some(Strategy::Recreate),
                why: format!("only a new pool can change {}", paths(&recreate)),
            };
        }
        let empty_only = |c: &crate::definition::plan::Change| c.apply == Apply::InPlaceWhenEmpty;
        if plan.changes.iter().any(empty_only) {
            return Choice {
                strategy: Some(Strategy::Rebuild),
                why: format!("{} change only on an empty pool", paths(&empty_only)),
            };
        }
        // The service takes these at any time, but a node gets them only when it boots again.
        let on_restart = |c: &crate::definition::plan::Change| {
            let top = c.path.split(['.', '[']).next().unwrap_or_default();
            ON_RESTART.contains(&top)
        };
        if plan.changes.iter().any(on_restart) {
            return Choice {
                strategy: Some(Strategy::Roll),
                why: format!(
                    "{} reach nodes only when they restart: patched, then every node rebooted with taskcompletion \
                     a batch at a time (the start task runs again, packages install on reboot)",
                    paths(&on_restart)
                ),
            };
        }
        Choice { strategy: Some(Strategy::InPlace), why: format!("{} change at any time", paths(&|_| true)) }
    }

    /// `choose`, knowing the live pool: what `apply` does, and what plan and dry run say it does.
    pub fn choose_live(plan: &PoolPlan, live: &[Pool], roll: bool) -> Choice {
        let pool = live.iter().find(|p| p.id().eq_ignore_ascii_case(&plan.id));
        let has_nodes = pool.is_some_and(|p| p.current_nodes() > 0 || p.target_nodes() > 0);
        let mut choice = Strategy::without_roll(Strategy::choose(plan), has_nodes, roll);
        if choice.strategy == Some(Strategy::Roll) && pool.is_some_and(Pool::autoscale) {
            choice.why.push_str("; autoscale held (its targets kept) until the end, then its formula back");
        }
        choice
    }

    /// A roll needs nodes: an empty pool (or `--no-roll`) is changed in place, and says why.
    pub fn without_roll(choice: Choice, has_nodes: bool, roll: bool) -> Choice {
        match choice.strategy {
            Some(Strategy::Roll) if !has_nodes => Choice {
                strategy: Some(Strategy::InPlace),
                why: "start task or packages change; the pool has no node, so in place is enough".into(),
            },
            Some(Strategy::Roll) if !roll => Choice {
                strategy: Some(Strategy::InPlace),
                why: "--no-roll: patched only; existing nodes keep the old start task and packages until they \
                      restart"
                    .into(),
            },
            _ => choice,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::plan::Change;
    use serde_json::json;

    fn plan(changes: Vec<(&str, ChangeKind, Apply, Option<serde_json::Value>)>) -> PoolPlan {
        let action = if changes.is_empty() { Action::Unchanged } else { Action::Recreate };
        let changes = changes
            .into_iter()
            .map(|(path, kind, apply, live)| Change { path: path.into(), kind, live, desired: None, apply })
            .collect();
        PoolPlan { id: "p".into(), action, changes }
    }

    #[test]
    fn the_least_disruptive_strategy_the_changes_allow() {
        use Apply::*;
        use ChangeKind::*;
        assert_eq!(Strategy::choose(&plan(vec![])).strategy, None);
        let metadata =
            plan(vec![("metadata", Changed, InPlace, None), ("startTask.commandLine", Changed, InPlace, None)]);
        assert_eq!(Strategy::choose(&metadata).strategy, Some(Strategy::Roll), "a start task reaches nodes on reboot");
        let only_metadata = plan(vec![("metadata", Changed, InPlace, None)]);
        assert_eq!(Strategy::choose(&only_metadata).strategy, Some(Strategy::InPlace));
        let roll = Strategy::choose(&metadata);
        assert!(roll.why.contains("startTask") && roll.why.contains("reboot"), "{}", roll.why);
        assert_eq!(Strategy::without_roll(roll.clone(), false, true).strategy, Some(Strategy::InPlace));
        assert!(Strategy::without_roll(roll.clone(), true, false).why.contains("--no-roll"));
        assert_eq!(Strategy::without_roll(roll, true, true).strategy, Some(Strategy::Roll));
        let size = plan(vec![("vmSize", Changed, InPlaceWhenEmpty, None), ("metadata", Changed, InPlace, None)]);
        let choice = Strategy::choose(&size);
        assert_eq!(choice.strategy, Some(Strategy::Rebuild));
        assert!(choice.why.contains("vmSize") && !choice.why.contains("metadata"), "{}", choice.why);
        let disk = plan(vec![
            ("vmSize", Changed, InPlaceWhenEmpty, None),
            ("virtualMachineConfiguration.dataDisks", Added, Recreate, None),
        ]);
        assert_eq!(Strategy::choose(&disk).strategy, Some(Strategy::Recreate));
        let dropped = plan(vec![("networkConfiguration", Removed, InPlaceWhenEmpty, Some(json!({"subnetId": "x"})))]);
        assert_eq!(Strategy::choose(&dropped).strategy, Some(Strategy::Recreate), "a PATCH cannot drop an object");
        let emptied = plan(vec![("userAccounts", Removed, InPlaceWhenEmpty, Some(json!([{"name": "a"}])))]);
        assert_eq!(Strategy::choose(&emptied).strategy, Some(Strategy::Rebuild), "a list is emptied");
        let no_start = plan(vec![("startTask", Removed, InPlace, Some(json!({"commandLine": "x"})))]);
        assert_eq!(Strategy::choose(&no_start).strategy, Some(Strategy::Roll));
    }

    #[test]
    fn chains_and_their_rollbacks() {
        assert_eq!(Strategy::Rebuild.next(Step::Backup), Some(Step::Patch));
        assert_eq!(Strategy::Rebuild.next(Step::Scale), Some(Step::WaitReady));
        assert_eq!(Strategy::Rebuild.next(Step::WaitHealthy), None);
        assert_eq!(Strategy::Rebuild.next(Step::RollbackPatch), Some(Step::RollbackScale));
        assert_eq!(Strategy::Recreate.next(Step::Backup), Some(Step::Delete));
        assert_eq!(Strategy::InPlace.next(Step::Patch), Some(Step::Scale));
        assert!(!Strategy::InPlace.is_unavailable(Step::Patch) && Strategy::Rebuild.is_unavailable(Step::Patch));
        assert!(!Strategy::Heal.holds_window(Step::WaitHealthy), "a heal takes nodes, not pools, out");
        assert!(Strategy::Roll.holds_window(Step::Patch) && Strategy::Refresh.holds_window(Step::DisableAutoscale));
        assert!(Strategy::Refresh.is_unavailable(Step::RollNodes) && !Strategy::Roll.is_unavailable(Step::Patch));
        assert_eq!(Strategy::Heal.next(Step::HealNodes), Some(Step::WaitHealthy));
        assert!(
            Strategy::Rebuild.chain().iter().all(|s| !matches!(s, Step::Delete | Step::Create)),
            "a rebuild never deletes"
        );
        // A roll holds autoscale as a refresh does: off before any node is touched, the capacity
        // back only after every node rebooted.
        let (roll, refresh) = (Strategy::Roll.chain(), Strategy::Refresh.chain());
        assert_eq!(roll[..3], refresh[..3], "{roll:?}");
        assert_eq!(Strategy::Roll.next(Step::WaitSteady), Some(Step::Patch));
        assert_eq!(Strategy::Roll.next(Step::Patch), Some(Step::RollNodes));
        assert_eq!(Strategy::Roll.next(Step::RollNodes), Some(Step::Scale));
        assert!(Strategy::Roll.rolls_nodes() && !Strategy::Rebuild.rolls_nodes() && !Strategy::Heal.rolls_nodes());
        // Its rollback: patched back, the rebooted nodes rebooted again, the capacity back.
        assert_eq!(Strategy::Roll.rollback().first(), Some(&Step::RollbackPatch));
        assert_eq!(Strategy::Roll.next(Step::RollbackPatch), Some(Step::RollbackNodes));
        assert_eq!(Strategy::Roll.next(Step::RollbackNodes), Some(Step::RollbackScale));
        assert_eq!(Strategy::Roll.next(Step::RollbackWaitReady), None);
        assert!(Step::RollbackNodes.is_rollback() && Step::RollbackNodes.mutates());
        assert!(Strategy::Roll.is_unavailable(Step::RollbackNodes), "its rollback takes nodes out too");
    }
}
