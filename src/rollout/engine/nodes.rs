//! Node batches: a run acts on a few of a pool's nodes at a time — reboot them, or remove them
//! and size the pool back to its targets — and waits until the batch has settled before the
//! next. Each batch is journaled before any of its nodes is touched; a resume finishes the last
//! batch from the live nodes (a node whose boot time moved was rebooted, a node leaving or gone
//! was removed), so nothing is done twice. Which nodes go into a batch is the caller's choice:
//! heal picks the failed ones (`heal_batch`); a rolling replacement would pick every old node.
//!
//! The pool itself is never changed: a fixed pool gets back the targets its pre-run backup
//! recorded (removenodes lowers them), an autoscale pool keeps its formula and is asked to
//! evaluate it again (enableautoscale with its own formula), which sets its targets again.

use super::*;
use crate::batch::models::RemoveNodesRequest;
use crate::batch::{Node, NodeCounts, NodeState, PoolNodeCounts};
use crate::rollout::batches::{NodeAct, NodeAction, NodeHistory, max_unavailable_nodes};
use crate::rollout::report::NodeReport;

/// What a batch needs to know of each node (and whether its start task ran).
const NODE_SELECT: &str = "id,state,startTaskInfo,errors,lastBootTime";

/// Picks the next batch from the pool's nodes: at most `max` nodes, none already on its way.
type Choose = fn(&[Node], &NodeHistory, u32) -> Vec<NodeAct>;

impl Engine {
    /// Heal: the failed nodes the pool had when the run first looked, a batch at a time.
    pub(super) async fn heal_nodes(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        self.run_batches(id, run, journal, heal_batch).await
    }

