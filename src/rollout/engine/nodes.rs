//! Node batches: a run acts on a few of a pool's nodes at a time — reboot them, or remove them
//! and size the pool back to its targets — and waits until the batch has settled before the
//! next. Each batch is journaled before any of its nodes is touched; a resume finishes the last
//! batch from the live nodes (a node whose boot time moved was rebooted, a node leaving or gone
//! was removed), so nothing is done twice. Which nodes go into a batch is the caller's choice:
//! heal picks the failed ones (`heal_batch`); roll reboots every node the pool had when the step
//! first looked (`reboot_batch`), refresh replaces each of them (`replace_batch`); a roll's
//! rollback reboots again the nodes the roll rebooted (`reboot_back_batch`). A roll stops at a
//! batch whose nodes come back failed (the new start task fails on them): no more are rebooted.
//!
//! The pool itself is never changed: a fixed pool gets back the targets it had when the step
//! first looked (journaled; removenodes lowers them), an autoscale pool (heal) keeps its formula
//! and is asked to evaluate it again (enableautoscale with its own formula), which sets its
//! targets again; roll and refresh hold autoscale off (its targets fixed) until the roll is done.

use super::choose::{boot_time, heal_batch, is_booted, reboot_back_batch, reboot_batch, replace_batch, surge_kept};
use super::health::{NodeHealth, named};
use super::*;
use crate::batch::models::RemoveNodesRequest;
use crate::batch::{Node, NodeCounts, NodeState, PoolNodeCounts};
use crate::rollout::batches::{NodeAct, NodeAction, NodeHistory, max_unavailable_nodes};
use crate::rollout::report::NodeReport;
use crate::rollout::strategy::Strategy;

/// What a batch needs to know of each node (and whether its start task ran).
/// `recentTasks`: roll and refresh take first the nodes whose running work ends soonest.
const NODE_SELECT: &str = "id,state,startTaskInfo,errors,lastBootTime,recentTasks";

/// Picks the next batch from the pool's nodes: at most `max` nodes, none already on its way.
type Choose = fn(&[Node], &NodeHistory, u32) -> Vec<NodeAct>;

impl Engine {
    /// Heal: the failed nodes the pool had when the run first looked, a batch at a time.
    pub(super) async fn heal_nodes(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        self.run_batches(id, run, journal, Step::HealNodes, heal_batch).await
    }

    /// Roll: every node the pool had when the step first looked, rebooted with taskcompletion
    /// (the start task runs again, the pool's current one; packages install on boot). Refresh:
    /// each of them removed with taskcompletion and the pool sized back (fresh nodes).
    pub(super) async fn roll_nodes(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        let choose = if run.strategy == Strategy::Refresh { replace_batch } else { reboot_batch };
        self.run_batches(id, run, journal, Step::RollNodes, choose).await
    }

    /// A roll's rollback (the pool patched back already): the nodes the roll rebooted, rebooted
    /// again so they run the start task the pool had before the run.
    pub(super) async fn rollback_nodes(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        self.run_batches(id, run, journal, Step::RollbackNodes, reboot_back_batch).await
    }

