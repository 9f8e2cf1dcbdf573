//! `repool recreate` and `repool resume`: the engine driven from a terminal or cron.
//! Human progress on stderr (one line per step transition, a summary every 30 s), the JSON
//! report on stdout with --json, exit codes as in the CLI contract.

use crate::batch::{BatchClient, Pool};
use crate::cli::RecreateArgs;
use crate::config::Settings;
use crate::definition::Definition;
use crate::definition::plan::Plan;
use crate::errors::{BadInput, Exit};
use crate::headless::{connect, load_definition};
use crate::recreate::engine::{Engine, EngineConfig, PoolTarget, Progress};
use crate::recreate::journal::{self, Journal, Record};
use crate::recreate::lock::RunLock;
use crate::recreate::report::{RunReport, RunStatus};
use crate::recreate::snapshots::Snapshots;
use crate::recreate::step::Step;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything checked before the first change: definition, selection, account, credentials.
struct Prepared {
    client: BatchClient,
    definition: Definition,
    live: Vec<Pool>,
    settings: Settings,
}

async fn prepare(settings: &Settings) -> Result<Prepared, BadInput> {
    let definition = load_definition(settings)?;
    let client = connect(settings)?;
    let live = client
        .list_pools(None, None, None)
        .await
        .map_err(|e| BadInput::new(format!("preflight: the account did not answer ({e}); nothing was changed")))?;
    Ok(Prepared { client, definition, live, settings: settings.clone() })
}

fn account_name(settings: &Settings, client: &BatchClient) -> String {
    match settings.auth.account_name.as_str() {
        "" => client.endpoint().host_str().unwrap_or("account").split('.').next().unwrap_or("account").to_string(),
        name => name.to_string(),
    }
}

pub async fn recreate(settings: &Settings, args: RecreateArgs) -> color_eyre::Result<Exit> {
    let mut settings = settings.clone();
    if let Some(parallel) = args.parallel {
        if parallel == 0 {
            return Err(BadInput::new("--parallel must be at least 1").into());
        }
        settings.policy.parallel = parallel;
    }
    apply_drain_policy(&mut settings, args.on_drain_timeout.as_deref())?;
    let until =
        args.until.as_deref().map(Step::parse).transpose().map_err(|e| BadInput::new(format!("--until: {e}")))?;
    if args.pools.is_empty() && !args.all {
        return Err(
            BadInput::new("name the pools: --pool ID (repeatable) or --all (every pool in the definition)").into()
        );
    }
    let prepared = prepare(&settings).await?;
    let ids: Vec<String> = if args.all {
        prepared.definition.pools.iter().map(|p| p.id.clone()).collect()
    } else {
        let mut ids = Vec::new();
        for id in &args.pools {
            let pool = prepared.definition.pool(id).ok_or_else(|| {
                BadInput::new(format!(
                    "--pool {id}: not in {}; repool only recreates pools it can create again",
                    prepared.definition.source
                ))
            })?;
            if !ids.contains(&pool.id) {
                ids.push(pool.id.clone());
            }
        }
        ids
    };
    let plan = Plan::new(&prepared.definition, &prepared.live, &ids, &settings.api_version);
    eprint!("{plan}");
    if args.dry_run {
        print_dry_run(&prepared, &ids);
        return Ok(Exit::Done);
    }
    if settings.readonly {
        return Err(BadInput::new("read-only mode (--readonly or readonly = true): nothing may be changed").into());
    }
    confirm(args.yes, &format!("Recreate {} pool(s): {}?", ids.len(), ids.join(", ")))?;
    let targets = ids.iter().map(|id| PoolTarget { until, ..PoolTarget::fresh(id) }).collect();
    execute(prepared, journal::new_run_id(), targets, args.json).await
}