    /// Batches until `choose` finds no node to act on. Each: journaled, acted on, the pool sized
    /// back, settled (steady, no node on its way); the last one journaled is finished first.
    async fn run_batches(&self, id: &str, run: &mut PoolRun, journal: &Journal, choose: Choose) -> StepResult {
        let mut settled = false;
        loop {
            if self.cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            let pool = match self.steady_original(id, run).await? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(elsewhere),
            };
            let nodes = self.client.list_nodes(id, Some(NODE_SELECT)).await.map_err(|e| e.to_string())?;
            if run.nodes.found.is_none() {
                let found: Vec<String> = nodes.iter().filter_map(|n| n.id.clone()).collect();
                let record = Record::NodesFound { pool: id.to_string(), nodes: found.clone() };
                journal.append(record).await.map_err(|e| format!("cannot write the journal: {e}"))?;
                run.nodes.found = Some(found);
            }
            if !settled && let Some(batch) = run.nodes.batches.last().cloned() {
                self.act_on_batch(id, &batch, &nodes).await?;
                if batch.iter().any(|a| a.action == NodeAction::Remove) {
                    self.size_back(id, run).await?;
                }
                self.wait_batch_settled(id, run.nodes.batches.len()).await?;
                settled = true;
                continue;
            }
            let found = run.nodes.found.as_ref().map_or(0, Vec::len) as u32;
            let max = max_unavailable_nodes(self.config.policy.max_unavailable_nodes, pool.target_nodes().max(found));
            let batch = choose(&nodes, &run.nodes, max);
            if batch.is_empty() {
                run.node_report = node_report(&run.nodes, &nodes);
                return Ok(match run.nodes.batches.is_empty() {
                    true => Outcome::Skipped("no failed node: nothing to do".into()),
                    false => Outcome::Done(summary(&run.node_report)),
                });
            }
            let record = Record::NodeBatch { pool: id.to_string(), nodes: batch.clone() };
            journal.append(record).await.map_err(|e| format!("cannot write the journal: {e}"))?;
            let listed: Vec<String> = batch.iter().map(|a| format!("{} {}", a.action.name(), a.node)).collect();
            let detail =
                format!("batch {} (at most {max} at once): {}", run.nodes.batches.len() + 1, listed.join(", "));
            let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step: Step::HealNodes, detail });
            run.nodes.batches.push(batch);
            settled = false;
        }
    }

    /// The pool the run started with, steady (waited for); where the step goes instead if it is
    /// gone or being deleted.
    async fn steady_original(&self, id: &str, run: &mut PoolRun) -> Result<Result<Pool, Outcome>, String> {
        let mut pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(Err(elsewhere)),
        };
        run.old_creation = run.old_creation.or(pool.creation_time);
        if !pool.is_steady() {
            let steady = |p: Option<&Pool>| p.is_none_or(|p| p.is_steady());
            let waited = self.wait(id, Step::HealNodes, self.config.policy.wait_timeout, steady).await?;
            pool = match self.the_original(id, waited, run)? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(Err(elsewhere)),
            };
        }
        Ok(Ok(pool))
    }

    /// Does what the batch says to each node that has not had it yet (judged from `nodes`, the
    /// live listing): a failed node whose boot time is the one journaled and that is not on its
    /// way is rebooted; a failed node still in the pool and not leaving is removed (one call for
    /// all). A node that is healthy by now is left alone.
    async fn act_on_batch(&self, id: &str, batch: &[NodeAct], nodes: &[Node]) -> Result<(), String> {
        let find = |name: &str| nodes.iter().find(|n| n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(name)));
        let mut removes = Vec::new();
        for act in batch {
            let Some(node) = find(&act.node).filter(|n| n.is_failed()) else { continue };
            match act.action {
                NodeAction::Reboot if boot_time(node) == act.boot && is_booted(node) => {
                    match self.client.reboot_node(id, &act.node, NodeDeallocationOption::TaskCompletion).await {
                        Ok(()) => {}
                        // Rebooting already, or gone: what the wait and the next look see decides.
                        Err(e) if matches!(e.status(), Some(404 | 409)) => {}
                        Err(e) => return Err(format!("reboot {}: {e}", act.node)),
                    }
                }
                NodeAction::Remove if node.state != Some(NodeState::LeavingPool) => removes.push(act.node.clone()),
                _ => {}
            }
        }
        if !removes.is_empty() {
            self.remove(id, removes).await?;
        }
        self.snapshots.request_fast();
        Ok(())
    }

    /// removenodes with `taskcompletion`, at most 100 a call. A refused or lost call is judged
    /// by the nodes afterwards: those gone or leaving are done, the others are sent again (after
    /// the resize in flight, for a 409; without the gone ones, for a 404 NodeNotFound).
    async fn remove(&self, id: &str, nodes: Vec<String>) -> Result<(), String> {
        for chunk in nodes.chunks(100) {
            let mut pending = chunk.to_vec();
            for tries in 1.. {
                let request = RemoveNodesRequest {
                    node_list: Some(pending.clone()),
                    resize_timeout: Some(self.config.policy.resize_timeout),
                    node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                };
                let Err(e) = self.client.remove_nodes(id, &request).await else { break };
                let listed = self.client.list_nodes(id, Some("id,state")).await.map_err(|e| e.to_string())?;
                pending.retain(|name| {
                    listed.iter().any(|n| {
                        n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(name))
                            && n.state != Some(NodeState::LeavingPool)
                    })
                });
                if pending.is_empty() {
                    break;
                }
                if !matches!(e.status(), Some(404 | 409)) || tries >= 5 {
                    return Err(format!("remove {}: {e}", pending.join(", ")));
                }
                let steady = |p: Option<&Pool>| p.is_none_or(|p| p.is_steady());
                self.wait(id, Step::HealNodes, self.config.policy.wait_timeout, steady).await?;
            }
        }
        Ok(())
    }

    /// After removals (which lower the targets), the pool gets its targets back: a fixed pool
    /// those of its pre-run backup (a kind above them is left as it is), an autoscale pool an
    /// evaluation of its own formula. Waits for the removal to finish first (the service takes
    /// no resize while one is in flight).
    async fn size_back(&self, id: &str, run: &mut PoolRun) -> Result<(), String> {
        let policy = &self.config.policy;
        let deadline = Instant::now() + policy.wait_timeout;
        loop {
            let pool = match self.steady_original(id, run).await? {
                Ok(pool) => pool,
                Err(_) => return Err("the pool disappeared while its nodes were replaced".into()),
            };
            let sent = if pool.autoscale() {
                let request = EnableAutoScaleRequest {
                    auto_scale_formula: pool.auto_scale_formula.clone(),
                    auto_scale_evaluation_interval: None,
                };
                self.client.enable_autoscale(id, &request).await
            } else {
                let Some(Capacity::Fixed { dedicated, low_priority, .. }) =
                    self.before(id).and_then(|b| b.capacity.clone())
                else {
                    return Ok(());
                };
                let targets = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
                let wanted = (targets.0.max(dedicated), targets.1.max(low_priority));
                if wanted == targets {
                    return Ok(());
                }
                let resize = ResizeRequest {
                    target_dedicated_nodes: Some(wanted.0),
                    target_low_priority_nodes: Some(wanted.1),
                    resize_timeout: Some(pool.resize_timeout.unwrap_or(policy.resize_timeout)),
                    node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                };
                self.client.resize_pool(id, &resize).await
            };
            match sent {
                Ok(()) => {
                    self.snapshots.request_fast();
                    return Ok(());
                }
                // Resizing again, or autoscale asked too often (once per 30 s): a moment, then again.
                Err(e) if e.status() == Some(409) && Instant::now() < deadline => {
                    tokio::select! {
                        _ = self.cancel.cancelled() => return Err("cancelled".into()),
                        _ = tokio::time::sleep(policy.poll_interval) => {}
                    }
                }
                Err(e) => return Err(format!("sizing the pool back to its targets: {e}")),
            }
        }
    }

    /// Until the pool is steady and none of its nodes is on its way (rebooting, starting,
    /// running its start task, leaving), within `health_timeout`.
    async fn wait_batch_settled(&self, id: &str, batch: usize) -> Result<(), String> {
        let policy = &self.config.policy;
        let steady = |p: Option<&Pool>| p.is_none_or(|p| p.is_steady());
        self.wait(id, Step::HealNodes, policy.wait_timeout, steady).await?;
        let settled = |c: &PoolNodeCounts| on_the_way(&c.dedicated) + on_the_way(&c.low_priority) == 0;
        match self
            .snapshots
            .wait_for_nodes(id, policy.health_timeout, policy.sign_in_grace, &self.cancel, settled)
            .await
        {
            Ok(()) => Ok(()),
            Err(WaitError::Cancelled) => Err("cancelled".into()),
            Err(WaitError::SignIn(why)) => Err(self.sign_in_stopped(&why)),
            Err(WaitError::Timeout(_)) => Err(format!(
                "batch {batch}: nodes still on their way after {} s; `repool nodes --pool {id}` shows them",
                policy.health_timeout.as_secs()
            )),
        }
    }
}

