//! A new run's confirmation is the run's proposal: what the one run driver planned, chose and
//! found against the account (not the dashboard's own plan), shown before anything changes.

use super::messages::Command;
use crate::definition::plan::Action as PlanAction;
use crate::rollout::batches::max_unavailable_nodes;
use crate::rollout::policy::RunChoices;
use crate::rollout::run::{Intent, Proposal};

/// What the confirmation of a proposed run shows, and the command that starts it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalView {
    pub title: String,
    pub lines: Vec<String>,
    /// What the operator types to start it.
    pub expected: String,
    /// `Command::Start`, carrying the choices the dialog lets the operator change.
    pub start: Command,
}

impl ProposalView {
    /// The confirmation of `proposal` (whose targets are not empty), made with `choices`.
    pub fn of(proposal: &Proposal<'_>, choices: RunChoices) -> ProposalView {
        let ids = &proposal.ids;
        let plan_of = |id: &str| proposal.plan.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id));
        let mut lines = Vec::new();
        for id in ids {
            let Some(plan) = plan_of(id) else { continue };
            lines.push(match proposal.intent {
                Intent::Recreate => {
                    format!("{id}: plan says {}, {} change(s)", plan.action.name(), plan.changes.len())
                }
                Intent::Apply => {
                    let strategy = proposal.strategies.get(id).copied().unwrap_or_default();
                    let why = proposal.choice(id).map(|c| c.why).unwrap_or_default();
                    format!("{id}: {} ({why})", strategy.name())
                }
                Intent::Heal | Intent::Refresh => continue,
            });
        }
        for (id, failed) in proposal.failed_nodes.iter().filter(|(id, _)| ids.contains(id)) {
            let max = max_unavailable_nodes(choices.max_unavailable_nodes, target_of(proposal, id));
            lines.push(format!("{id}: {} failed node(s), at most {max} at once: {}", failed.len(), failed.join(", ")));
        }
        let left_out = proposal.chosen.len() - ids.len();
        if left_out > 0 && proposal.intent == Intent::Heal {
            lines.push(format!("{left_out} chosen pool(s) have no failed node: left alone"));
        } else if left_out > 0 {
            lines.push(format!("{left_out} chosen pool(s) match their definition already: left alone"));
        }
        if proposal.intent == Intent::Recreate {
            let unchanged =
                ids.iter().filter(|id| plan_of(id).is_some_and(|p| p.action == PlanAction::Unchanged)).count();
            lines.push(format!(
                "{unchanged} of the {} pool(s) match their definition already (recreated anyway: fresh nodes)",
                ids.len()
            ));
        }
        lines.extend(proposal.waits.describe());
        lines.extend(proposal.findings.warnings.iter().map(|w| format!("⚠ {w}")));
        let (title, word) = match proposal.intent {
            Intent::Recreate => ("Recreate pools (a new run)", "recreate"),
            Intent::Apply => ("Apply the definition (a new run)", "apply"),
            Intent::Heal => ("Heal the pools' failed nodes (a new run; the pools stay as they are)", "heal"),
            Intent::Refresh => ("Refresh the pools' nodes a batch at a time (a new run; the pools stay)", "refresh"),
        };
        let expected = if ids.len() == 1 { ids[0].clone() } else { word.to_string() };
        ProposalView { title: title.into(), lines, expected, start: Command::Start { pools: ids.clone(), choices } }
    }
}

/// The nodes a pool targets, as the proposal read it.
fn target_of(proposal: &Proposal<'_>, id: &str) -> u32 {
    proposal.live.iter().find(|p| p.id().eq_ignore_ascii_case(id)).map_or(0, |p| p.target_nodes())
}
