//! The dashboard: an async loop where terminal events, a poller, API observations and the
//! engine's progress all arrive as `Action`s on one channel. The UI never waits on the network,
//! and draws only when something changed or a visible clock ticked.

mod accounts;
mod activity;
pub mod app;
pub mod columns;
mod command_line;
mod details;
mod dialog;
pub mod filter;
pub mod keys;
mod messages;
mod run_control;
mod runs;
mod table;
pub mod theme;
pub mod view;

use crate::batch::BatchClient;
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::{BadInput, Exit};
use crate::recreate::policy::RunChoices;
use crate::recreate::run::{BodySource, Intent, Until, Workspace};
use crate::recreate::snapshots::{Snapshots, Watching};
use app::{AccountView, Action, App, Command, Identity, RunSummary};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the dashboard runs against.
pub struct Session {
    pub settings: Settings,
    pub client: BatchClient,
    pub definition: Option<Arc<Definition>>,
    pub identity: Identity,
    pub keys: keys::KeyMap,
    pub theme: theme::Theme,
}

/// Runs the dashboard until the operator quits or a signal comes. Either way the terminal is
/// restored first; a run still acting is then cancelled the engine's way (the call in flight
/// finishes, every pool's stop is journaled) and each pool's stop is said on stderr (exit 3).
pub async fn run(session: Session) -> color_eyre::Result<Exit> {
    let mut signals = crate::signals::claim();
    let mut terminal = ratatui::try_init()?;
    let ending = event_loop(&mut terminal, session, &mut signals).await;
    // After a hang-up there is no terminal left to restore: not an error then.
    if let Err(e) = ratatui::try_restore() {
        tracing::warn!("cannot restore the terminal: {e}");
    }
    drop(terminal);
    let signal = signals.signal();
    if let Some(signal) = signal {
        crate::noteln!("{}: the dashboard stopped", signal.name());
    }
    let interrupted = ending.run.is_some();
    if let Some(active) = ending.run {
        crate::noteln!("stopping the run: finishing the call in flight, then journaling…");
        tokio::spawn(signals.exit_on_another(Exit::Interrupted, false));
        let _ = active.task.await;
        if let Some(state) = active.id.and_then(|id| active.workspace.runs().into_iter().find(|r| r.run == id)) {
            for line in crate::recreate::report::where_stopped(&state) {
                crate::noteln!("{line}");
            }
        }
    }
    match ending.result {
        // The terminal going away with a hang-up fails a draw: the signal says what happened.
        Err(e) if signal.is_none() => Err(e),
        _ if signal.is_some() || interrupted => Ok(Exit::Interrupted),
        _ => Ok(Exit::Done),
    }
}

/// How the event loop ended.
struct Ending {
    result: color_eyre::Result<()>,
    /// The run that was acting: cancelled, and still finishing its call in flight.
    run: Option<ActiveRun>,
}

/// A run task of the dashboard, and the run's id once it has one.
struct ActiveRun {
    task: tokio::task::JoinHandle<()>,
    id: Option<String>,
    workspace: Workspace,
}

/// An action and the account it is about (`None`: the terminal or the clock). Answers about an
/// account the dashboard has switched away from are dropped, however late they arrive.
type Envelope = (Option<u64>, Action);

/// Sends actions about one account.
#[derive(Clone)]
struct Sender {
    tx: mpsc::UnboundedSender<Envelope>,
    account: u64,
}

