//! `repool recreate`, `apply` and `resume`: runs driven from a terminal or cron through the one
//! run API (`rollout::run`). Human progress on stderr (a line per step transition, and at least
//! every 30 s what each waiting pool waits for), the JSON report on stdout with --json, exit codes
//! as in the CLI contract. `runs` and `abandon` read and close what runs left.

use super::{confirm, refuse_if_readonly, warn_about_journals};
use crate::cli::{ResumeArgs, RunArgs};
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::{BadInput, Exit};
use crate::rollout::journal::RunState;
use crate::rollout::report::RunStatus;
use crate::rollout::run::{BodySource, Intent, Prepared, Proposal, Run, Until, Workspace};
use crate::rollout::strategy::Strategy;
use crate::setup::{load_definition, workspace};
use crate::signals::{Claim, Signal};
use dry_run::DryRun;
use flags::{apply_drain_policy, apply_run_flags, parse_until};
use progress::{print_progress, print_report};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub mod dry_run;
mod flags;
mod heal;
mod progress;
mod refresh;
mod runs;

pub use heal::heal;
pub use refresh::refresh;
pub use runs::{abandon, runs};

/// The pools `--pool` or `--all` name (the proposal checks each is in the definition).
fn chosen_pools(definition: &Definition, args: &RunArgs) -> Vec<String> {
    match args.all {
        true => definition.pools.iter().map(|p| p.id.clone()).collect(),
        false => args.pools.clone(),
    }
}

/// `apply`: how each chosen pool changes and why.
fn say_how_each_pool_changes(proposal: &Proposal) {
    crate::noteln!("How each pool changes:");
    for id in &proposal.ids {
        let Some(choice) = proposal.choice(id) else { continue };
        let strategy = choice.strategy.unwrap_or(Strategy::InPlace);
        crate::noteln!("  {id}: {} ({})", strategy.name(), choice.why);
    }
}

/// The confirmation's question: what happens to which pools.
/// For heal and refresh: names the chosen pools the proposal leaves alone (`why`: "no failed
/// node"), and says when nothing is left to do.
fn say_left_alone(proposal: &Proposal, why: &str) -> bool {
    for id in proposal.chosen.iter().filter(|id| !proposal.ids.contains(id)) {
        crate::noteln!("{id}: {why}; left alone");
    }
    let nothing = proposal.ids.is_empty();
    if nothing {
        crate::noteln!("nothing to do: {why} in the chosen pool(s)");
    }
    nothing
}

/// Confirms and runs a proposal that needs no definition (heal, refresh) to its end.
async fn confirm_and_run_on_live_pools(
    settings: &Settings,
    workspace: &Workspace,
    proposal: Proposal<'_>,
    yes: bool,
    json: bool,
) -> color_eyre::Result<Exit> {
    refuse_if_readonly(settings)?;
    confirm(yes, &question(&proposal)).await?;
    warn_about_journals(workspace);
    let signals = crate::signals::claim();
    let run = proposal.start().await.map_err(|e| BadInput(e.message))?;
    let prepared = run.prepare(None, None, &[], Until::End).await.map_err(BadInput)?;
    execute(workspace, prepared, json, signals).await
}

fn question(proposal: &Proposal) -> String {
    let ids = &proposal.ids;
    let note = match proposal.unchanged().len() {
        0 => String::new(),
        n => format!(" ({n} of them match the definition already; --changed leaves those out)"),
    };
    match proposal.intent {
        Intent::Recreate => format!("Recreate {} pool(s): {}{note}?", ids.len(), ids.join(", ")),
        Intent::Apply => {
            let each: Vec<String> = ids
                .iter()
                .map(|id| format!("{id} ({})", proposal.strategies.get(id).copied().unwrap_or_default().name()))
                .collect();
            format!("Apply the definition to {} pool(s): {}?", ids.len(), each.join(", "))
        }
        Intent::Heal => {
            let each: Vec<String> = ids
                .iter()
                .map(|id| format!("{id} ({} failed node(s))", proposal.failed_nodes.get(id).map_or(0, Vec::len)))
                .collect();
            format!("Heal {} pool(s): {}?", ids.len(), each.join(", "))
        }
        Intent::Refresh => {
            format!("Replace every node of {} pool(s), a batch at a time: {}?", ids.len(), ids.join(", "))
        }
    }
}