pub async fn resume(
    settings: &Settings,
    run_id: Option<String>,
    yes: bool,
    json: bool,
    on_drain_timeout: Option<String>,
) -> color_eyre::Result<Exit> {
    let dir = settings.paths.journal_dir();
    let path = match &run_id {
        Some(id) => dir.join(format!("{id}.jsonl")),
        None => journal::list(&dir)
            .into_iter()
            .find(|p| journal::read(p).is_ok_and(|s| s.finished.as_deref() != Some("done")))
            .ok_or_else(|| BadInput::new(format!("no unfinished run in {}", dir.display())))?,
    };
    let state =
        journal::read(&path).map_err(|e| BadInput::new(format!("cannot read the journal {}: {e}", path.display())))?;
    if state.run.is_empty() {
        return Err(BadInput::new(format!("{} is not a repool journal", path.display())).into());
    }
    let mut settings = settings.clone();
    apply_drain_policy(&mut settings, on_drain_timeout.as_deref())?;
    if settings.definition.is_none() {
        settings.definition = Some(state.definition.clone().into());
    }
    let prepared = prepare(&settings).await?;
    if prepared.definition.digest() != state.digest {
        eprintln!(
            "warning: the definition changed since run {} started; pools are created from the current file",
            state.run
        );
    }
    let mut targets = Vec::new();
    for id in &state.pools {
        let pool = state.per_pool.get(id).cloned().unwrap_or_default();
        if pool.status.as_deref() == Some("recreated") {
            eprintln!("{id:<24} recreated");
            continue;
        }
        let Some(start_at) = pool.resume_at() else { continue };
        let alarm = if pool.is_between_delete_and_create() { "  ← deleted, not yet recreated" } else { "" };
        eprintln!("{id:<24} {} → resumes at {start_at}{alarm}", pool.status.as_deref().unwrap_or("interrupted"));
        targets.push(state.target(id, start_at, None));
    }
    if targets.is_empty() {
        eprintln!("run {}: nothing left to do", state.run);
        return Ok(Exit::Done);
    }
    if settings.readonly {
        return Err(BadInput::new("read-only mode: nothing may be changed").into());
    }
    confirm(yes, &format!("Resume run {} for {} pool(s)?", state.run, targets.len()))?;
    execute(prepared, state.run, targets, json).await
}

fn apply_drain_policy(settings: &mut Settings, flag: Option<&str>) -> Result<(), BadInput> {
    if let Some(policy) = flag {
        settings.policy.on_drain_timeout =
            policy.parse().map_err(|e: String| BadInput::new(format!("--on-drain-timeout: {e}")))?;
    }
    Ok(())
}

/// Asks on the terminal unless --yes; refuses without a terminal.
fn confirm(yes: bool, question: &str) -> Result<(), BadInput> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(BadInput::new("stdin is not a terminal: pass --yes to confirm (nothing was changed)"));
    }
    eprint!("{question} Type 'yes' to continue: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| BadInput::new(e.to_string()))?;
    if answer.trim() == "yes" { Ok(()) } else { Err(BadInput::new("not confirmed; nothing was changed")) }
}

fn print_dry_run(prepared: &Prepared, ids: &[String]) {
    let policy = &prepared.settings.policy;
    println!("Dry run: these calls would be made (nothing is changed now):");
    for id in ids {
        let live = prepared.live.iter().find(|p| p.id().eq_ignore_ascii_case(id));
        println!("{id}:");
        match live {
            None => println!("  POST /pools  (not in the account: created from the definition)"),
            Some(pool) => {
                if pool.autoscale() {
                    println!("  POST /pools/{id}/disableautoscale  (autoscale is on)");
                }
                if !pool.is_steady() {
                    println!("  POST /pools/{id}/stopresize  (a resize is in flight)");
                }
                if pool.target_nodes() > 0 || pool.current_nodes() > 0 {
                    println!(
                        "  POST /pools/{id}/resize  {{targetDedicatedNodes: 0, targetLowPriorityNodes: 0, nodeDeallocationOption: {}, resizeTimeout: {}}}",
                        policy.node_deallocation_option, policy.resize_timeout
                    );
                }
                println!("  GET /pools/{id}  → backup");
                println!("  DELETE /pools/{id}  (If-Match: the drained pool's ETag)");
                println!("  POST /pools  (the definition's body)");
            }
        }
    }
    println!("Waits poll GET /pools?$select=… every {}s, one call for all pools.", policy.poll_interval.as_secs_f64());
}

