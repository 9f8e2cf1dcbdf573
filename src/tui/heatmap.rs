//! A pool's nodes at a glance, one glyph each, after Batch Explorer's heat map: idle, running
//! by how many of its task slots are used, starting, start task failed, unusable, preempted,
//! leaving, offline or scheduling disabled. Glyphs, not only colours, tell them apart.

use crate::batch::{Node, NodeState};

/// The heat map's categories, in legend order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Heat {
    Idle,
    /// Running tasks on up to a quarter, a half, three quarters, or all of its task slots.
    Running(u8),
    /// Creating, starting, rebooting, reimaging, waiting for its start task, upgrading.
    Starting,
    StartTaskFailed,
    /// Unusable or unknown.
    Unusable,
    Preempted,
    /// Leaving the pool or deallocating.
    Leaving,
    /// Offline, scheduling disabled, or deallocated: takes no task.
    Offline,
}

impl Heat {
    /// Every category in legend order (the four slot-use levels of running count as one).
    pub const LEGEND: [Heat; 8] = [
        Heat::Idle,
        Heat::Running(4),
        Heat::Starting,
        Heat::StartTaskFailed,
        Heat::Unusable,
        Heat::Preempted,
        Heat::Leaving,
        Heat::Offline,
    ];

    /// The category of `node` in a pool of `slots` task slots per node.
    pub fn of(node: &Node, slots: u32) -> Heat {
        let state = node.state.clone().unwrap_or(NodeState::Unknown);
        let disabled = node.scheduling_state.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("disabled"));
        match state {
            NodeState::LeavingPool | NodeState::Deallocating => Heat::Leaving,
            NodeState::Preempted => Heat::Preempted,
            NodeState::StartTaskFailed => Heat::StartTaskFailed,
            NodeState::Unusable | NodeState::Unknown | NodeState::Other(_) => Heat::Unusable,
            NodeState::Offline | NodeState::Deallocated => Heat::Offline,
            _ if disabled => Heat::Offline,
            NodeState::Creating
            | NodeState::Starting
            | NodeState::WaitingForStartTask
            | NodeState::Rebooting
            | NodeState::Reimaging
            | NodeState::UpgradingOs => Heat::Starting,
            NodeState::Idle => Heat::Idle,
            NodeState::Running => {
                let used = node.running_task_slots_count.or(node.running_tasks_count).unwrap_or(1).max(1);
                let quarters = (used * 4).div_ceil(slots.max(1)).clamp(1, 4);
                Heat::Running(quarters as u8)
            }
        }
    }

    /// One cell, readable without colour.
    pub fn glyph(self) -> char {
        match self {
            Heat::Idle => '○',
            Heat::Running(1) => '◔',
            Heat::Running(2) => '◑',
            Heat::Running(3) => '◕',
            Heat::Running(_) => '●',
            Heat::Starting => '↑',
            Heat::StartTaskFailed => '✗',
            Heat::Unusable => '!',
            Heat::Preempted => 'P',
            Heat::Leaving => '←',
            Heat::Offline => '‖',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Heat::Idle => "idle",
            Heat::Running(_) => "running",
            Heat::Starting => "starting",
            Heat::StartTaskFailed => "start task failed",
            Heat::Unusable => "unusable",
            Heat::Preempted => "preempted",
            Heat::Leaving => "leaving",
            Heat::Offline => "offline/disabled",
        }
    }

    /// The legend's key: running is one entry whatever its slot use.
    fn key(self) -> Heat {
        match self {
            Heat::Running(_) => Heat::Running(4),
            other => other,
        }
    }
}

/// How many nodes fall in each legend entry, in legend order (zero counts included).
pub fn counts(nodes: &[Node], slots: u32) -> Vec<(Heat, usize)> {
    Heat::LEGEND.iter().map(|&h| (h, nodes.iter().filter(|n| Heat::of(n, slots).key() == h).count())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(state: &str, scheduling: &str, slots_used: u32) -> Node {
        Node {
            state: Some(NodeState::from(state)),
            scheduling_state: Some(scheduling.into()),
            running_task_slots_count: Some(slots_used),
            ..Default::default()
        }
    }

    #[test]
    fn running_nodes_show_their_slot_use_and_disabled_ones_take_no_task() {
        assert_eq!(Heat::of(&node("running", "enabled", 1), 4), Heat::Running(1));
        assert_eq!(Heat::of(&node("running", "enabled", 3), 4), Heat::Running(3));
        assert_eq!(Heat::of(&node("running", "enabled", 1), 1), Heat::Running(4));
        assert_eq!(Heat::of(&node("idle", "disabled", 0), 1), Heat::Offline);
        assert_eq!(Heat::of(&node("starttaskfailed", "disabled", 0), 1), Heat::StartTaskFailed);
        assert_eq!(Heat::of(&node("somethingnew", "enabled", 0), 1), Heat::Unusable);
        let glyphs: std::collections::BTreeSet<char> = Heat::LEGEND.iter().map(|h| h.glyph()).collect();
        assert_eq!(glyphs.len(), Heat::LEGEND.len(), "every category has its own glyph");
    }
}