/// `recreate` (always new pools) and `apply` (each pool the least disruptive way its plan allows).
pub async fn recreate(settings: &Settings, args: RunArgs, intent: Intent) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    apply_run_flags(&mut settings, &args)?;
    let until = parse_until(args.until.as_deref())?;
    if args.pools.is_empty() && !args.all {
        return Err(
            BadInput::new("name the pools: --pool ID (repeatable) or --all (every pool in the definition)").into()
        );
    }
    let definition = load_definition(&settings)?;
    let mut workspace = workspace(&settings)?;
    workspace.preflight.accept_loss = args.accept_loss.clone();
    // `apply` leaves alone what matches already; `recreate` only with --changed.
    let only_changed = args.changed || intent == Intent::Apply;
    let proposal = (workspace.propose(&definition, &chosen_pools(&definition, &args), intent, only_changed).await)
        .map_err(BadInput)?;
    crate::note!("{}", proposal.plan);
    if proposal.ids.is_empty() {
        crate::noteln!("nothing to do: every chosen pool matches the definition");
        return Ok(Exit::Done);
    }
    if intent == Intent::Apply {
        say_how_each_pool_changes(&proposal);
    }
    // A pause after a step a pool's chain lacks would never come: say so instead of running on.
    if let Some(step) = until
        && let Some((id, strategy)) = proposal.strategies.iter().find(|(_, s)| !s.chain().contains(&step))
    {
        let steps: Vec<&str> = strategy.chain().iter().map(|s| s.name()).collect();
        return Err(BadInput::new(format!(
            "--until {step}: the change of {id} ({}) has no such step; its steps: {}",
            strategy.name(),
            steps.join(", ")
        ))
        .into());
    }
    // Proof before anything changes: all problems at once.
    for warning in &proposal.findings.warnings {
        crate::noteln!("warning: {warning}");
    }
    if let Some(refusal) = proposal.refusal() {
        return Err(BadInput::new(refusal.message).into());
    }
    if args.dry_run {
        let dry = DryRun::new(&proposal);
        if args.json {
            crate::outln!("{}", serde_json::to_string_pretty(&dry)?);
        } else {
            crate::out!("{}", dry.text());
        }
        return Ok(Exit::Done);
    }
    refuse_if_readonly(&settings)?;
    if let Some(waits) = proposal.waits.describe() {
        crate::noteln!("{waits}");
    }
    confirm(args.yes, &question(&proposal)).await?;
    warn_about_journals(&workspace);
    // From the run's start on, a signal stops it in order (journaled) instead of where it stands.
    let signals = crate::signals::claim();
    let run = proposal.start().await.map_err(|e| BadInput(e.message))?;
    let until = until.map_or(Until::End, Until::After);
    let prepared = run.prepare(Some(&definition), None, &[], until).await.map_err(BadInput)?;
    say_probes(&prepared.run);
    execute(&workspace, prepared, args.json, signals).await
}

/// The definition a resumed run compares with: `--definition` if given, else the file the run
/// recorded (if it is still there).
fn definition_in_use(
    settings: &Settings,
    flag: Option<&std::path::Path>,
    state: &RunState,
) -> Result<Option<Definition>, BadInput> {
    let recorded_only = |t: &crate::rollout::journal::TargetRecord| !t.strategy.needs_definition();
    if state.targets.iter().all(recorded_only) {
        // A heal or refresh creates and patches nothing: no definition is read.
        return Ok(None);
    }
    let path = match flag {
        Some(path) => path.to_path_buf(),
        None if std::path::Path::new(&state.definition).exists() => state.definition.clone().into(),
        None => {
            crate::noteln!(
                "note: {} (the run's definition) is gone; pools are created from what the run recorded",
                state.definition
            );
            return Ok(None);
        }
    };
    let settings = Settings { definition: Some(path), ..settings.clone() };
    load_definition(&settings).map(Some)
}