async fn execute(prepared: Prepared, run_id: String, targets: Vec<PoolTarget>, json: bool) -> color_eyre::Result<Exit> {
    let Prepared { client, definition, settings, .. } = prepared;
    let account = account_name(&settings, &client);
    let _lock = RunLock::acquire(&settings.paths.data_dir.join("locks"), &account, &run_id).map_err(BadInput)?;
    let journal = Journal::open(&settings.paths.journal_dir(), &run_id)?;
    journal
        .append(Record::RunStarted {
            run: run_id.clone(),
            account: account.clone(),
            endpoint: client.endpoint().to_string(),
            pools: targets.iter().map(|t| t.id.clone()).collect(),
            definition: definition.source.clone(),
            digest: definition.digest(),
        })
        .await?;
    eprintln!("run {run_id}: journal {}", journal.path.display());
    tracing::info!(run = %run_id, pools = targets.len(), "recreation started");
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = tokio::spawn(watch_signals(cancel.clone(), interrupted.clone()));
    let printer = tokio::spawn(print_progress(rx));
    let config = EngineConfig {
        account,
        endpoint: client.endpoint().to_string(),
        api_version: settings.api_version.clone(),
        policy: settings.policy.clone(),
        backup_dir: settings.paths.backup_dir(),
    };
    let snapshots = Snapshots::new(client.clone());
    let engine = Engine::new(client, Arc::new(definition), config, snapshots, tx, cancel.clone());
    let report = engine.run(&run_id, journal, targets).await;
    drop(engine);
    signals.abort();
    let _ = printer.await;
    print_report(&report, json)?;
    Ok(match report.status {
        RunStatus::Done | RunStatus::Paused => Exit::Done,
        RunStatus::Failed => Exit::PoolFailed,
        RunStatus::Cancelled if interrupted.load(std::sync::atomic::Ordering::SeqCst) => Exit::Interrupted,
        RunStatus::Cancelled => Exit::Cancelled,
    })
}

/// Ctrl-C cancels (exit 130); SIGTERM interrupts (exit 3). Either way the call in flight finishes
/// and is journaled first.
async fn watch_signals(cancel: CancellationToken, interrupted: Arc<std::sync::atomic::AtomicBool>) {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => interrupted.store(true, std::sync::atomic::Ordering::SeqCst),
        }
    }
    #[cfg(not(unix))]
    let _ = (tokio::signal::ctrl_c().await, &interrupted);
    eprintln!("stopping: finishing the call in flight, then journaling; `repool resume` continues");
    cancel.cancel();
}

async fn print_progress(mut rx: mpsc::UnboundedReceiver<Progress>) {
    let mut summary = tokio::time::interval(Duration::from_secs(30));
    summary.tick().await;
    let mut current: std::collections::BTreeMap<String, String> = Default::default();
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { return };
                let now = jiff::Zoned::now().strftime("%H:%M:%S");
                match event {
                    Progress::StepStarted { pool, step } => {
                        eprintln!("{now} {pool:<20} {step} …");
                        current.insert(pool, step.to_string());
                    }
                    Progress::StepFinished { pool, step, outcome, detail, elapsed } => {
                        eprintln!("{now} {pool:<20} {step} {outcome} ({:.1}s){}", elapsed.as_secs_f64(), detail.map(|d| format!(": {d}")).unwrap_or_default());
                    }
                    Progress::Waiting { .. } => {}
                    Progress::PoolFinished { pool, status, error } => {
                        eprintln!("{now} {pool:<20} {}{}", status.name().to_uppercase(), error.map(|e| format!(": {e}")).unwrap_or_default());
                        current.insert(pool, status.name().to_string());
                    }
                    Progress::RunFinished { run, status } => eprintln!("{now} run {run} {}", status.name()),
                }
            }
            _ = summary.tick() => {
                let states: Vec<String> = current.iter().map(|(p, s)| format!("{p}: {s}")).collect();
                eprintln!("summary: {}", states.join(", "));
            }
        }
    }
}

