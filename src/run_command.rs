//! `repool recreate`, `resume`, `runs`, `abandon` and `restore`: runs driven from a terminal or
//! cron through the one run API (`recreate::run`). Human progress on stderr (a line per step
//! transition, and at least every 30 s what each waiting pool waits for), the JSON report on
//! stdout with --json, exit codes as in the CLI contract.

use crate::batch::{BatchClient, Pool};
use crate::cli::{RecreateArgs, ResumeArgs};
use crate::config::Settings;
use crate::definition::Definition;
use crate::definition::plan::Plan;
use crate::dry_run::DryRun;
use crate::errors::{BadInput, Exit};
use crate::headless::{connect, load_definition};
use crate::recreate::engine::{PoolTarget, Progress};
use crate::recreate::journal::RunState;
use crate::recreate::report::{RunReport, RunStatus, is_resumable, left_behind};
use crate::recreate::run::{BodySource, Intent, Run, Until, Workspace};
use crate::recreate::snapshots::Snapshot;
use crate::recreate::step::Step;
use crate::recreate::strategy::Strategy;
use crate::signals::{Claim, Signal};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// The account as runs see it, every setting checked before any request.
pub fn workspace(settings: &Settings) -> Result<Workspace, BadInput> {
    let client = connect(settings)?;
    Ok(workspace_for(settings, client))
}

pub fn workspace_for(settings: &Settings, client: BatchClient) -> Workspace {
    Workspace::new(client, settings.api_version, settings.policy.clone(), settings.paths.data_dir.clone())
}

async fn list_live(client: &BatchClient, ids: &[String]) -> Result<Vec<Pool>, BadInput> {
    client
        .list_pools_confirming(ids)
        .await
        .map_err(|e| BadInput::new(format!("preflight: the account did not answer ({e}); nothing was changed")))
}

fn parse_until(flag: Option<&str>) -> Result<Option<Step>, BadInput> {
    flag.map(Step::parse).transpose().map_err(|e| BadInput::new(format!("--until: {e}")))
}

fn refuse_if_readonly(settings: &Settings) -> Result<(), BadInput> {
    if settings.readonly {
        return Err(BadInput::new("read-only mode (--readonly or readonly = true): nothing may be changed"));
    }
    Ok(())
}

