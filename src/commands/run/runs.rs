//! `repool runs` and `repool abandon`: the account's runs as the journals tell them, and closing one.

use crate::commands::{confirm, list_live};
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::rollout::journal::RunState;
use crate::rollout::report::{RunStatus, is_resumable, left_behind};
use crate::setup::workspace;
use serde_json::Value;

/// `repool runs`: this account's runs, newest first.
pub fn runs(settings: &Settings, json: bool) -> color_eyre::Result<Exit> {
    let workspace = workspace(settings)?;
    let runs = workspace.runs();
    for warning in runs.iter().flat_map(RunState::warnings) {
        crate::noteln!("warning: {warning}");
    }
    if json {
        let list: Vec<Value> = runs.iter().map(run_json).collect();
        crate::outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Exit::Done);
    }
    if runs.is_empty() {
        crate::outln!("no runs for account {}", workspace.account);
    }
    for run in &runs {
        let definition = if run.has_start() { run.definition.as_str() } else { "(run-started record unreadable)" };
        let resumable =
            if is_resumable(run) { format!(", resumable: `repool resume {}`", run.run) } else { String::new() };
        crate::outln!("{}  {}{resumable}  {definition}", run.run, run_state(run));
        for id in run.pool_ids() {
            let pool = run.pool(&id);
            let alarm = if pool.is_between_delete_and_create() && !run.is_closed() {
                "  ← deleted, not yet recreated"
            } else {
                ""
            };
            crate::outln!("    {id:<24} {}{alarm}", pool.describe());
        }
    }
    Ok(Exit::Done)
}

/// How a run ended, as `runs` says it: a run stopped by a signal, a quit or a crash is
/// "interrupted" (whether it can go on is `is_resumable`).
fn run_state(run: &RunState) -> &'static str {
    match run.finished {
        Some(status) if run.is_closed() => status.name(),
        _ if run.holds_unknown_pools() => "damaged",
        _ if run.pending().is_empty() => "done",
        Some(RunStatus::Cancelled) | None => "interrupted",
        Some(status) => status.name(),
    }
}

fn run_json(run: &RunState) -> Value {
    let pending = run.pending();
    let pools: Vec<Value> = run
        .pool_ids()
        .into_iter()
        .map(|id| {
            let pool = run.pool(&id);
            let resumes_at = pending.iter().find(|(p, _)| *p == id).map(|(_, at)| at.name());
            serde_json::json!({
                "resumesAt": resumes_at,
                "deletedNotRecreated": pool.is_between_delete_and_create() && !run.is_closed(),
                "backup": run.target(&id).and_then(|t| t.backup.clone()),
                "state": pool.describe(),
                "error": pool.error,
                "id": id,
            })
        })
        .collect();
    serde_json::json!({
        "runId": run.run,
        "state": run_state(run),
        "resumable": is_resumable(run),
        "started": run.started,
        "definition": run.definition,
        "pools": pools,
        "unreadableLines": run.unreadable,
        "warnings": run.warnings(),
    })
}

/// `repool abandon RUN`: closes the run; its pools stay as they are.
pub async fn abandon(settings: &Settings, run_id: &str, yes: bool) -> color_eyre::Result<Exit> {
    let workspace = workspace(settings)?;
    let run = workspace.open_any(run_id).map_err(BadInput)?;
    for warning in run.state.warnings() {
        crate::noteln!("warning: {warning}");
    }
    for id in run.state.pool_ids() {
        crate::noteln!("{id:<24} {}", run.state.pool(&id).describe());
    }
    // Warnings from the account as it is now: a pool restored or scaled back since is fine.
    let live = list_live(&workspace.client, &run.state.pool_ids()).await?;
    for warning in left_behind(&run.state, &live) {
        crate::noteln!("  warning: {warning}");
    }
    confirm(yes, &format!("Abandon run {run_id}? Its pools are left as they are.")).await?;
    let _signals = crate::signals::claim();
    for line in run.abandon().await.map_err(BadInput)? {
        crate::noteln!("{line}");
    }
    crate::noteln!("run {run_id} abandoned");
    Ok(Exit::Done)
}
