//! A pool's capacity as the operator counts it: nodes that can take a new task now. The figure
//! tests and `cargo bench -- capacity` sample while a change runs (what it cost in capacity).

use super::*;

impl SimPool {
    /// Nodes able to take a task at `now`: booted, start task done, scheduling on, and neither
    /// leaving nor about to go down for a reboot or deallocation (those finish their task only).
    pub fn usable_nodes(&self, now: f64) -> u32 {
        let usable = |node: &&SimNode| {
            node.leaving.is_none()
                && node.scheduling_enabled
                && node.outage.as_ref().is_none_or(|o| o.kind == OutageKind::Reboot && now >= o.until)
                && matches!(self.node_state(node, now), NodeState::Idle | NodeState::Running)
        };
        self.visible_nodes(now).filter(usable).count() as u32
    }
}