/// `recreate` (always new pools) and `apply` (each pool the least disruptive way its plan allows).
pub async fn recreate(settings: &Settings, args: RecreateArgs, intent: Intent) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    if let Some(parallel) = args.parallel {
        if parallel == 0 {
            return Err(BadInput::new("--parallel must be at least 1").into());
        }
        settings.policy.parallel = parallel;
    }
    apply_drain_policy(&mut settings, args.on_drain_timeout.as_deref())?;
    if let Some(healthy) = policy_flag("--healthy", args.healthy.as_deref())? {
        settings.policy.healthy = healthy;
    }
    if let Some(canary) = args.canary {
        settings.policy.canary = canary;
    }
    if let Some(on_unhealthy) = policy_flag("--on-unhealthy", args.on_unhealthy.as_deref())? {
        settings.policy.on_unhealthy = on_unhealthy;
    }
    if let Some(max) = args.max_unavailable {
        if max == 0 {
            return Err(BadInput::new("--max-unavailable must be at least 1").into());
        }
        settings.policy.max_unavailable = Some(max);
    }
    settings.policy.probe |= args.probe;
    let until = parse_until(args.until.as_deref())?;
    if args.pools.is_empty() && !args.all {
        return Err(
            BadInput::new("name the pools: --pool ID (repeatable) or --all (every pool in the definition)").into()
        );
    }
    let definition = load_definition(&settings)?;
    let mut workspace = workspace(&settings)?;
    workspace.preflight.accept_loss = args.accept_loss.clone();
    let ids: Vec<String> = if args.all {
        definition.pools.iter().map(|p| p.id.clone()).collect()
    } else {
        let mut ids: Vec<String> = Vec::new();
        for id in &args.pools {
            let pool = definition
                .pool(id)
                .ok_or_else(|| BadInput::new(crate::recreate::run::unknown_pool(&definition, id, intent)))?;
            if !ids.contains(&pool.id) {
                ids.push(pool.id.clone());
            }
        }
        ids
    };
    // Only the chosen pools' env() variables are needed.
    definition.require_env(ids.iter().map(String::as_str)).map_err(|e| BadInput::new(e.to_string()))?;
    let live = list_live(&workspace.client, &ids).await?;
    let plan = Plan::new(&definition, &live, &ids, settings.api_version);
    crate::note!("{plan}");
    let unchanged: Vec<String> = (plan.pools.iter())
        .filter(|p| p.action == crate::definition::plan::Action::Unchanged)
        .map(|p| p.id.clone())
        .collect();
    // `apply` leaves alone what matches already; `recreate` only with --changed.
    let ids: Vec<String> = if args.changed || intent == Intent::Apply {
        ids.into_iter().filter(|id| !unchanged.iter().any(|u| u.eq_ignore_ascii_case(id))).collect()
    } else {
        ids
    };
    if ids.is_empty() {
        crate::noteln!("nothing to do: every chosen pool matches the definition");
        return Ok(Exit::Done);
    }
    let unchanged_chosen = unchanged.iter().filter(|u| ids.iter().any(|id| id.eq_ignore_ascii_case(u))).count();
    let strategies: BTreeMap<String, Strategy> =
        Strategy::for_plan(&plan, intent).into_iter().filter(|(id, _)| ids.contains(id)).collect();
    if intent == Intent::Apply {
        crate::noteln!("How each pool changes:");
        for pool in plan.pools.iter().filter(|p| ids.contains(&p.id)) {
            let choice = Strategy::choose(pool);
            let strategy = choice.strategy.unwrap_or(Strategy::InPlace);
            crate::noteln!("  {}: {} ({})", pool.id, strategy.name(), choice.why);
        }
    }
    // A pause after a step a pool's chain lacks would never come: say so instead of running on.
    if let Some(step) = until
        && let Some((id, strategy)) = strategies.iter().find(|(_, s)| !s.chain().contains(&step))
    {
        let steps: Vec<&str> = strategy.chain().iter().map(|s| s.name()).collect();
        return Err(BadInput::new(format!(
            "--until {step}: the change of {id} ({}) has no such step; its steps: {}",
            strategy.name(),
            steps.join(", ")
        ))
        .into());
    }
    let kept = crate::recreate::strategy::kept(&strategies);
    // Proof before anything changes: all problems at once; the run's start checks again.
    let findings = workspace.preflight_against(&definition, &ids, &live, &kept).await.map_err(BadInput)?;
    for warning in &findings.warnings {
        crate::noteln!("warning: {warning}");
    }
    if !findings.problems.is_empty() {
        return Err(BadInput::new(findings.refusal("preflight")).into());
    }
    if args.dry_run {
        let api = settings.api_version;
        let dry = DryRun::new(&definition, &plan, &live, &ids, &strategies, &settings.policy, api);
        if args.json {
            crate::outln!("{}", serde_json::to_string_pretty(&dry)?);
        } else {
            crate::out!("{}", dry.text());
        }
        return Ok(Exit::Done);
    }
    refuse_if_readonly(&settings)?;
    let note = match unchanged_chosen {
        0 => String::new(),
        n => format!(" ({n} of them match the definition already; --changed leaves those out)"),
    };
    let question = match intent {
        Intent::Recreate => format!("Recreate {} pool(s): {}{note}?", ids.len(), ids.join(", ")),
        Intent::Apply => {
            let each: Vec<String> = ids
                .iter()
                .map(|id| format!("{id} ({})", strategies.get(id).copied().unwrap_or_default().name()))
                .collect();
            format!("Apply the definition to {} pool(s): {}?", ids.len(), each.join(", "))
        }
    };
    confirm(args.yes, &question).await?;
    warn_about_journals(&workspace);
    // From the run's start on, a signal stops it in order (journaled) instead of where it stands.
    let signals = crate::signals::claim();
    let run = workspace.start(&definition, &ids, intent).await.map_err(|e| BadInput(e.message))?;
    say_probes(&run);
    let bodies = run.bodies(Some(&definition), None).map_err(BadInput)?;
    let targets = run.targets(&[], until.map_or(Until::End, Until::After));
    execute(&workspace, run, targets, bodies, args.json, signals).await
}