impl Sender {
    fn send(&self, action: Action) -> bool {
        self.tx.send((Some(self.account), action)).is_ok()
    }
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    session: Session,
    signals: &mut crate::signals::Claim,
) -> Ending {
    let Session { settings, client, definition, identity, keys, theme } = session;
    let (tx, mut rx) = mpsc::unbounded_channel::<Envelope>();
    let _notes = crate::output::divert_notes({
        let tx = tx.clone();
        move |text| drop(tx.send((None, Action::Note(text.to_string()))))
    });
    let mut app = App::new(identity.clone(), keys, definition.clone(), settings.api_version);
    app.choices = RunChoices::of(&settings.policy, &[]);
    app.accounts = if identity.demo { Vec::new() } else { settings.accounts.clone() };
    let stop = CancellationToken::new();
    tokio::spawn(terminal_events(tx.clone(), stop.clone()));
    tokio::spawn(ticks(tx.clone(), stop.clone()));
    let mut account = 0;
    let mut runner = Runner::start(settings, client, definition, Sender { tx: tx.clone(), account }, &stop);
    let result = loop {
        if app.dirty {
            if let Err(e) = terminal.draw(|frame| view::draw(frame, &mut app, &theme)) {
                break Err(e.into());
            }
            app.dirty = false;
        }
        let (about, action) = tokio::select! {
            biased;
            _ = signals.received() => break Ok(()),
            envelope = rx.recv() => match envelope {
                Some(envelope) => envelope,
                None => break Ok(()),
            },
        };
        if about.is_some_and(|a| a != account) {
            continue;
        }
        if let (Action::RunStarted { run, .. }, Some(active)) = (&action, &mut runner.active) {
            active.id = Some(run.clone());
        }
        for command in app.update(action) {
            if let Command::SwitchAccount(name) = command {
                match runner.switch(&name, account + 1, &stop) {
                    Ok((next, view)) => {
                        runner.stop.cancel();
                        runner = next;
                        account += 1;
                        for command in app.update(Action::Switched(Ok(Box::new(view)))) {
                            runner.execute(command);
                        }
                    }
                    Err(e) => {
                        app.update(Action::Switched(Err(e)));
                    }
                }
                continue;
            }
            if command == Command::Repaint {
                if let Err(e) = repaint(terminal) {
                    tracing::warn!("repainting the screen failed: {e}");
                }
                app.dirty = true;
                continue;
            }
            runner.execute(command);
        }
        if app.quit {
            break Ok(());
        }
    };
    stop.cancel();
    let run = runner.active.take().filter(|active| !active.task.is_finished());
    if let (Some(_), Some(cancel)) = (&run, &runner.cancel) {
        cancel.cancel();
    }
    Ending { result, run }
}

/// Clears the screen and makes the next draw paint every cell. Not `Terminal::clear`: it asks
/// the terminal where its cursor is, and the answer would race the key reader for stdin.
fn repaint(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    use ratatui::backend::Backend;
    terminal.backend_mut().clear_region(ratatui::backend::ClearType::All)?;
    // Twice: both buffers reset, so nothing counts as already on screen.
    terminal.swap_buffers();
    terminal.swap_buffers();
    Ok(())
}

async fn terminal_events(tx: mpsc::UnboundedSender<Envelope>, stop: CancellationToken) {
    let mut events = EventStream::new();
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            event = events.next() => event,
        };
        let action = match event {
            Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => Action::Key(key),
            Some(Ok(Event::Resize(..))) => Action::Resized,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return,
        };
        if tx.send((None, action)).is_err() {
            return;
        }
    }
}

/// Four ticks a second; the app redraws on them only when a visible clock changed.
async fn ticks(tx: mpsc::UnboundedSender<Envelope>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {
                if tx.send((None, Action::Tick(jiff::Timestamp::now()))).is_err() {
                    return;
                }
            }
        }
    }
}

/// Publishes every snapshot of the account's one poller (the dashboard watches; runs wait) to
/// the app, and whether a list call is under way.
async fn forward_snapshots(snapshots: Arc<Snapshots>, tx: Sender, stop: CancellationToken) {
    let (mut updates, mut listing) = (snapshots.subscribe(), snapshots.subscribe_listing());
    drop(snapshots);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = listing.changed() => {
                if changed.is_err() {
                    return;
                }
                let busy = *listing.borrow_and_update();
                if !tx.send(Action::Listing(busy)) {
                    return;
                }
            }
            changed = updates.changed() => {
                if changed.is_err() {
                    return;
                }
                let snapshot = updates.borrow_and_update().clone();
                let result = match &snapshot.error {
                    Some(error) => Err(error.clone()),
                    None => {
                        let mut pools: Vec<_> = snapshot.pools.values().cloned().collect();
                        pools.sort_by_key(|p| p.id().to_lowercase());
                        Ok(pools)
                    }
                };
                if !tx.send(Action::Refreshed(result)) {
                    return;
                }
            }
        }
    }
}

/// Carries out the app's commands in tasks that report back with Actions. Runs go through the
/// one run API, exactly as the command line's do.
struct Runner {
    settings: Settings,
    workspace: Workspace,
    client: BatchClient,
    definition: Option<Arc<Definition>>,
    tx: Sender,
    cancel: Option<CancellationToken>,
    /// The task of the last run command.
    active: Option<ActiveRun>,
    /// The dashboard's standing interest in the account's poller; dropped when it switches away.
    _watching: Watching,
    /// Stops forwarding this account's snapshots when the dashboard switches away.
    stop: CancellationToken,
}

/// What a run command asks of the runtime.
enum RunRequest {
    Run { run: Option<String>, pools: Vec<String>, one_step: bool, choices: Option<RunChoices>, intent: Intent },
    Resume(String),
    Abandon(String),
}

