//! `repool heal --pool ID…`: the chosen pools' failed nodes rebooted or replaced, a few at a time,
//! until the pools pass the health gate; the pools themselves are not changed. A run like the
//! others (proposal, confirmation, journal, lock, `resume`), without a definition.

use super::flags::at_least_one;
use super::{Intent, confirm_and_run_on_live_pools, say_left_alone};
use crate::cli::HealArgs;
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::rollout::batches::max_unavailable_nodes;
use crate::setup::workspace;

pub async fn heal(settings: &Settings, args: HealArgs) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    if let Some(n) = args.max_unavailable_nodes {
        settings.policy.max_unavailable_nodes = Some(at_least_one("--max-unavailable-nodes", n)?);
    }
    if args.pools.is_empty() {
        return Err(BadInput::new("name the pools: --pool ID (repeatable)").into());
    }
    let workspace = workspace(&settings)?;
    let proposal = workspace.propose_heal(&args.pools).await.map_err(BadInput)?;
    debug_assert_eq!(proposal.intent, Intent::Heal);
    if say_left_alone(&proposal, "no failed node") {
        return Ok(Exit::Done);
    }
    for id in &proposal.ids {
        let target = proposal.live.iter().find(|p| p.id() == id).map_or(0, |p| p.target_nodes());
        let max = max_unavailable_nodes(settings.policy.max_unavailable_nodes, target);
        let failed = proposal.failed_nodes.get(id).cloned().unwrap_or_default();
        crate::noteln!("{id}: {} failed node(s), at most {max} acted on at once:", failed.len());
        for node in failed {
            crate::noteln!("  {node}");
        }
    }
    confirm_and_run_on_live_pools(&settings, &workspace, proposal, args.yes, args.json).await
}
