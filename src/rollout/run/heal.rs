//! Heal's and refresh's proposals: the chosen pools read from the account once (heal: which have
//! failed nodes). No definition is involved: neither changes a pool, only reboots or replaces
//! nodes, so their targets record each pool as the account has it (sealed like a backup), the
//! capacity a refresh gives back at its end (targets or formula), never a body to create.

use super::*;
use crate::definition::PoolDefinition;
use crate::definition::plan::Plan;
use std::borrow::Cow;

/// What a heal proposal reads of each pool's nodes.
const NODE_SELECT: &str = "id,state,startTaskInfo,errors";

impl Workspace {
    /// Proposes healing `ids`: each must be in the account (else a refusal naming it, with the
    /// nearest id). Pools without a failed node are left out of the targets (`ids`), and
    /// `failed_nodes` says, per target, which nodes are failed and how.
    pub async fn propose_heal(&self, ids: &[String]) -> Result<Proposal<'static>, String> {
        let (chosen, live, pools) = self.account_pools(ids).await?;
        let mut failed_nodes = BTreeMap::new();
        for id in &chosen {
            let nodes = self
                .client
                .list_nodes(id, Some(NODE_SELECT))
                .await
                .map_err(|e| format!("cannot list the nodes of pool '{id}' ({e}); nothing was changed"))?;
            let failed: Vec<String> = nodes.iter().filter_map(failed_node).collect();
            if !failed.is_empty() {
                failed_nodes.insert(id.clone(), failed);
            }
        }
        let ids: Vec<String> = chosen.iter().filter(|id| failed_nodes.contains_key(*id)).cloned().collect();
        Ok(self.on_nodes(Intent::Heal, chosen, ids, live, pools, failed_nodes))
    }

    /// Proposes refreshing `ids` (every node replaced, a batch at a time): each must be in the
    /// account; a pool without nodes is left out (nothing to replace).
    pub async fn propose_refresh(&self, ids: &[String]) -> Result<Proposal<'static>, String> {
        let (chosen, live, pools) = self.account_pools(ids).await?;
        let has_nodes =
            |id: &String| live.iter().any(|p| p.id() == id && (p.current_nodes() > 0 || p.target_nodes() > 0));
        let ids: Vec<String> = chosen.iter().filter(|id| has_nodes(id)).cloned().collect();
        Ok(self.on_nodes(Intent::Refresh, chosen, ids, live, pools, BTreeMap::new()))
    }

    /// The proposal of a run on the targets' nodes (`intent`: heal or refresh).
    fn on_nodes(
        &self,
        intent: Intent,
        chosen: Vec<String>,
        ids: Vec<String>,
        live: Vec<Pool>,
        pools: Vec<PoolDefinition>,
        failed_nodes: BTreeMap<String, Vec<String>>,
    ) -> Proposal<'static> {
        let strategy = if intent == Intent::Heal { Strategy::Heal } else { Strategy::Refresh };
        let source = format!("the account's pools ({})", if intent == Intent::Heal { "heal" } else { "refresh" });
        let definition = Definition::of_pools(source, pools);
        Proposal {
            workspace: self.clone(),
            definition: Cow::Owned(definition),
            intent,
            strategies: ids.iter().map(|id| (id.clone(), strategy)).collect(),
            chosen,
            ids,
            live,
            plan: Plan { pools: Vec::new(), not_in_definition: Vec::new() },
            findings: Findings::default(),
            failed_nodes,
            // Neither drains a pool: nodes are rebooted or removed with taskcompletion.
            waits: DrainWaits::NoDrain,
        }
    }

    /// The pools `ids` name as the account has them (each must be there, else a refusal naming
    /// it with the nearest id): their ids, the listing, each sealed as a definition.
    async fn account_pools(&self, ids: &[String]) -> Result<(Vec<String>, Vec<Pool>, Vec<PoolDefinition>), String> {
        let live = self
            .client
            .list_pools_confirming(ids)
            .await
            .map_err(|e| format!("the account did not answer ({e}); nothing was changed"))?;
        let mut chosen: Vec<String> = Vec::new();
        let mut pools = Vec::new();
        for id in ids {
            let Some(pool) = live.iter().find(|p| p.id().eq_ignore_ascii_case(id)) else {
                let known: Vec<&str> = live.iter().map(Pool::id).collect();
                return Err(format!(
                    "pool '{}' is not in the account{}; `repool pools` lists them",
                    crate::output::escape(id),
                    crate::definition::schema::suggest(id, &known)
                ));
            };
            if chosen.iter().any(|c| c.eq_ignore_ascii_case(pool.id())) {
                continue;
            }
            chosen.push(pool.id().to_string());
            let body = sealed::seal_live(&serde_json::to_value(pool).map_err(|e| e.to_string())?, None);
            pools.push(PoolDefinition { id: pool.id().to_string(), body: body.clone(), sealed: body });
        }
        Ok((chosen, live, pools))
    }
}

/// "tvm-1 starttaskfailed (exit 3)" for a node heal acts on; None for any other.
fn failed_node(node: &crate::batch::Node) -> Option<String> {
    let id = node.id.as_deref()?;
    let state = node.state.as_ref()?;
    if !node.is_failed() {
        return None;
    }
    let exit = node.start_task_exit().map(|code| format!(" (start task exit {code})")).unwrap_or_default();
    Some(crate::output::escape(&format!("{id} {state}{exit}")).into_owned())
}
