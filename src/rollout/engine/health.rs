//! The health gate: a pool is done when it is at its targets with healthy nodes. Capacity is
//! part of health: the gate counts against what the pool targets (what its autoscale formula
//! asked, for an autoscaled pool), never against the nodes that happened to arrive.

use super::{Engine, Outcome, PoolRun, StepResult, resize_error_codes};
use crate::batch::{NodeCounts, PoolNodeCounts};
use crate::rollout::report::CapacityFigures;
use crate::rollout::snapshots::WaitError;
use crate::rollout::step::Step;
use crate::rollout::strategy::Strategy;
use std::time::Instant;

const NODE_HEALTH_SELECT: &str = "id,state,startTaskInfo,errors";

impl Engine {
    /// Enough of the targeted nodes idle or running with their start task done, none failed
    /// beyond what the policy tolerates, within `health_timeout`. A steady pool short of its
    /// targets (resize errors, quota) fails at once: the service has stopped allocating. Waits on
    /// the shared node counts until no node is on its way, then lists this pool's nodes.
    pub(super) async fn wait_healthy(&self, id: &str, run: &mut PoolRun, run_id: &str) -> StepResult {
        let policy = &self.config.policy;
        let mut pool = match run.seen.take() {
            Some(pool) => pool,
            None => self.live(id).await?.ok_or("the new pool disappeared")?,
        };
        if !pool.is_steady() {
            let steady = |p: Option<&crate::batch::PoolSummary>| p.is_none_or(|p| p.is_steady());
            pool =
                self.wait(id, Step::WaitHealthy, policy.wait_timeout, steady).await?.ok_or("the pool disappeared")?;
        }
        self.expect_expected(id, Step::WaitHealthy, &pool, run)?;
        run.new_creation = run.new_creation.or(pool.creation_time);
        let (target, current) = (pool.target_nodes(), pool.current_nodes());
        run.capacity = Some(CapacityFigures { target, current, healthy: 0 });
        if target == 0 {
            return Ok(Outcome::Done("healthy: it targets no nodes".into()));
        }
        let needed = policy.healthy.needed(target);
        if current < needed {
            let errors = resize_error_codes(&pool);
            let why = if errors.is_empty() { String::new() } else { format!("; resize errors{errors}") };
            return Err(format!(
                "short of capacity: {current} of {target} targeted node(s) allocated, {needed} needed{why}"
            ));
        }
        let deadline = Instant::now() + policy.health_timeout;
        let _ = self.progress.send(super::Progress::Waiting {
            pool: id.to_string(),
            step: Step::WaitHealthy,
            detail: format!("waiting for {needed} of {target} targeted node(s) to be healthy"),
        });
        let settled = |c: &PoolNodeCounts| {
            let on_the_way =
                |n: &NodeCounts| n.creating + n.starting + n.waiting_for_start_task + n.rebooting + n.reimaging;
            c.dedicated.total + c.low_priority.total > 0 && on_the_way(&c.dedicated) + on_the_way(&c.low_priority) == 0
        };
        let mut looked = false;
        loop {
            if looked {
                // The last look was not conclusive (a start task still running): not again at once.
                tokio::select! {
                    _ = self.cancel.cancelled() => return Err("cancelled".into()),
                    _ = tokio::time::sleep(policy.poll_interval) => {}
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.snapshots.wait_for_nodes(id, remaining, policy.sign_in_grace, &self.cancel, settled).await {
                Ok(()) | Err(WaitError::Timeout(_)) => {}
                Err(WaitError::Cancelled) => return Err("cancelled".into()),
                Err(WaitError::SignIn(why)) => return Err(self.sign_in_stopped(&why)),
            }
            looked = true;
            let nodes = self.client.list_nodes(id, Some(NODE_HEALTH_SELECT)).await.map_err(|e| e.to_string())?;
            if self.cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            let health = NodeHealth::of(&nodes);
            run.capacity = Some(CapacityFigures { target, current: nodes.len() as u32, healthy: health.healthy });
            if health.failed.len() as u32 > target - needed {
                let next = match run.strategy {
                    Strategy::InPlace => in_place_next(id, run_id),
                    _ => String::new(),
                };
                return Err(format!(
                    "unhealthy: {} of {target} targeted node(s) failed: {}{next}",
                    health.failed.len(),
                    named(&health.failed, id)
                ));
            }
            if health.healthy >= needed {
                return Ok(Outcome::Done(format!("healthy: {} of {target} targeted node(s)", health.healthy)));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "unhealthy: only {} of the {needed} node(s) needed (of {target} targeted) were healthy after {} s ({})",
                    health.healthy,
                    policy.health_timeout.as_secs(),
                    health.states
                ));
            }
        }
    }
}

/// At most `SHOWN` failed nodes by name; how to see the rest.
pub(super) fn named(failed: &[String], pool: &str) -> String {
    const SHOWN: usize = 3;
    let mut text = failed.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if failed.len() > SHOWN {
        let shown = crate::output::escape(pool);
        text.push_str(&format!("; and {} more (`repool nodes --pool {shown}`)", failed.len() - SHOWN));
    }
    text
}

/// After an in-place change, nodes already up keep the start task they booted with: heal is
/// the way on, and this run holds the pool until it is closed.
fn in_place_next(pool: &str, run_id: &str) -> String {
    let pool = crate::output::escape(pool);
    format!(
        ". An in-place change reaches nodes already up only when they restart: close this run \
         (`repool abandon {run_id}`), then `repool heal --pool {pool}` reboots them with the pool's current start task"
    )
}

/// What a pool's nodes say about its health.
pub(super) struct NodeHealth {
    healthy: u32,
    /// "tvm-1 (start task exit 3: FailureExitCode …)", one per failed node.
    pub(super) failed: Vec<String>,
    /// "2 idle, 1 starting": for a timeout.
    states: String,
}

impl NodeHealth {
    pub(super) fn of(nodes: &[crate::batch::Node]) -> NodeHealth {
        use crate::batch::NodeState;
        let (mut healthy, mut failed) = (0, Vec::new());
        let mut states = std::collections::BTreeMap::<String, u32>::new();
        for node in nodes {
            let id = node.id.as_deref().unwrap_or("?");
            let exit = node.start_task_exit();
            let failure = node.start_task_failure();
            *states.entry(node.state.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "?".into())).or_default() += 1;
            if node.is_failed() {
                let mut why = Vec::new();
                if let Some(code) = exit {
                    why.push(format!("start task exit {code}"));
                }
                why.extend(failure);
                why.extend(node.errors());
                let state = node.state.as_ref().map(|s| s.to_string()).unwrap_or_default();
                failed.push(crate::output::escape(&format!("{id} {state} ({})", why.join("; "))).into_owned());
                continue;
            }
            if matches!(node.state, Some(NodeState::Idle | NodeState::Running)) && node.start_task_succeeded() {
                healthy += 1;
            }
        }
        let states = states.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
        NodeHealth { healthy, failed, states }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_upgrading_its_os_is_neither_failed_nor_healthy() {
        let node = |id: &str, state: &str| -> crate::batch::Node {
            serde_json::from_value(json!({"id": id, "state": state,
                "startTaskInfo": {"state": "completed", "exitCode": 0}}))
            .unwrap()
        };
        let health = NodeHealth::of(&[node("tvm-1", "idle"), node("tvm-2", "upgradingos"), node("tvm-3", "running")]);
        assert_eq!(health.healthy, 2);
        assert!(health.failed.is_empty(), "{:?}", health.failed);
        assert_eq!(health.states, "1 idle, 1 running, 1 upgradingos");
    }
}
