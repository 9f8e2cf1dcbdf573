//! Loads settings, starts logging and the runtime, and runs the chosen command.

use crate::batch::BatchError;
use crate::cli::{Cli, Command};
use crate::commands::{self, inspect, sim};
use crate::config::Settings;
use crate::errors::{BadInput, Exit, fail};
use crate::rollout::run::Intent;
use clap::CommandFactory;
use std::process::ExitCode;

pub fn main(mut cli: Cli) -> ExitCode {
    // For `repool sim`, --account names the simulated account, not a config profile.
    let sim_account = match cli.command {
        Some(Command::Sim(_)) => Some(cli.global.account.take().unwrap_or_else(|| "simaccount".into())),
        _ => None,
    };
    if let Some(Command::Completions { shell }) = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "repool", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            crate::noteln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Caught from the first instant: no signal ends repool where it stands (see `signals`).
    runtime.block_on(async { crate::signals::install() });
    let json = cli.command.as_ref().is_some_and(wants_json);
    // `info` is what a newcomer runs first: a config file named but not written yet is reported there.
    let missing_ok = matches!(cli.command, Some(Command::Info));
    let settings = match Settings::load(&cli.global, missing_ok) {
        Ok(settings) => settings,
        Err(e) => return fail(Exit::BadInput, &e.to_string(), json),
    };
    // Which endpoint won over which, any key left unused: before anything acts on the account.
    if !matches!(cli.command, Some(Command::Sim(_) | Command::Demo(_))) {
        for warning in &settings.warnings {
            crate::noteln!("{warning}");
        }
    }
    // The data dir and its folders are created (privately) by what writes into them, so commands
    // that only read work in a read-only or shared one and change nothing there.
    let _log_guard = match crate::logging::init(&settings.paths.log_dir(), &settings.log_level) {
        Ok(guard) => guard,
        Err(e) => return fail(Exit::BadInput, &e.to_string(), json),
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), command = ?cli.command.as_ref().map(command_name), "start");
    let definition_flag = cli.global.definition.clone();
    // A signal before a command claims them stops it here, before anything changed (a run or the
    // dashboard claims them to stop in order).
    let outcome = runtime.block_on(async {
        tokio::select! {
            biased;
            signal = crate::signals::unclaimed() => Err(signal),
            outcome = run(cli.command, settings, sim_account, definition_flag) => Ok(outcome),
        }
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(signal) => {
            let message = format!("interrupted by {} before anything was changed", signal.name());
            return fail(signal.exit(), &message, json);
        }
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(report) => {
            let (exit, message) = if let Some(bad) = report.downcast_ref::<BadInput>() {
                tracing::warn!("bad input: {bad}");
                (Exit::BadInput, bad.to_string())
            } else {
                tracing::error!("{report:#}");
                match report.downcast_ref::<BatchError>() {
                    // Sign-in, certificate and untrusted answers are configuration or bad input: they
                    // stop a command before any change.
                    Some(
                        e @ (BatchError::Auth { .. }
                        | BatchError::Certificate { .. }
                        | BatchError::Untrusted { .. }
                        | BatchError::Unreachable { .. }),
                    ) => (Exit::BadInput, e.to_string()),
                    // Already written for the operator: no report sections.
                    // A refused signature or missing credentials: configuration.
                    Some(e) if matches!(e.code(), Some("AuthenticationFailed" | "MissingRequiredHeader")) => {
                        (Exit::BadInput, e.to_string())
                    }
                    Some(e) => (Exit::PoolFailed, e.to_string()),
                    None => (Exit::PoolFailed, format!("{report:?}")),
                }
            };
            fail(exit, &message, json)
        }
    }
}

/// Commands whose stdout is JSON: their failures are one JSON object there too.
fn wants_json(command: &Command) -> bool {
    match command {
        Command::Pools { json }
        | Command::Nodes { json, .. }
        | Command::Jobs { json, .. }
        | Command::Plan { json, .. }
        | Command::Runs { json } => *json,
        Command::Recreate(args) | Command::Apply(args) => args.json,
        Command::Resume(args) => args.json,
        Command::Heal(args) => args.json,
        Command::Refresh(args) => args.json,
        _ => false,
    }
}

