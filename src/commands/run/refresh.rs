//! `repool refresh --pool ID…|--all`: fresh nodes for pools whose definition does not change,
//! without taking their capacity away: every node replaced (removed with taskcompletion, the
//! pool sized back) a batch at a time, with `--surge N` first N nodes above the target. A run
//! like the others (proposal, confirmation, journal, lock, `resume`), without a definition.

use super::flags::{apply_max_unavailable, at_least_one};
use super::{Intent, confirm_and_run_on_live_pools, say_left_alone};
use crate::cli::RefreshArgs;
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::rollout::batches::max_unavailable_nodes;
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
    apply_max_unavailable(&mut settings, args.max_unavailable)?;
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
    if say_left_alone(&proposal, "no node") {
        return Ok(Exit::Done);
    }
    for pool in proposal.live.iter().filter(|p| proposal.ids.iter().any(|id| id == p.id())) {
        let (max, surge) = match (settings.policy.surge, settings.policy.max_unavailable_nodes) {
            (0, chosen) => (max_unavailable_nodes(chosen, pool.target_nodes()), String::new()),
            (n, chosen) => (chosen.map_or(n, |k| k.min(n)), format!(", target raised by {n} first: never below it")),
        };
        let autoscale = if pool.autoscale() { "; autoscale held until the end, then its formula back" } else { "" };
        crate::noteln!(
            "{}: {} node(s) replaced, at most {max} at once{surge}{autoscale}",
            pool.id(),
            pool.current_nodes()
        );
    }
    confirm_and_run_on_live_pools(&settings, &workspace, proposal, args.yes, args.json).await
}