fn print_report(report: &RunReport, json: bool) -> color_eyre::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    eprintln!("\nrun {} {} — journal {}", report.run_id, report.status.name(), report.journal);
    for pool in &report.pools {
        let took: f64 = pool.steps.iter().map(|s| s.duration_seconds).sum();
        eprintln!(
            "  {:<20} {:<11} {:>7.0}s{}{}",
            pool.id,
            pool.status.name(),
            took,
            pool.backup.as_ref().map(|b| format!("  backup {b}")).unwrap_or_default(),
            pool.error.as_ref().map(|e| format!("\n      {e}")).unwrap_or_default()
        );
        for warning in &pool.warnings {
            eprintln!("      warning: {warning}");
        }
    }
    Ok(())
}

/// `repool restore`: creates a missing pool from a backup, with the secrets the service never returned.
pub async fn restore(
    settings: &Settings,
    file: &std::path::Path,
    secrets: &[String],
    yes: bool,
) -> color_eyre::Result<Exit> {
    use crate::recreate::restore::{body_from_backup, set_path};
    let text = std::fs::read_to_string(file)
        .map_err(|e| BadInput::new(format!("cannot read backup {}: {e}", file.display())))?;
    let backup: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BadInput::new(format!("backup {} is not JSON: {e}", file.display())))?;
    let (mut body, missing) = body_from_backup(&backup, &settings.api_version).map_err(BadInput)?;
    let mut supplied = Vec::new();
    for pair in secrets {
        let (path, var) =
            pair.split_once('=').ok_or_else(|| BadInput::new(format!("--secret '{pair}' must be PATH=ENV_VAR")))?;
        let value = std::env::var(var)
            .map_err(|_| BadInput::new(format!("--secret {path}: environment variable {var} is not set")))?;
        set_path(&mut body, path, serde_json::Value::String(value))
            .map_err(|e| BadInput::new(format!("--secret {e}")))?;
        supplied.push(path.to_string());
    }
    let still_missing: Vec<&String> = missing.iter().filter(|m| !supplied.contains(m)).collect();
    if !still_missing.is_empty() {
        let hints: Vec<String> = still_missing.iter().map(|m| format!("  --secret {m}=ENV_VAR")).collect();
        return Err(BadInput::new(format!(
            "the backup lacks secrets the service never returns; supply each from an environment variable:\n{}",
            hints.join("\n")
        ))
        .into());
    }
    let id = body["id"].as_str().ok_or_else(|| BadInput::new("the backup has no pool id"))?.to_string();
    let mut wrapped = serde_json::Map::new();
    wrapped.insert(id.clone(), body.clone());
    let definition = Definition::from_text(
        &file.display().to_string(),
        &serde_json::Value::Object(wrapped).to_string(),
        false,
        &Default::default(),
    )
    .map_err(|e| BadInput::new(e.to_string()))?;
    definition.validate(&settings.api_version).map_err(|e| BadInput::new(e.to_string()))?;
    if settings.readonly {
        return Err(BadInput::new("read-only mode: nothing may be changed").into());
    }
    let client = connect(settings)?;
    if client.pool_exists(&id).await? {
        return Err(BadInput::new(format!(
            "pool '{id}' exists; restore only creates a missing pool (use `repool recreate` to replace one)"
        ))
        .into());
    }
    eprintln!("{}", serde_json::to_string_pretty(&definition.redacted(&body))?);
    confirm(yes, &format!("Create pool '{id}' from {}?", file.display()))?;
    client.add_pool(&body).await?;
    println!("created pool '{id}' from {}; watch it with `repool pools`", file.display());
    Ok(Exit::Done)
}
