//! The steps a run takes on a pool and the chains they form (recreate, rebuild, in place, heal,
//! rollbacks).

use crate::named::named_enum;

named_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Step {
        DisableAutoscale = "disable-autoscale",
        StopResize = "stop-resize",
        WaitSteady = "wait-steady",
        ResizeToZero = "resize-to-zero",
        WaitDrained = "wait-drained",
        Backup = "backup",
        /// `apply`: the pool changed in place (PATCH, or updateproperties to remove a start task).
        Patch = "patch",
        /// `apply`: the pool's targets or autoscale formula set as the definition says.
        Scale = "scale",
        Delete = "delete",
        WaitGone = "wait-gone",
        Create = "create",
        WaitReady = "wait-ready",
        /// The health gate: nodes idle or running with their start task done, none failed.
        WaitHealthy = "wait-healthy",
        /// Rollback (`--on-unhealthy rollback`): the new pool goes, the pre-run backup comes back.
        RollbackDelete = "rollback-delete",
        RollbackWaitGone = "rollback-wait-gone",
        RollbackCreate = "rollback-create",
        RollbackWaitReady = "rollback-wait-ready",
        /// Rollback of a rebuild: drained again, patched back to the pre-run backup, scaled as it was.
        RollbackDrain = "rollback-drain",
        RollbackPatch = "rollback-patch",
        RollbackScale = "rollback-scale",
        /// Rollback of a roll: the nodes the roll rebooted rebooted again, a batch at a time, so
        /// they run the start task the pool was patched back to.
        RollbackNodes = "rollback-nodes",
        /// Heal: the pool's failed nodes rebooted or removed (and the pool sized back), a batch at
        /// a time, each batch settled before the next (`engine::nodes`).
        HealNodes = "heal-nodes",
        /// Refresh (`--surge N`): the pool's target raised by N first, so replacing nodes never
        /// takes it below its target (given back by the scale after the roll).
        Surge = "surge",
        /// Roll and refresh: every node the pool had when the step first looked rebooted (roll)
        /// or replaced (refresh) a batch at a time, each batch settled before the next.
        RollNodes = "roll-nodes",
    }
}

/// What a step does to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Does {
    /// Calls that change it (counted by --dry-run's "calls it would make").
    Changes,
    /// Watches it until a condition holds.
    Waits,
    /// Reads it only (the backup).
    Reads,
}

impl Step {
    /// The recreation: a new pool in the old one's place (docs/ARCHITECTURE.md, "Recreation of one pool").
    pub const RECREATE: [Step; 11] = [
        Step::DisableAutoscale,
        Step::StopResize,
        Step::WaitSteady,
        Step::ResizeToZero,
        Step::WaitDrained,
        Step::Backup,
        Step::Delete,
        Step::WaitGone,
        Step::Create,
        Step::WaitReady,
        Step::WaitHealthy,
    ];

    /// The steps of a rollback, in order: a chain of their own after a failed create or health gate.
    pub const ROLLBACK: [Step; 4] =
        [Step::RollbackDelete, Step::RollbackWaitGone, Step::RollbackCreate, Step::RollbackWaitReady];

    /// Rebuild (`apply` on an empty pool): no delete, the pool keeps its id, identity and jobs.
    pub const REBUILD: [Step; 10] = [
        Step::DisableAutoscale,
        Step::StopResize,
        Step::WaitSteady,
        Step::ResizeToZero,
        Step::WaitDrained,
        Step::Backup,
        Step::Patch,
        Step::Scale,
        Step::WaitReady,
        Step::WaitHealthy,
    ];

    pub const REBUILD_ROLLBACK: [Step; 4] =
        [Step::RollbackDrain, Step::RollbackPatch, Step::RollbackScale, Step::RollbackWaitReady];

    /// In place (`apply` of what the service changes at any time): nodes untouched; done only
    /// at its targets with healthy nodes, like every other change.
    pub const IN_PLACE: [Step; 4] = [Step::Patch, Step::Scale, Step::WaitReady, Step::WaitHealthy];

    /// Heal (`repool heal`): failed nodes brought back, then the health gate; the pool itself
    /// (id, creation time, properties) is never changed.
    pub const HEAL: [Step; 2] = [Step::HealNodes, Step::WaitHealthy];

    /// Roll (`apply` of a start task or package change to a pool with nodes): autoscale held as
    /// refresh holds it (targets kept), patched in place, every node rebooted a batch at a time
    /// so it runs the pool's new start task, then the defined capacity (targets or formula).
    pub const ROLL: [Step; 8] = [
        Step::DisableAutoscale,
        Step::StopResize,
        Step::WaitSteady,
        Step::Patch,
        Step::RollNodes,
        Step::Scale,
        Step::WaitReady,
        Step::WaitHealthy,
    ];