/// The definition a resumed run compares with: `--definition` if given, else the file the run
/// recorded (if it is still there).
fn definition_in_use(
    settings: &Settings,
    flag: Option<&std::path::Path>,
    state: &RunState,
) -> Result<Option<Definition>, BadInput> {
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
    let mut run = workspace.open(&run_id).map_err(BadInput)?;
    let definition = definition_in_use(&settings, definition_flag, &run.state)?;
    let targets = run.targets(&[], until.map_or(Until::End, Until::After));
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
    let bodies = run.bodies(definition.as_ref(), create_from).map_err(BadInput)?;
    for warning in run.prove(&bodies).await.map_err(BadInput)? {
        crate::noteln!("warning: {warning}");
    }
    say_probes(&run);
    refuse_if_readonly(&settings)?;
    confirm(args.yes, &format!("Resume run {run_id} for {} pool(s)?", targets.len())).await?;
    let signals = crate::signals::claim();
    execute(&workspace, run, targets, bodies, args.json, signals).await
}

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
    run.abandon().await?;
    crate::noteln!("run {run_id} abandoned");
    Ok(Exit::Done)
}

fn apply_drain_policy(settings: &mut Settings, flag: Option<&str>) -> Result<(), BadInput> {
    if let Some(on_timeout) = policy_flag("--on-drain-timeout", flag)? {
        settings.policy.on_drain_timeout = on_timeout;
    }
    Ok(())
}

/// A policy flag's value, parsed; a bad one is refused naming the flag.
fn policy_flag<T: std::str::FromStr<Err = String>>(name: &str, value: Option<&str>) -> Result<Option<T>, BadInput> {
    value.map(|v| v.parse().map_err(|e: String| BadInput::new(format!("{name}: {e}")))).transpose()
}

/// `--probe`'s verdicts, one line per pool (the JSON report has them too).
fn say_probes(run: &Run) {
    for (id, probe) in &run.probes {
        crate::noteln!("probe {id}: {} (as {})", probe.detail, probe.probe_pool);
    }
}

/// Asks on the terminal unless --yes; refuses without a terminal. The answer is read on a thread
/// of its own so that a signal can stop the command at the prompt.
async fn confirm(yes: bool, question: &str) -> Result<(), BadInput> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(BadInput::new("stdin is not a terminal: pass --yes to confirm (nothing was changed)"));
    }
    crate::note!("{question} Type 'yes' to continue: ");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = tx.send(std::io::stdin().read_line(&mut answer).map(|_| answer));
    });
    let answer = rx.await.map_err(|_| BadInput::new("cannot read the answer"))?;
    let answer = answer.map_err(|e| BadInput::new(e.to_string()))?;
    if answer.trim() == "yes" { Ok(()) } else { Err(BadInput::new("not confirmed; nothing was changed")) }
}

async fn execute(
    workspace: &Workspace,
    run: Run,
    targets: Vec<PoolTarget>,
    bodies: BTreeMap<String, Value>,
    json: bool,
    mut signals: Claim,
) -> color_eyre::Result<Exit> {
    let run_id = run.id().to_string();
    crate::noteln!("run {run_id}: journal {}", workspace.journal_dir().join(format!("{run_id}.jsonl")).display());
    tracing::info!(run = %run_id, pools = targets.len(), "run started");
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
    let report = run.execute(targets, bodies, tx, cancel).await;
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

/// Where one pool is, for the summary line.
struct Current {
    step: String,
    since: Instant,
    waiting: bool,
}

/// One line per step transition; every 30 s a summary that says, for each pool in a wait, what it
/// waits for, for how long and how many nodes are left (from the waits' shared snapshot).
async fn print_progress(mut rx: mpsc::UnboundedReceiver<Progress>, snapshots: watch::Receiver<Arc<Snapshot>>) {
    let mut summary = tokio::time::interval(Duration::from_secs(30));
    summary.tick().await;
    let mut current: BTreeMap<String, Current> = BTreeMap::new();
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { return };
                let now = jiff::Zoned::now().strftime("%H:%M:%S");
                match event {
                    Progress::StepStarted { pool, step } => {
                        crate::noteln!("{now} {pool:<20} {step} …");
                        let waiting = step.is_wait();
                        current.insert(pool, Current { step: step.to_string(), since: Instant::now(), waiting });
                    }
                    Progress::StepFinished { pool, step, outcome, detail, elapsed } => {
                        crate::noteln!("{now} {pool:<20} {step} {} ({:.1}s){}", outcome.name(), elapsed.as_secs_f64(), detail.map(|d| format!(": {d}")).unwrap_or_default());
                    }
                    Progress::Waiting { .. } => {}
                    Progress::PoolFinished { pool, status, error } => {
                        crate::noteln!("{now} {pool:<20} {}{}", status.name().to_uppercase(), error.map(|e| format!(": {e}")).unwrap_or_default());
                        current.insert(pool, Current { step: status.name().to_string(), since: Instant::now(), waiting: false });
                    }
                    Progress::RunFinished { run, status } => crate::noteln!("{now} run {run} {}", status.name()),
                }
            }
            _ = summary.tick() => {
                let snapshot = snapshots.borrow().clone();
                let states: Vec<String> = current
                    .iter()
                    .map(|(id, c)| {
                        if !c.waiting {
                            return format!("{id}: {}", c.step);
                        }
                        let nodes = snapshot
                            .get(id)
                            .map(|p| format!(", {} node(s) left, {}", p.current_nodes(), p.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?")))
                            .unwrap_or_else(|| ", not in the account".into());
                        format!("{id}: {} for {}s{nodes}", c.step, c.since.elapsed().as_secs())
                    })
                    .collect();
                crate::noteln!("still working: {}", states.join("; "));
            }
        }
    }
}