    /// Batches of `step` until `choose` finds no node to act on. Each: journaled, acted on, the
    /// pool sized back, settled (steady, no node on its way); the last one of `step` journaled is
    /// finished first.
    async fn run_batches(
        &self,
        id: &str,
        run: &mut PoolRun,
        journal: &Journal,
        step: Step,
        choose: Choose,
    ) -> StepResult {
        let mut settled = false;
        // A batch journaled by this execution (step-through pauses before the next).
        let mut acted = false;
        // Roll, refresh and a roll's rollback: nodes on their way (a surge's, a boot) are waited
        // for before the first batch, so taking nodes out never comes on top of nodes not yet
        // taking tasks.
        let mut settled_first = step == Step::HealNodes;
        loop {
            if self.cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            let pool = match self.steady_original(id, step, run).await? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(elsewhere),
            };
            if !settled_first {
                self.wait_batch_settled(id, step, run.nodes.batches.len()).await?;
                settled_first = true;
                continue;
            }
            let nodes = self.client.list_nodes(id, Some(NODE_SELECT)).await.map_err(|e| e.to_string())?;
            // A surge journaled the nodes before it added its own: the targets come now.
            if run.nodes.found.is_none() || run.nodes.targets.is_none() {
                let listed = || nodes.iter().filter_map(|n| n.id.clone()).collect();
                let found: Vec<String> = run.nodes.found.clone().unwrap_or_else(listed);
                let targets = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
                let record = Record::NodesFound { pool: id.to_string(), nodes: found.clone(), targets: Some(targets) };
                journal.append(record).await.map_err(|e| format!("cannot write the journal: {e}"))?;
                run.nodes.found = Some(found);
                run.nodes.targets = Some(targets);
            }
            // A rollback's first look may find the roll's last batch: finished already, not its own.
            let last = run.nodes.batches.last().filter(|b| of_step(b, step)).cloned();
            if !settled && let Some(batch) = last {
                self.act_on_batch(id, step, &batch, &nodes).await?;
                if batch.iter().any(|a| a.action == NodeAction::Remove) {
                    self.size_back(id, step, run).await?;
                }
                self.wait_rebooted(id, step, &batch).await?;
                self.wait_batch_settled(id, step, run.nodes.batches.len()).await?;
                settled = true;
                if step == Step::RollNodes && batch.iter().any(|a| a.action == NodeAction::Reboot) {
                    self.check_rolled(id, pool.target_nodes(), &run.nodes).await?;
                }
                if step != Step::HealNodes {
                    let detail = format!(
                        "batch {}: {}",
                        run.nodes.batches.len(),
                        progress_in_nodes(run.strategy, &run.nodes, step)
                    );
                    let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail });
                }
                continue;
            }
            let found = run.nodes.found.as_ref().map_or(0, Vec::len) as u32;
            let max = match self.surged(id, run) {
                // A surge replaces as many nodes at once as it added (fewer if the operator said
                // so): the pool never goes below its target.
                Some((extra, _)) if extra > 0 => {
                    self.config.policy.max_unavailable_nodes.map_or(extra, |k| k.min(extra))
                }
                _ => max_unavailable_nodes(self.config.policy.max_unavailable_nodes, pool.target_nodes().max(found)),
            };
            let batch = choose(&nodes, &run.nodes, max);
            if batch.is_empty() {
                run.node_report = node_report(&run.nodes, &nodes);
                let none = !run.nodes.batches.iter().any(|b| of_step(b, step));
                return Ok(match step {
                    Step::RollNodes if none => Outcome::Skipped("no node: nothing to do".into()),
                    Step::RollbackNodes if none => {
                        Outcome::Skipped("no node was rebooted: nothing to reboot back".into())
                    }
                    Step::HealNodes if none => Outcome::Skipped("no failed node: nothing to do".into()),
                    Step::RollbackNodes => Outcome::Done(format!(
                        "{}: they run the start task from before the run again",
                        progress_in_nodes(run.strategy, &run.nodes, step)
                    )),
                    _ => Outcome::Done(summary(&run.node_report)),
                });
            }
            if run.one_batch && acted {
                return Ok(Outcome::Pause(format!("paused after batch {}", run.nodes.batches.len())));
            }
            let record = Record::NodeBatch { pool: id.to_string(), nodes: batch.clone() };
            journal.append(record).await.map_err(|e| format!("cannot write the journal: {e}"))?;
            let listed: Vec<String> = batch.iter().map(|a| format!("{} {}", a.action.name(), a.node)).collect();
            let k = run.nodes.batches.len() + 1;
            let so_far = match step {
                Step::HealNodes => String::new(),
                _ => format!("{}; ", progress_in_nodes(run.strategy, &run.nodes, step)),
            };
            let detail = format!("batch {k} (at most {max} at once): {so_far}{}", listed.join(", "));
            let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail });
            run.nodes.batches.push(batch);
            settled = false;
            acted = true;
        }
    }

    /// The pool the run started with, steady (waited for); where the step goes instead if it is
    /// gone or being deleted.
    async fn steady_original(&self, id: &str, step: Step, run: &mut PoolRun) -> Result<Result<Pool, Outcome>, String> {
        let mut pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(Err(elsewhere)),
        };
        run.old_creation = run.old_creation.or(pool.creation_time);
        if !pool.is_steady() {
            let steady = |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady());
            let waited = self.wait(id, step, self.config.policy.wait_timeout, steady).await?;
            pool = match self.the_original(id, waited, run)? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(Err(elsewhere)),
            };
        }
        Ok(Ok(pool))
    }

    /// Does what the batch says to each node that has not had it yet (judged from `nodes`, the
    /// live listing): a node whose boot time is the one journaled and that is not on its way is
    /// rebooted; a node still in the pool and not leaving is removed (one call for all). Heal
    /// leaves alone a node that is healthy by now; roll and refresh act on healthy nodes.
    async fn act_on_batch(&self, id: &str, step: Step, batch: &[NodeAct], nodes: &[Node]) -> Result<(), String> {
        let find = |name: &str| nodes.iter().find(|n| n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(name)));
        let every = step != Step::HealNodes;
        let mut removes = Vec::new();
        for act in batch {
            let Some(node) = find(&act.node).filter(|n| every || n.is_failed()) else { continue };
            match act.action {
                NodeAction::Reboot | NodeAction::RebootBack if boot_time(node) == act.boot && is_booted(node) => {
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
            self.remove(id, step, removes).await?;
        }
        self.snapshots.request_fast();
        Ok(())
    }

    /// removenodes with `taskcompletion`, at most 100 a call, with the drain's resize timeout: a
    /// removal the service gives up on (its default 15 minutes, before a longer task ended) leaves
    /// the node in the pool, never replaced. A refused or lost call is judged
    /// by the nodes afterwards: those gone or leaving are done, the others are sent again (after
    /// the resize in flight, for a 409; without the gone ones, for a 404 NodeNotFound).
    async fn remove(&self, id: &str, step: Step, nodes: Vec<String>) -> Result<(), String> {
        for chunk in nodes.chunks(100) {
            let mut pending = chunk.to_vec();
            for tries in 1.. {
                let request = RemoveNodesRequest {
                    node_list: Some(pending.clone()),
                    resize_timeout: Some(self.config.policy.drain_resize_timeout()),
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
                let steady = |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady());
                self.wait(id, step, self.config.policy.wait_timeout, steady).await?;
            }
        }
        Ok(())
    }

    /// After removals (which lower the targets), the pool gets its targets back: a fixed pool
    /// those it had when the step first looked (else its pre-run backup's; a kind above them is
    /// left as it is), an autoscale pool an evaluation of its own formula. Waits for the removal to finish first (the service takes
    /// no resize while one is in flight).
    async fn size_back(&self, id: &str, step: Step, run: &mut PoolRun) -> Result<(), String> {
        let policy = &self.config.policy;
        let deadline = Instant::now() + policy.wait_timeout;
        loop {
            let pool = match self.steady_original(id, step, run).await? {
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
                let backup = || match self.before(id).and_then(|b| b.capacity.clone()) {
                    Some(Capacity::Fixed { dedicated, low_priority, .. }) => Some((dedicated, low_priority)),
                    _ => None,
                };
                let Some(mut journaled) = run.nodes.targets.or_else(backup) else {
                    return Ok(());
                };
                // A surge is given back as the last old nodes go, never by a shrink at the end
                // (which would wait for the tasks of nodes just booted).
                if let Some((_, base)) = self.surged(id, run) {
                    journaled = surge_kept(journaled, base, run.nodes.left_to_act(NodeAction::Remove));
                }
                let (dedicated, low_priority) = journaled;
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

    /// Refresh with a surge: how many nodes the surge added (the journaled targets above the
    /// pre-run backup's) and the targets before it.
    fn surged(&self, id: &str, run: &PoolRun) -> Option<(u32, (u32, u32))> {
        if run.strategy != Strategy::Refresh || self.config.policy.surge == 0 {
            return None;
        }
        let (targets, base) = (run.nodes.targets?, self.before(id)?.targets?);
        Some(((targets.0 + targets.1).saturating_sub(base.0 + base.1), base))
    }

    /// Until every node the batch rebooted is up again (a boot time other than the journaled
    /// one, not on its way) or gone. A reboot with taskcompletion waits for the node's task, and
    /// the pool's node counts show it running meanwhile: only the node itself says it is done.
    async fn wait_rebooted(&self, id: &str, step: Step, batch: &[NodeAct]) -> Result<(), String> {
        let policy = &self.config.policy;
        let rebooted: Vec<&NodeAct> = batch.iter().filter(|a| a.action.reboots()).collect();
        if rebooted.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + policy.health_timeout;
        loop {
            let nodes = self.client.list_nodes(id, Some("id,state,lastBootTime")).await.map_err(|e| e.to_string())?;
            let waiting: Vec<&str> = rebooted
                .iter()
                .filter(|act| {
                    nodes
                        .iter()
                        .find(|n| n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&act.node)))
                        .is_some_and(|n| {
                            let again = boot_time(n).is_some_and(|b| Some(&b) != act.boot.as_ref());
                            !(again && is_booted(n))
                        })
                })
                .map(|a| a.node.as_str())
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} not back from the reboot after {} s (a reboot waits for the node's running task); \
                     `repool nodes --pool {id}` shows them",
                    waiting.join(", "),
                    policy.health_timeout.as_secs()
                ));
            }
            let detail = format!("waiting for {} to finish its task and boot again", waiting.join(", "));
            let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail });
            tokio::select! {
                _ = self.cancel.cancelled() => return Err("cancelled".into()),
                _ = tokio::time::sleep(policy.poll_interval) => {}
            }
        }
    }

    /// Until the pool is steady and none of its nodes is on its way (rebooting, starting,
    /// running its start task, leaving), within `health_timeout`.
    async fn wait_batch_settled(&self, id: &str, step: Step, batch: usize) -> Result<(), String> {
        let policy = &self.config.policy;
        let steady = |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady());
        self.wait(id, step, policy.wait_timeout, steady).await?;
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

    /// After a roll's batch settled: the nodes it has rebooted so far must be healthy (as many
    /// failed as the health gate tolerates of the pool's target at most), else the new start task
    /// fails on them and the roll stops there, before any more nodes are taken.
    async fn check_rolled(&self, id: &str, target: u32, history: &NodeHistory) -> Result<(), String> {
        let nodes = self.client.list_nodes(id, Some(NODE_SELECT)).await.map_err(|e| e.to_string())?;
        let rolled: Vec<Node> =
            nodes.into_iter().filter(|n| n.id.as_deref().is_some_and(|i| history.did(i, NodeAction::Reboot))).collect();
        let failed = NodeHealth::of(&rolled).failed;
        let tolerated = target.saturating_sub(self.config.policy.healthy.needed(target));
        if failed.len() as u32 > tolerated {
            return Err(format!(
                "batch {}: {} rebooted node(s) came back failed, no more rebooted: {}",
                history.batches.len(),
                failed.len(),
                named(&failed, id)
            ));
        }
        Ok(())
    }
}