/// Nodes between states: their batch has not settled.
fn on_the_way(n: &NodeCounts) -> u32 {
    n.creating + n.starting + n.waiting_for_start_task + n.rebooting + n.reimaging + n.leaving_pool
}

fn boot_time(node: &Node) -> Option<String> {
    node.rest.get("lastBootTime").and_then(serde_json::Value::as_str).map(String::from)
}

/// Up and not on its way: a node a reboot can be asked of.
fn is_booted(node: &Node) -> bool {
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
fn heal_batch(nodes: &[Node], history: &NodeHistory, max: u32) -> Vec<NodeAct> {
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

/// Per node acted on: what was done, and where it is now.
fn node_report(history: &NodeHistory, nodes: &[Node]) -> Vec<NodeReport> {
    let mut report: Vec<NodeReport> = Vec::new();
    for act in history.batches.iter().flatten() {
        let i = match report.iter().position(|r| r.node.eq_ignore_ascii_case(&act.node)) {
            Some(i) => i,
            None => {
                report.push(NodeReport { node: act.node.clone(), actions: Vec::new(), outcome: String::new() });
                report.len() - 1
            }
        };
        report[i].actions.push(act.action.name());
    }
    for entry in &mut report {
        let node = nodes.iter().find(|n| n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&entry.node)));
        entry.outcome = match node {
            None => "removed".into(),
            Some(n) if n.is_failed() => {
                format!("still {}", n.state.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "failed".into()))
            }
            Some(n) if n.start_task_succeeded() => "healthy".into(),
            Some(n) => n.state.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
        };
    }
    report
}

/// "2 rebooted, 1 removed (the pool sized back)".
fn summary(report: &[NodeReport]) -> String {
    let rebooted = report.iter().filter(|r| r.actions.contains(&"reboot")).count();
    let removed = report.iter().filter(|r| r.actions.contains(&"remove")).count();
    let back = if removed > 0 { " (the pool sized back to its targets)" } else { "" };
    format!("{rebooted} node(s) rebooted, {removed} removed{back}")
}