fn print_report(report: &RunReport, json: bool) -> color_eyre::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    crate::noteln!("\nrun {} {} — journal {}", report.run_id, report.status.name(), report.journal);
    for pool in &report.pools {
        let took: f64 = pool.steps.iter().map(|s| s.duration_seconds).sum();
        crate::noteln!(
            "  {:<20} {:<11} {:>7.0}s{}{}",
            pool.id,
            pool.status.name(),
            took,
            pool.backup.as_ref().map(|b| format!("  pre-run backup {b}")).unwrap_or_default(),
            pool.error.as_ref().map(|e| format!("\n      {e}")).unwrap_or_default()
        );
        for warning in &pool.warnings {
            crate::noteln!("      warning: {warning}");
        }
    }
    Ok(())
}

/// What `repool restore` restores from.
pub enum RestoreFrom {
    /// The pre-run backup of the newest run that touched the pool.
    Pool(String),
    File(std::path::PathBuf),
}

/// A backup creates only the pool it is filed under (the pool named, or its folder in the backups
/// directory): one whose id was edited or that was moved there is refused.
fn check_filed_under(
    settings: &Settings,
    file: &std::path::Path,
    named: Option<&str>,
    id: &str,
) -> Result<(), BadInput> {
    let folder = file.parent().and_then(|f| f.file_name()).map(|f| f.to_string_lossy().into_owned());
    let in_backups = std::fs::canonicalize(settings.paths.backup_dir())
        .ok()
        .zip(std::fs::canonicalize(file).ok())
        .is_some_and(|(backups, file)| file.starts_with(backups));
    let mismatch = match named {
        Some(pool) => Some(pool.to_string()).filter(|p| !p.eq_ignore_ascii_case(id)),
        None if in_backups => folder.filter(|f| !f.eq_ignore_ascii_case(&crate::recreate::backup::safe(id))),
        None => None,
    };
    match mismatch {
        Some(pool) => Err(BadInput::new(format!(
            "backup {} is filed under pool '{pool}' but holds pool '{id}' (edited or misplaced?); restore creates \
             only the pool a backup is filed under; nothing was changed",
            file.display()
        ))),
        None => Ok(()),
    }
}

/// Says what is damaged or edited in the account's journals before a command relies on them.
fn warn_about_journals(workspace: &Workspace) {
    for warning in workspace.journal_warnings() {
        crate::noteln!("warning: {warning}");
    }
}

