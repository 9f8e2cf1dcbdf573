//! The dashboard: an async loop where terminal events, a poller, API observations and the
//! engine's progress all arrive as `Action`s on one channel. The UI never waits on the network,
//! and draws only when something changed or a visible clock ticked.

mod accounts;
mod activity;
pub mod app;
pub mod calls;
pub mod columns;
mod command_line;
mod details;
mod dialog;
pub mod filter;
pub mod full;
pub mod heatmap;
mod jobs;
pub mod keys;
mod messages;
mod node_actions;
mod pool_actions;
pub mod proposal;
mod run_control;
mod runner;
mod runs;
mod table;
pub mod theme;
pub mod view;

use crate::batch::BatchClient;
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::{BadInput, Exit};
use crate::rollout::policy::RunChoices;
use crate::rollout::run::Workspace;
use app::{Action, App, Command, Identity};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use runner::Runner;
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
            for line in crate::rollout::report::where_stopped(&state) {
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

/// The header's facts for an account.
pub(super) fn identity_for(settings: &Settings, client: &BatchClient, demo: bool) -> Identity {
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
