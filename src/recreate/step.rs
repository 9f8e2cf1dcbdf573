//! The steps of one pool's recreation, in order (docs/ARCHITECTURE.md, "Recreation of one pool").

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    DisableAutoscale,
    StopResize,
    WaitSteady,
    ResizeToZero,
    WaitDrained,
    Backup,
    /// `apply`: the pool changed in place (PATCH, or updateproperties to remove a start task).
    Patch,
    /// `apply`: the pool's targets or autoscale formula set as the definition says.
    Scale,
    Delete,
    WaitGone,
    Create,
    WaitReady,
    /// The health gate: nodes idle or running with their start task done, none failed.
    WaitHealthy,
    /// Rollback (`--on-unhealthy rollback`): the new pool goes, the pre-run backup comes back.
    RollbackDelete,
    RollbackWaitGone,
    RollbackCreate,
    RollbackWaitReady,
    /// Rollback of a rebuild: drained again, patched back to the pre-run backup, scaled as it was.
    RollbackDrain,
    RollbackPatch,
    RollbackScale,
}

impl Step {
    pub const ALL: [Step; 11] = [
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

    pub fn is_rollback(self) -> bool {
        Step::ROLLBACK.contains(&self) || Step::REBUILD_ROLLBACK.contains(&self)
    }

    /// Whether a pool at this step lacks its capacity: from the resize to 0 until healthy
    /// (`--max-unavailable` bounds how many pools are here at once).
    pub fn is_unavailable(self) -> bool {
        (self >= Step::ResizeToZero && self <= Step::WaitHealthy) || self.is_rollback()
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::DisableAutoscale => "disable-autoscale",
            Step::StopResize => "stop-resize",
            Step::WaitSteady => "wait-steady",
            Step::ResizeToZero => "resize-to-zero",
            Step::WaitDrained => "wait-drained",
            Step::Backup => "backup",
            Step::Patch => "patch",
            Step::Scale => "scale",
            Step::Delete => "delete",
            Step::WaitGone => "wait-gone",
            Step::Create => "create",
            Step::WaitReady => "wait-ready",
            Step::WaitHealthy => "wait-healthy",
            Step::RollbackDelete => "rollback-delete",
            Step::RollbackWaitGone => "rollback-wait-gone",
            Step::RollbackCreate => "rollback-create",
            Step::RollbackWaitReady => "rollback-wait-ready",
            Step::RollbackDrain => "rollback-drain",
            Step::RollbackPatch => "rollback-patch",
            Step::RollbackScale => "rollback-scale",
        }
    }

    /// Short label for narrow displays (the TUI's progress track).
    pub fn short(self) -> &'static str {
        match self {
            Step::DisableAutoscale => "auto",
            Step::StopResize => "stop",
            Step::WaitSteady => "steady",
            Step::ResizeToZero => "resize0",
            Step::WaitDrained => "drain",
            Step::Backup => "backup",
            Step::Patch => "patch",
            Step::Scale => "scale",
            Step::Delete => "delete",
            Step::WaitGone => "gone",
            Step::Create => "create",
            Step::WaitReady => "ready",
            Step::WaitHealthy => "healthy",
            Step::RollbackDelete => "rb-delete",
            Step::RollbackWaitGone => "rb-gone",
            Step::RollbackCreate => "rb-create",
            Step::RollbackWaitReady => "rb-ready",
            Step::RollbackDrain => "rb-drain",
            Step::RollbackPatch => "rb-patch",
            Step::RollbackScale => "rb-scale",
        }
    }

    /// Steps that change the account (counted by --dry-run's "calls it would make").
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Step::DisableAutoscale
                | Step::StopResize
                | Step::ResizeToZero
                | Step::Patch
                | Step::Scale
                | Step::Delete
                | Step::Create
                | Step::RollbackDelete
                | Step::RollbackCreate
                | Step::RollbackDrain
                | Step::RollbackPatch
                | Step::RollbackScale
        )
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
        let steps = || Step::ALL.into_iter().chain([Step::Patch, Step::Scale]);
        alias.or_else(|| steps().find(|s| s.name() == t)).ok_or_else(|| {
            let names: Vec<&str> = steps().map(|s| s.name()).collect();
            format!("'{text}' is not a step; steps: {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