/// The dashboard on the configured account, with the definition if one is configured.
async fn dashboard(settings: Settings) -> color_eyre::Result<Exit> {
    let client = crate::setup::connect(&settings)?;
    let definition = match settings.definition {
        Some(_) => Some(crate::setup::load_definition(&settings)?),
        None => None,
    };
    let session = crate::tui::session_for(settings, client, definition, false)?;
    crate::tui::run(session).await
}

/// The dashboard on the demo account, which stops when the dashboard ends.
async fn demo(args: crate::cli::DemoArgs, settings: Settings) -> color_eyre::Result<Exit> {
    let sim::Demo { running, settings, client, definition } = sim::demo(args, settings).await?;
    let session = crate::tui::session_for(settings, client, Some(definition), true)?;
    let exit = crate::tui::run(session).await;
    running.stop().await;
    exit
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Demo(_) => "demo",
        Command::Sim(_) => "sim",
        Command::Pools { .. } => "pools",
        Command::Nodes { .. } => "nodes",
        Command::Jobs { .. } => "jobs",
        Command::Validate => "validate",
        Command::Plan { .. } => "plan",
        Command::Export { .. } => "export",
        Command::Recreate(_) => "recreate",
        Command::Apply(_) => "apply",
        Command::Heal(_) => "heal",
        Command::Refresh(_) => "refresh",
        Command::Resume(_) => "resume",
        Command::Runs { .. } => "runs",
        Command::Abandon { .. } => "abandon",
        Command::Restore { .. } => "restore",
        Command::Info => "info",
        Command::Completions { .. } => "completions",
    }
}

async fn run(
    command: Option<Command>,
    settings: Settings,
    sim_account: Option<String>,
    definition_flag: Option<std::path::PathBuf>,
) -> color_eyre::Result<Exit> {
    use crate::commands::restore::RestoreFrom;
    match command {
        Some(Command::Info) => inspect::info(&settings),
        Some(Command::Pools { json }) => inspect::pools(&settings, json).await,
        Some(Command::Nodes { pool, json }) => crate::commands::nodes::nodes(&settings, &pool, json).await,
        Some(Command::Jobs { pool, json }) => crate::commands::jobs::jobs(&settings, &pool, json).await,
        Some(Command::Validate) => inspect::validate(&settings),
        Some(Command::Plan { pools, all: _, json }) => inspect::plan(&settings, &pools, json).await,
        Some(Command::Export { pools, all: _, output }) => inspect::export(&settings, &pools, output.as_deref()).await,
        Some(Command::Recreate(args)) => commands::run::recreate(&settings, args, Intent::Recreate).await,
        Some(Command::Apply(args)) => commands::run::recreate(&settings, args, Intent::Apply).await,
        Some(Command::Heal(args)) => commands::run::heal(&settings, args).await,
        Some(Command::Refresh(args)) => commands::run::refresh(&settings, args).await,
        Some(Command::Resume(args)) => commands::run::resume(&settings, args, definition_flag.as_deref()).await,
        Some(Command::Runs { json }) => commands::run::runs(&settings, json),
        Some(Command::Abandon { run_id, yes }) => commands::run::abandon(&settings, &run_id, yes).await,
        Some(Command::Restore { pool, backup_file, secrets, yes }) => {
            let from = match (pool, backup_file) {
                (Some(pool), _) => RestoreFrom::Pool(pool),
                (None, Some(file)) => RestoreFrom::File(file),
                (None, None) => return Err(BadInput::new("restore what? --pool ID or a BACKUP_FILE").into()),
            };
            commands::restore::restore(&settings, from, &secrets, yes).await
        }
        Some(Command::Sim(args)) => sim::serve(args, sim_account.unwrap_or_default(), &settings).await,
        Some(Command::Demo(args)) => demo(args, settings).await,
        Some(other) => Err(BadInput::new(format!(
            "`repool {}` is not available in this build yet; see README.md for what works today",
            command_name(&other)
        ))
        .into()),
        None => dashboard(settings).await,
    }
}