pub async fn resume(
    settings: &Settings,
    args: ResumeArgs,
    definition_flag: Option<&std::path::Path>,
) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    apply_drain_policy(&mut settings, args.on_drain_timeout.as_deref())?;
    let until = parse_until(args.until.as_deref())?;
    let create_from: Option<BodySource> = args
        .create_from
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| BadInput::new(format!("--create-from {e}")))?;
    let workspace = workspace(&settings)?;
    warn_about_journals(&workspace);
    let run_id = match args.run_id {
        Some(id) => id,
        None => workspace.unfinished_runs().into_iter().next().map(|s| s.run).ok_or_else(|| {
            BadInput::new(format!(
                "no unfinished run for account {} in {}; `repool runs` lists them",
                workspace.account,
                workspace.journal_dir().display()
            ))
        })?,
    };
    let run = workspace.open_to_continue(&run_id).map_err(BadInput)?;
    let definition = definition_in_use(&settings, definition_flag, &run.state)?;
    let until = until.map_or(Until::End, Until::After);
    let targets = run.targets(&[], until);
    for t in &run.state.targets {
        let pool = run.state.pool(&t.pool);
        let next = targets.iter().find(|x| x.id == t.pool).map(|x| format!(" → resumes at {}", x.start_at));
        let alarm = if pool.is_between_delete_and_create() { "  ← deleted, not yet recreated" } else { "" };
        crate::noteln!("{:<24} {}{}{alarm}", t.pool, pool.describe(), next.unwrap_or_default());
    }
    if targets.is_empty() {
        crate::noteln!("run {run_id}: nothing left to do");
        return Ok(Exit::Done);
    }
    crate::noteln!("as the run chose when it started: {}", run.state.choices.describe());
    let prepared = run.prepare(definition.as_ref(), create_from, &[], until).await.map_err(BadInput)?;
    for warning in &prepared.warnings {
        crate::noteln!("warning: {warning}");
    }
    say_probes(&prepared.run);
    refuse_if_readonly(&settings)?;
    confirm(args.yes, &format!("Resume run {run_id} for {} pool(s)?", prepared.targets.len())).await?;
    let signals = crate::signals::claim();
    execute(&workspace, prepared, args.json, signals).await
}

/// `--probe`'s verdicts, one line per pool (the JSON report has them too).
fn say_probes(run: &Run) {
    for (id, probe) in &run.probes {
        crate::noteln!("probe {id}: {} (as {})", probe.detail, probe.probe_pool);
    }
}

async fn execute(
    workspace: &Workspace,
    prepared: Prepared,
    json: bool,
    mut signals: Claim,
) -> color_eyre::Result<Exit> {
    let run_id = prepared.run.id().to_string();
    crate::noteln!("run {run_id}: journal {}", workspace.journal_dir().join(format!("{run_id}.jsonl")).display());
    tracing::info!(run = %run_id, pools = prepared.targets.len(), "run started");
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    // Ctrl-C cancels (exit 130), any other signal interrupts (exit 3); either way the call in
    // flight finishes and is journaled first.
    let stop = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let signal = signals.received().await;
            crate::noteln!(
                "{}: stopping: finishing the call in flight, then journaling; `repool resume` continues",
                signal.name()
            );
            cancel.cancel();
            tokio::spawn(signals.exit_on_another(signal.exit(), json));
            signal
        })
    };
    let printer = tokio::spawn(print_progress(rx, workspace.snapshots.subscribe()));
    let report = prepared.execute(tx, cancel).await;
    stop.abort();
    let signal = stop.await.ok();
    let _ = printer.await;
    print_report(&report, json)?;
    Ok(match report.status {
        RunStatus::Done | RunStatus::Paused | RunStatus::Abandoned => Exit::Done,
        RunStatus::Failed => Exit::PoolFailed,
        RunStatus::Cancelled => signal.map_or(Exit::Cancelled, Signal::exit),
    })
}
