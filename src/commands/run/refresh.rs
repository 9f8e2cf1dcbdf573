//! `repool refresh --pool ID…|--all`: fresh nodes for pools whose definition does not change,
//! without taking their capacity away: every node replaced (removed with taskcompletion, the
//! pool sized back) a batch at a time, with `--surge N` first N nodes above the target. A run
//! like the others (proposal, confirmation, journal, lock, `resume`), without a definition.

use super::flags::at_least_one;
use super::{Intent, confirm, execute, question, refuse_if_readonly, warn_about_journals};
use crate::cli::RefreshArgs;
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::rollout::batches::max_unavailable_nodes;
use crate::rollout::run::Until;
use crate::setup::workspace;

pub async fn refresh(settings: &Settings, args: RefreshArgs) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    if let Some(n) = args.max_unavailable_nodes {
        settings.policy.max_unavailable_nodes = Some(at_least_one("--max-unavailable-nodes", n)?);
    }
    if let Some(n) = args.surge {
        settings.policy.surge = at_least_one("--surge", n)?;
    }
    if let Some(canary) = args.canary {
        settings.policy.canary = canary;
    }
    let workspace = workspace(&settings)?;
    let ids = match args.all {
        true => {
            let pools = workspace.client.list_pools(None, None, None).await?;
            pools.iter().map(|p| p.id().to_string()).collect()
        }
        false => args.pools.clone(),
    };
    let proposal = workspace.propose_refresh(&ids).await.map_err(BadInput)?;
    debug_assert_eq!(proposal.intent, Intent::Refresh);
    for id in proposal.chosen.iter().filter(|id| !proposal.ids.contains(id)) {
        crate::noteln!("{id}: no node; left alone");
    }
    if proposal.ids.is_empty() {
        crate::noteln!("nothing to do: no node in the chosen pool(s)");
        return Ok(Exit::Done);
    }
    for pool in proposal.live.iter().filter(|p| proposal.ids.iter().any(|id| id == p.id())) {
        let max = max_unavailable_nodes(settings.policy.max_unavailable_nodes, pool.target_nodes());
        let surge = match settings.policy.surge {
            0 => String::new(),
            n => format!(", target raised by {n} first"),
        };
        let autoscale = if pool.autoscale() { "; autoscale held until the end, then its formula back" } else { "" };
        crate::noteln!(
            "{}: {} node(s) replaced, at most {max} at once{surge}{autoscale}",
            pool.id(),
            pool.current_nodes()
        );
    }
    refuse_if_readonly(&settings)?;
    confirm(args.yes, &question(&proposal)).await?;
    warn_about_journals(&workspace);
    let signals = crate::signals::claim();
    let run = proposal.start().await.map_err(|e| BadInput(e.message))?;
    let prepared = run.prepare(None, None, &[], Until::End).await.map_err(BadInput)?;
    execute(&workspace, prepared, args.json, signals).await
}