/// Whether a journaled batch is one of `step`'s: a rollback's batches reboot back, no other's do.
fn of_step(batch: &[NodeAct], step: Step) -> bool {
    batch.iter().any(|a| a.action == NodeAction::RebootBack) == (step == Step::RollbackNodes)
}

/// "nodes 2 of 4 replaced": how far a roll or refresh is, from its journaled batches; a rollback
/// counts against the nodes the roll rebooted ("nodes 1 of 2 rebooted back").
fn progress_in_nodes(strategy: Strategy, history: &NodeHistory, step: Step) -> String {
    let distinct = |action: NodeAction| {
        let mut nodes: Vec<String> =
            history.batches.iter().flatten().filter(|a| a.action == action).map(|a| a.node.to_lowercase()).collect();
        nodes.sort();
        nodes.dedup();
        nodes.len()
    };
    if step == Step::RollbackNodes {
        let (back, of) = (distinct(NodeAction::RebootBack), distinct(NodeAction::Reboot));
        return format!("nodes {back} of {of} rebooted back");
    }
    let found = history.found.as_ref().map_or(0, Vec::len);
    match strategy {
        Strategy::Refresh => format!("nodes {} of {found} replaced", distinct(NodeAction::Remove)),
        _ => format!("nodes {} of {found} rebooted", distinct(NodeAction::Reboot)),
    }
}

/// Nodes between states: their batch has not settled.
fn on_the_way(n: &NodeCounts) -> u32 {
    n.creating + n.starting + n.waiting_for_start_task + n.rebooting + n.reimaging + n.leaving_pool
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