    /// A roll that fails is patched back to the pre-run backup, the nodes it rebooted rebooted
    /// again (the old start task), and given the backup's capacity (its formula, or its targets).
    pub const ROLL_ROLLBACK: [Step; 4] =
        [Step::RollbackPatch, Step::RollbackNodes, Step::RollbackScale, Step::RollbackWaitReady];

    /// Refresh (`repool refresh`): autoscale held (targets kept), optional surge, every node
    /// replaced a batch at a time, then the pool's own capacity back (targets or formula).
    pub const REFRESH: [Step; 8] = [
        Step::DisableAutoscale,
        Step::StopResize,
        Step::WaitSteady,
        Step::Surge,
        Step::RollNodes,
        Step::Scale,
        Step::WaitReady,
        Step::WaitHealthy,
    ];

    /// A refresh that fails gets the pool's capacity back as the pre-run backup had it (its
    /// formula, or its targets without the surge); replaced nodes stay replaced.
    pub const REFRESH_ROLLBACK: [Step; 2] = [Step::RollbackScale, Step::RollbackWaitReady];

    pub fn is_rollback(self) -> bool {
        Step::ROLLBACK.contains(&self) || Step::REBUILD_ROLLBACK.contains(&self) || self == Step::RollbackNodes
    }

    /// Whether a pool at this step lacks its capacity: from the resize to 0 until healthy
    /// (`--max-unavailable` bounds how many pools are here at once).
    pub fn is_unavailable(self) -> bool {
        (self >= Step::ResizeToZero && self <= Step::WaitHealthy) || self.is_rollback()
    }

    /// Each step's short label (the TUI's progress track) and what it does, in one table.
    fn facts(self) -> (&'static str, Does) {
        use Does::*;
        match self {
            Step::DisableAutoscale => ("auto", Changes),
            Step::StopResize => ("stop", Changes),
            Step::WaitSteady => ("steady", Waits),
            Step::ResizeToZero => ("resize0", Changes),
            Step::WaitDrained => ("drain", Waits),
            Step::Backup => ("backup", Reads),
            Step::Patch => ("patch", Changes),
            Step::Scale => ("scale", Changes),
            Step::Delete => ("delete", Changes),
            Step::WaitGone => ("gone", Waits),
            Step::Create => ("create", Changes),
            Step::WaitReady => ("ready", Waits),
            Step::WaitHealthy => ("healthy", Waits),
            Step::RollbackDelete => ("rb-delete", Changes),
            Step::RollbackWaitGone => ("rb-gone", Waits),
            Step::RollbackCreate => ("rb-create", Changes),
            Step::RollbackWaitReady => ("rb-ready", Waits),
            Step::RollbackDrain => ("rb-drain", Changes),
            Step::RollbackPatch => ("rb-patch", Changes),
            Step::RollbackScale => ("rb-scale", Changes),
            Step::RollbackNodes => ("rb-nodes", Changes),
            Step::HealNodes => ("nodes", Changes),
            Step::Surge => ("surge", Changes),
            Step::RollNodes => ("roll", Changes),
        }
    }

    /// Short label for narrow displays (the TUI's progress track).
    pub fn short(self) -> &'static str {
        self.facts().0
    }

    /// Steps that change the account (counted by --dry-run's "calls it would make").
    pub fn mutates(self) -> bool {
        self.facts().1 == Does::Changes
    }

    /// Steps that watch the pool until it gets somewhere (progress says how far it is).
    pub fn is_wait(self) -> bool {
        self.facts().1 == Does::Waits
    }

    /// Accepts the names above and a few natural aliases (`drain`, `drained`, `gone`, `ready`).
    pub fn parse(text: &str) -> Result<Step, String> {
        let t = text.trim().to_lowercase().replace('_', "-");
        let alias = match t.as_str() {
            "drain" | "drained" => Some(Step::WaitDrained),
            "gone" => Some(Step::WaitGone),
            "ready" => Some(Step::WaitReady),
            "healthy" => Some(Step::WaitHealthy),
            "steady" => Some(Step::WaitSteady),
            _ => None,
        };
        let steps = || Step::RECREATE.into_iter().chain([Step::Patch, Step::Scale, Step::Surge, Step::RollNodes]);
        alias.or_else(|| steps().find(|s| s.name() == t)).ok_or_else(|| {
            let names: Vec<&str> = steps().map(|s| s.name()).collect();
            format!("'{text}' is not a step; steps: {}", names.join(", "))
        })
    }
}
