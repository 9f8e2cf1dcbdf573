//! Which of a pool's nodes go into the next batch: heal the failed ones, roll and refresh every
//! node the pool had when the step first looked (idle ones first, then the oldest running work),
//! a roll's rollback the nodes it rebooted; and how long a surge is kept while old nodes are left.

use crate::batch::{Node, NodeState};
use crate::rollout::batches::{NodeAct, NodeAction, NodeHistory};

pub(super) fn boot_time(node: &Node) -> Option<String> {
    node.rest.get("lastBootTime").and_then(serde_json::Value::as_str).map(String::from)
}

/// Up and not on its way: a node a reboot can be asked of.
pub(super) fn is_booted(node: &Node) -> bool {
    matches!(
        node.state,
        Some(
            NodeState::Idle
                | NodeState::Running
                | NodeState::Offline
                | NodeState::StartTaskFailed
                | NodeState::Unusable
        )
    )
}

/// Heal's batch: failed nodes the pool had when the run first looked, up to `max`. A node is
/// rebooted first (its start task runs again, the pool's current one); an unusable node, or one
/// still failing after this run rebooted it, is removed. Healthy nodes are never chosen.
pub(super) fn heal_batch(nodes: &[Node], history: &NodeHistory, max: u32) -> Vec<NodeAct> {
    nodes
        .iter()
        .filter(|n| n.is_failed() && is_booted(n))
        .filter_map(|n| {
            let id = n.id.clone()?;
            if !history.was_found(&id) {
                return None;
            }
            let remove = n.state == Some(NodeState::Unusable) || history.did(&id, NodeAction::Reboot);
            let action = if remove { NodeAction::Remove } else { NodeAction::Reboot };
            Some(NodeAct { boot: boot_time(n), node: id, action })
        })
        .take(max as usize)
        .collect()
}

/// The pool's targets while `left` old nodes are still to be replaced: the surge (what
/// `surged` is above `base`) kept only for as many, so the last batch ends at `base`.
pub(super) fn surge_kept(surged: (u32, u32), base: (u32, u32), left: u32) -> (u32, u32) {
    let dedicated = surged.0.saturating_sub(base.0).min(left);
    let low_priority = surged.1.saturating_sub(base.1).min(left - dedicated);
    (base.0 + dedicated, base.1 + low_priority)
}

/// The nodes in the order a roll takes them: idle ones first, then by their newest running task,
/// oldest first (with tasks of alike length, the node whose work ends soonest), so a batch waits
/// as little as it can for the tasks it lets finish.
pub(super) fn soonest_free(nodes: &[Node]) -> Vec<&Node> {
    let mut ordered: Vec<&Node> = nodes.iter().collect();
    ordered.sort_by_cached_key(|n| {
        let tasks = n.running_tasks();
        let newest = tasks.iter().map(|t| t.started).max().flatten();
        (!tasks.is_empty() || n.state == Some(NodeState::Running), newest.is_none(), newest)
    });
    ordered
}

/// Roll's batch: nodes the pool had when the step first looked, not yet rebooted by this run,
/// up and not on their way, up to `max`, those whose work ends soonest first.
pub(super) fn reboot_batch(nodes: &[Node], history: &NodeHistory, max: u32) -> Vec<NodeAct> {
    batch_of(soonest_free(nodes), NodeAction::Reboot, max, |n, id| {
        is_booted(n) && history.was_found(id) && !history.did(id, NodeAction::Reboot)
    })
}

/// A roll's rollback batch: nodes the roll rebooted (their boot time moved since: a node whose
/// reboot never happened still runs the old start task), not yet rebooted back, up and not on
/// their way, up to `max`.
pub(super) fn reboot_back_batch(nodes: &[Node], history: &NodeHistory, max: u32) -> Vec<NodeAct> {
    let rolled = |id: &str| {
        history.batches.iter().flatten().find(|a| a.action == NodeAction::Reboot && a.node.eq_ignore_ascii_case(id))
    };
    batch_of(nodes, NodeAction::RebootBack, max, |n, id| {
        let rebooted = rolled(id).is_some_and(|act| act.boot.is_none() || act.boot != boot_time(n));
        is_booted(n) && rebooted && !history.did(id, NodeAction::RebootBack)
    })
}

/// Refresh's batch: nodes the pool had when the step first looked, still in it and not leaving,
/// not yet removed by this run, up to `max`, those whose work ends soonest first.
pub(super) fn replace_batch(nodes: &[Node], history: &NodeHistory, max: u32) -> Vec<NodeAct> {
    batch_of(soonest_free(nodes), NodeAction::Remove, max, |n, id| {
        n.state != Some(NodeState::LeavingPool) && history.was_found(id) && !history.did(id, NodeAction::Remove)
    })
}

/// The first `max` of `nodes` that `takes`, each to have `action` done (its boot time noted).
fn batch_of<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    action: NodeAction,
    max: u32,
    takes: impl Fn(&Node, &str) -> bool,
) -> Vec<NodeAct> {
    nodes
        .into_iter()
        .filter_map(|n| {
            let id = n.id.clone()?;
            takes(n, &id).then(|| NodeAct { boot: boot_time(n), node: id, action })
        })
        .take(max as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: &str, state: &str, task_started: Option<&str>) -> Node {
        let tasks = task_started.map(
            |at| json!([{"jobId": "j", "taskId": "t", "taskState": "running", "executionInfo": {"startTime": at}}]),
        );
        let mut body = json!({"id": id, "state": state, "lastBootTime": "2026-12-01T09:00:00Z"});
        if let Some(tasks) = tasks {
            body["recentTasks"] = tasks;
        }
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn a_roll_takes_idle_nodes_first_then_the_oldest_work() {
        let nodes = [
            node("young", "running", Some("2026-12-01T10:05:00Z")),
            node("unknown", "running", None),
            node("old", "running", Some("2026-12-01T10:00:00Z")),
            node("idle", "idle", None),
        ];
        let history =
            NodeHistory { found: Some(nodes.iter().filter_map(|n| n.id.clone()).collect()), ..NodeHistory::default() };
        let order = |batch: Vec<NodeAct>| batch.into_iter().map(|a| a.node).collect::<Vec<_>>();
        assert_eq!(order(reboot_batch(&nodes, &history, 4)), ["idle", "old", "young", "unknown"]);
        assert_eq!(order(replace_batch(&nodes, &history, 2)), ["idle", "old"]);
    }

    #[test]
    fn a_surge_goes_with_the_last_old_nodes() {
        // Target 5 raised by 2: kept while 2 or more old nodes are left, then one by one.
        assert_eq!(surge_kept((7, 0), (5, 0), 3), (7, 0));
        assert_eq!(surge_kept((7, 0), (5, 0), 1), (6, 0));
        assert_eq!(surge_kept((7, 0), (5, 0), 0), (5, 0));
        // A low-priority pool's surge is low-priority.
        assert_eq!(surge_kept((0, 4), (0, 3), 0), (0, 3));
    }
}