impl Runner {
    /// Starts watching the account: its poller, its unfinished runs, its full pool bodies.
    fn start(
        settings: Settings,
        client: BatchClient,
        definition: Option<Arc<Definition>>,
        tx: Sender,
        parent: &CancellationToken,
    ) -> Runner {
        {
            let tx = tx.clone();
            client.set_observer(Arc::new(move |event| {
                tx.send(Action::Api(event.clone()));
            }));
        }
        let stop = parent.child_token();
        let workspace = crate::setup::workspace_for(&settings, client.clone());
        tokio::spawn(forward_snapshots(workspace.snapshots.clone(), tx.clone(), stop.clone()));
        let _watching = workspace.snapshots.watch(settings.refresh);
        Runner::publish_runs(&workspace, definition.as_deref(), &tx);
        let mut runner =
            Runner { settings, workspace, client, definition, tx, cancel: None, active: None, _watching, stop };
        // Full bodies once at start: definition status for every row.
        runner.execute(Command::RefreshFull);
        runner
    }

    /// A runner for the config's account `name`, and what the dashboard shows of it.
    fn switch(&self, name: &str, account: u64, parent: &CancellationToken) -> Result<(Runner, AccountView), String> {
        let settings = self.settings.for_account(name).map_err(|e| e.to_string())?;
        let client = crate::setup::connect(&settings).map_err(|e| e.to_string())?;
        let definition = match settings.definition {
            Some(_) => Some(Arc::new(crate::setup::load_definition(&settings).map_err(|e| e.to_string())?)),
            None => None,
        };
        let view = AccountView {
            identity: identity_for(&settings, &client, false),
            definition: definition.clone(),
            api_version: settings.api_version,
            choices: RunChoices::of(&settings.policy, &[]),
        };
        let tx = Sender { tx: self.tx.tx.clone(), account };
        Ok((Runner::start(settings, client, definition, tx, parent), view))
    }

    fn execute(&mut self, command: Command) {
        let (client, tx) = (self.client.clone(), self.tx.clone());
        match command {
            Command::Refresh => self.workspace.snapshots.request_now(),
            Command::RefreshFull => {
                tokio::spawn(async move {
                    let _ = tx
                        .send(Action::FullPools(client.list_pools(None, None, None).await.map_err(|e| e.to_string())));
                });
            }
            Command::NodeCountsFor(ids) => {
                tokio::spawn(async move {
                    if let Ok(counts) = client.list_node_counts_for(&ids).await {
                        tx.send(Action::NodeCounts(counts));
                    }
                });
            }
            Command::NodesFor(pool) => {
                tokio::spawn(async move {
                    let result = client.list_nodes(&pool, None).await.map_err(|e| e.to_string());
                    tx.send(Action::Nodes { pool, result });
                });
            }
            Command::WriteJson { pool, body } => {
                let dir = crate::config::layout::exports(&self.settings.paths.data_dir);
                tx.send(Action::Said(write_json(&dir, &pool, &body)));
            }
            // The event loop switches accounts: it owns the runner.
            Command::SwitchAccount(_) => {}
            Command::Run { run, pools, one_step, choices } => {
                self.spawn(RunRequest::Run { run, pools, one_step, choices, intent: Intent::Recreate })
            }
            Command::Apply { pools, choices } => {
                let choices = Some(choices);
                self.spawn(RunRequest::Run { run: None, pools, one_step: false, choices, intent: Intent::Apply })
            }
            Command::Resume(run) => self.spawn(RunRequest::Resume(run)),
            Command::Abandon(run) => self.spawn(RunRequest::Abandon(run)),
            Command::Cancel => {
                if let Some(cancel) = &self.cancel {
                    cancel.cancel();
                }
            }
            Command::Quit | Command::Repaint => {}
        }
    }

    /// Tells the app which runs of the account are unfinished.
    fn publish_runs(workspace: &Workspace, definition: Option<&Definition>, tx: &Sender) {
        let runs = workspace.unfinished_runs().iter().map(|s| RunSummary::from_state(s, definition)).collect();
        let _ = tx.send(Action::Runs(runs));
    }

    fn spawn(&mut self, request: RunRequest) {
        let tx = self.tx.clone();
        let Some(definition) = self.definition.clone() else {
            let _ = tx.send(Action::RunEnded(Err("no pool definition loaded".into())));
            return;
        };
        let cancel = CancellationToken::new();
        self.cancel = Some(cancel.clone());
        let workspace = self.workspace.clone();
        let task = tokio::spawn(async move {
            let outcome = act(&workspace, &definition, request, &tx, cancel).await;
            let _ = tx.send(Action::RunEnded(outcome));
            Self::publish_runs(&workspace, Some(&definition), &tx);
        });
        self.active = Some(ActiveRun { task, id: None, workspace: self.workspace.clone() });
    }
}