/// `repool restore`: creates a missing pool from a backup, with the secrets the service never returned.
pub async fn restore(
    settings: &Settings,
    from: RestoreFrom,
    secrets: &[String],
    yes: bool,
) -> color_eyre::Result<Exit> {
    use crate::recreate::restore::{body_from_backup, set_path};
    let (file, named) = match from {
        RestoreFrom::File(file) => (file, None),
        RestoreFrom::Pool(id) => {
            let workspace = workspace(settings)?;
            warn_about_journals(&workspace);
            let (run, file) = workspace.pre_run_backup(&id).ok_or_else(|| {
                BadInput::new(format!(
                    "no run of account {} backed up pool '{id}'; pass a backup FILE (see `repool info` for the backups folder)",
                    workspace.account
                ))
            })?;
            crate::noteln!("restoring '{id}' as it was before {run}: {}", file.display());
            (file, Some(id))
        }
    };
    if file.to_string_lossy().ends_with("-pre-delete.json") {
        crate::noteln!(
            "warning: {} is the drained pool right before its delete (0 nodes, autoscale off); \
             the pool as it was before the run is the run's -pre-run.json backup (`repool restore --pool ID`)",
            file.display()
        );
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| BadInput::new(format!("cannot read backup {}: {e}", file.display())))?;
    let backup: Value = serde_json::from_str(&text)
        .map_err(|e| BadInput::new(format!("backup {} is not JSON: {e}", file.display())))?;
    let id = backup["id"].as_str().unwrap_or_default();
    check_filed_under(settings, &file, named.as_deref(), id)?;
    let (mut body, missing) = body_from_backup(&backup, settings.api_version).map_err(BadInput)?;
    let mut supplied = Vec::new();
    for pair in secrets {
        let (path, var) =
            pair.split_once('=').ok_or_else(|| BadInput::new(format!("--secret '{pair}' must be PATH=ENV_VAR")))?;
        let value = std::env::var(var)
            .map_err(|_| BadInput::new(format!("--secret {path}: environment variable {var} is not set")))?;
        set_path(&mut body, path, Value::String(value)).map_err(|e| BadInput::new(format!("--secret {e}")))?;
        supplied.push(path.to_string());
    }
    let mut hints: Vec<String> =
        missing.iter().filter(|m| !supplied.contains(m)).map(|m| format!("  --secret {m}=ENV_VAR")).collect();
    // Secrets the backup keeps as references: from the environment, or named here.
    match crate::definition::sealed::unseal(&body, None) {
        Ok(resolved) => body = resolved,
        Err(unresolved) => hints.extend(unresolved.iter().map(|m| match m.split_once(" (") {
            Some((path, why)) => format!("  --secret {path}=ENV_VAR  ({why}"),
            None => format!("  --secret {m}=ENV_VAR"),
        })),
    }
    if !hints.is_empty() {
        return Err(BadInput::new(format!(
            "the backup lacks secrets the service never returns or repool does not keep; supply each from an \
             environment variable:\n{}",
            hints.join("\n")
        ))
        .into());
    }
    let id = body["id"].as_str().ok_or_else(|| BadInput::new("the backup has no pool id"))?.to_string();
    let mut wrapped = serde_json::Map::new();
    wrapped.insert(id.clone(), body.clone());
    let definition = Definition::from_text(
        &file.display().to_string(),
        &Value::Object(wrapped).to_string(),
        false,
        &Default::default(),
    )
    .map_err(|e| BadInput::new(e.to_string()))?;
    definition.validate(settings.api_version).map_err(|e| BadInput::new(e.to_string()))?;
    refuse_if_readonly(settings)?;
    let workspace = workspace(settings)?;
    let _lock = workspace.exclusive("restore").map_err(BadInput)?;
    if workspace.client.pool_exists(&id).await? {
        return Err(BadInput::new(format!(
            "pool '{id}' exists; restore only creates a missing pool (use `repool recreate` to replace one)"
        ))
        .into());
    }
    crate::noteln!("{}", serde_json::to_string_pretty(&definition.redacted(&id, &body))?);
    confirm(yes, &format!("Create pool '{id}' from {}?", file.display())).await?;
    // The create is one call: a signal now waits for its answer rather than leave it unknown.
    let _signals = crate::signals::claim();
    workspace.client.add_pool(&body).await?;
    crate::outln!("created pool '{id}' from {}; watch it with `repool pools`", file.display());
    if let Some(run) =
        workspace.unfinished_runs().into_iter().find(|r| r.held_pools().iter().any(|p| p.eq_ignore_ascii_case(&id)))
    {
        crate::noteln!(
            "note: unfinished run {} still holds '{id}'; `repool abandon {}` so it does not try to create it again",
            run.run,
            run.run
        );
    }
    Ok(Exit::Done)
}
