//! Node batches: what a run does to a pool's nodes a few at a time (heal, roll, refresh), as the journal records it and the engine acts on it. A batch is journaled before any
//! of its nodes is touched, so a resume finishes it from the live nodes, never acts twice.

use serde::{Deserialize, Serialize};

/// What is done to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeAction {
    /// Rebooted with `taskcompletion`: its start task runs again, the pool's current one.
    Reboot,
    /// Removed with `taskcompletion`; the pool is sized back to its targets after.
    Remove,
    /// A roll's rollback: a node the roll rebooted, rebooted again with `taskcompletion` once the
    /// pool is patched back, so it runs the start task it had before the run.
    RebootBack,
}

impl NodeAction {
    pub fn name(self) -> &'static str {
        match self {
            NodeAction::Reboot => "reboot",
            NodeAction::Remove => "remove",
            NodeAction::RebootBack => "reboot-back",
        }
    }

    /// Whether the node is rebooted (and done once its boot time moves).
    pub fn reboots(self) -> bool {
        matches!(self, NodeAction::Reboot | NodeAction::RebootBack)
    }
}

/// One node of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAct {
    pub node: String,
    pub action: NodeAction,
    /// The node's `lastBootTime` when the batch was journaled: a reboot happened once it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
}

/// What a run has done to one pool's nodes so far, as the journal says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeHistory {
    /// The nodes the pool had when the run first looked: only these are acted on, so a node that
    /// joins later and fails is reported by the health gate, never replaced in a loop.
    pub found: Option<Vec<String>>,
    /// The pool's targets (dedicated, low-priority) then: a replacement sizes the pool back to them.
    pub targets: Option<(u32, u32)>,
    /// Every batch, in order; the last may be unfinished.
    pub batches: Vec<Vec<NodeAct>>,
}

impl NodeHistory {
    /// Whether this run has already done `action` to `node`.
    pub fn did(&self, node: &str, action: NodeAction) -> bool {
        self.batches.iter().flatten().any(|a| a.action == action && a.node.eq_ignore_ascii_case(node))
    }

    /// How many of the nodes found are yet to have `action` done (or be journaled for it).
    pub fn left_to_act(&self, action: NodeAction) -> u32 {
        let found = self.found.iter().flatten();
        found.filter(|n| !self.did(n, action)).count() as u32
    }

    /// Whether `node` was in the pool when the run first looked.
    pub fn was_found(&self, node: &str) -> bool {
        self.found.as_ref().is_some_and(|f| f.iter().any(|n| n.eq_ignore_ascii_case(node)))
    }
}

/// How many nodes a run may take out of a pool at once: the operator's count, else a small share
/// of the pool (a tenth of its target, at least one).
pub fn max_unavailable_nodes(chosen: Option<u32>, target: u32) -> u32 {
    chosen.unwrap_or(target / 10).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_share_is_a_tenth_and_never_zero() {
        assert_eq!(max_unavailable_nodes(None, 4), 1);
        assert_eq!(max_unavailable_nodes(None, 35), 3);
        assert_eq!(max_unavailable_nodes(Some(2), 4), 2);
    }

    #[test]
    fn history_knows_what_was_done_to_a_node() {
        let act = |node: &str, action| NodeAct { node: node.into(), action, boot: None };
        let history = NodeHistory {
            found: Some(vec!["a".into(), "b".into()]),
            targets: None,
            batches: vec![vec![act("a", NodeAction::Reboot)], vec![act("A", NodeAction::Remove)]],
        };
        assert!(history.did("a", NodeAction::Reboot) && history.did("a", NodeAction::Remove));
        assert!(!history.did("b", NodeAction::Reboot));
        assert!(history.was_found("B") && !history.was_found("c"));
    }
}