async fn act(
    workspace: &Workspace,
    definition: &Definition,
    request: RunRequest,
    tx: &Sender,
    cancel: CancellationToken,
) -> Result<String, String> {
    let (run, only, until, source) = match request {
        RunRequest::Run { run: None, pools, one_step, choices, intent } => {
            let until = if one_step { Until::OneStep } else { Until::End };
            let mut chosen = workspace.clone();
            let choices = choices.unwrap_or_else(|| RunChoices::of(&workspace.policy, &[]));
            chosen.preflight.accept_loss = choices.apply(&mut chosen.policy);
            // The dashboard's confirmation showed its own plan: the proposal starts right away.
            match chosen.propose(definition, &pools, intent, false).await?.start().await {
                Ok(run) => (run, pools, until, None),
                Err(refusal) => {
                    if !refusal.losses.is_empty() {
                        let command = match intent {
                            Intent::Recreate => Command::Run { run: None, pools, one_step, choices: Some(choices) },
                            Intent::Apply => Command::Apply { pools, choices },
                        };
                        let _ = tx.send(Action::LossesFound { command, losses: refusal.losses });
                    }
                    return Err(refusal.message);
                }
            }
        }
        RunRequest::Run { run: Some(id), pools, one_step, .. } => {
            let until = if one_step { Until::OneStep } else { Until::End };
            (workspace.open(&id)?, pools, until, None)
        }
        RunRequest::Resume(id) => (workspace.open(&id)?, Vec::new(), Until::End, Some(BodySource::Journal)),
        RunRequest::Abandon(id) => {
            let run = workspace.open(&id)?;
            run.abandon().await.map_err(|e| format!("cannot write the journal: {e}"))?;
            return Ok(format!("run {id} abandoned; its pools are as they were"));
        }
    };
    // A run that continues is proved again against the account as it is now.
    let prepared = run.prepare(Some(definition), source, &only, until).await?;
    if prepared.targets.is_empty() {
        return Ok(format!("run {}: nothing left to do", prepared.run.id()));
    }
    let run = &prepared.run;
    let run_id = run.id().to_string();
    let pools = run.state.targets.iter().map(|t| t.pool.clone()).collect();
    let strategies = run
        .state
        .targets
        .iter()
        .filter(|t| t.strategy != crate::recreate::strategy::Strategy::Recreate)
        .map(|t| (t.pool.clone(), t.strategy))
        .collect();
    let finished = run
        .state
        .targets
        .iter()
        .filter_map(|t| run.state.pool(&t.pool).last_finished.map(|step| (t.pool.clone(), step)))
        .collect();
    let warnings = prepared.warnings.clone();
    let _ = tx.send(Action::RunStarted { run: run_id.clone(), pools, warnings, strategies, finished });
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(p) = progress_rx.recv().await {
                let _ = tx.send(Action::Progress(p));
            }
        })
    };
    let report = prepared.execute(progress_tx, cancel).await;
    let _ = forward.await;
    let done: Vec<String> = report.pools.iter().map(|p| format!("{} {}", p.id, p.status.name())).collect();
    Ok(format!("run {run_id} {}: {}", report.status.name(), done.join(", ")))
}

/// `body` to `dir/<pool>-<time>.json`, private to the user; what happened, for the status line.
fn write_json(dir: &std::path::Path, pool: &str, body: &serde_json::Value) -> String {
    let name: String =
        pool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let path = dir.join(format!("{name}-{}.json", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S")));
    let text = serde_json::to_string_pretty(body).unwrap_or_default() + "\n";
    match crate::files::write_atomic(&path, text.as_bytes()) {
        Ok(()) => format!("wrote {} (secrets hidden)", path.display()),
        Err(e) => format!("cannot write {}: {e}", path.display()),
    }
}

/// The header's facts for an account.
fn identity_for(settings: &Settings, client: &BatchClient, demo: bool) -> Identity {
    Identity {
        profile: if demo { None } else { settings.profile.clone() },
        account: if settings.auth.account_name.is_empty() {
            client.endpoint().host_str().unwrap_or("").to_string()
        } else {
            settings.auth.account_name.clone()
        },
        endpoint: client.endpoint().to_string(),
        auth: client.credential().method().to_string(),
        refresh_secs: settings.refresh.as_secs(),
        readonly: settings.readonly,
        demo,
    }
}

/// Settings, client and definition for the dashboard on the configured account.
pub fn session_for(
    settings: Settings,
    client: BatchClient,
    definition: Option<Definition>,
    demo: bool,
) -> Result<Session, BadInput> {
    let identity = identity_for(&settings, &client, demo);
    Ok(Session {
        keys: keys::KeyMap::with_overrides(&settings.keys).map_err(BadInput)?,
        theme: theme::Theme::with_overrides(&settings.theme).map_err(BadInput)?,
        settings,
        client,
        definition: definition.map(Arc::new),
        identity,
    })
}
