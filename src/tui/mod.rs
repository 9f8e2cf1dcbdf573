//! The dashboard: an async loop where terminal events, a poller, API observations and the
//! engine's progress all arrive as `Action`s on one channel. The UI never waits on the network,
//! and draws only when something changed or a visible clock ticked.

pub mod app;
pub mod keys;
pub mod theme;
pub mod view;

use crate::batch::BatchClient;
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::{BadInput, Exit};
use crate::recreate::engine::{Engine, EngineConfig};
use crate::recreate::journal::{self, Journal, Record, RunState};
use crate::recreate::lock::RunLock;
use crate::recreate::snapshots::Snapshots;
use app::{Action, App, Command, Identity};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
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

pub async fn run(session: Session) -> color_eyre::Result<Exit> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, session).await;
    ratatui::try_restore()?;
    result
}

async fn event_loop(terminal: &mut ratatui::DefaultTerminal, session: Session) -> color_eyre::Result<Exit> {
    let Session { settings, client, definition, identity, keys, theme } = session;
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut app = App::new(identity, keys, definition.clone(), &settings.api_version);
    find_resumable(&mut app, &settings);
    {
        let tx = tx.clone();
        client.set_observer(Arc::new(move |event| {
            let _ = tx.send(Action::Api(event.clone()));
        }));
    }
    let stop = CancellationToken::new();
    let snapshots = Snapshots::new(client.clone());
    let refresh_now = Arc::new(Notify::new());
    tokio::spawn(terminal_events(tx.clone(), stop.clone()));
    tokio::spawn(ticks(tx.clone(), stop.clone()));
    tokio::spawn(poller(snapshots.clone(), settings.refresh, refresh_now.clone(), tx.clone(), stop.clone()));
    let mut runner = Runner {
        settings: settings.clone(),
        client: client.clone(),
        definition,
        snapshots,
        tx: tx.clone(),
        cancel: None,
    };
    // Full bodies once at start: definition status for every row.
    runner.execute(Command::RefreshFull, &mut app, &refresh_now);
    loop {
        if app.dirty {
            terminal.draw(|frame| view::draw(frame, &mut app, &theme))?;
            app.dirty = false;
        }
        let Some(action) = rx.recv().await else { break };
        for command in app.update(action) {
            runner.execute(command, &mut app, &refresh_now);
        }
        if app.quit {
            break;
        }
    }
    stop.cancel();
    if let Some(cancel) = &runner.cancel {
        cancel.cancel();
    }
    Ok(Exit::Done)
}

/// A journaled run left unfinished for this account: offered for resume, its deleted pools shown.
fn find_resumable(app: &mut App, settings: &Settings) {
    let account = &app.identity.account;
    let found =
        journal::list(&settings.paths.journal_dir()).into_iter().filter_map(|p| journal::read(&p).ok()).find(|s| {
            s.account == *account
                && s.finished.as_deref() != Some("done")
                && s.per_pool.values().any(|p| p.status.as_deref() != Some("recreated"))
        });
    if let Some(state) = found {
        app.orphans =
            state.per_pool.iter().filter(|(_, p)| p.is_between_delete_and_create()).map(|(id, _)| id.clone()).collect();
        app.resumable = Some(state.run.clone());
        app.run_id = Some(state.run.clone());
    }
}

async fn terminal_events(tx: mpsc::UnboundedSender<Action>, stop: CancellationToken) {
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
        if tx.send(action).is_err() {
            return;
        }
    }
}

/// Four ticks a second; the app redraws on them only when a visible clock changed.
async fn ticks(tx: mpsc::UnboundedSender<Action>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {
                if tx.send(Action::Tick(jiff::Timestamp::now())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Publishes every snapshot (its own, and those the engine's waits took) to the app, and takes
/// one itself when none came for a refresh interval or `r` asks.
async fn poller(
    snapshots: Arc<Snapshots>,
    every: Duration,
    now: Arc<Notify>,
    tx: mpsc::UnboundedSender<Action>,
    stop: CancellationToken,
) {
    let mut updates = snapshots.subscribe();
    let mut last = tokio::time::Instant::now() - every;
    loop {
        let due = last + every;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {
                let _ = tx.send(Action::RefreshStarted);
                if let Err(e) = snapshots.refresh().await {
                    let _ = tx.send(Action::Refreshed(Err(e.to_string())));
                }
                last = tokio::time::Instant::now();
            }
            _ = now.notified() => last = tokio::time::Instant::now() - every,
            changed = updates.changed() => {
                if changed.is_err() {
                    return;
                }
                let snapshot = updates.borrow_and_update().clone();
                if snapshot.error.is_none() {
                    let mut pools: Vec<_> = snapshot.pools.values().cloned().collect();
                    pools.sort_by_key(|p| p.id().to_lowercase());
                    let _ = tx.send(Action::Refreshed(Ok(pools)));
                    last = tokio::time::Instant::now();
                }
            }
        }
    }
}

/// Carries out the app's commands in tasks that report back with Actions.
struct Runner {
    settings: Settings,
    client: BatchClient,
    definition: Option<Arc<Definition>>,
    snapshots: Arc<Snapshots>,
    tx: mpsc::UnboundedSender<Action>,
    cancel: Option<CancellationToken>,
}

impl Runner {
    fn execute(&mut self, command: Command, app: &mut App, refresh_now: &Notify) {
        let (client, tx) = (self.client.clone(), self.tx.clone());
        match command {
            Command::Refresh => refresh_now.notify_one(),
            Command::RefreshFull => {
                tokio::spawn(async move {
                    let _ = tx
                        .send(Action::FullPools(client.list_pools(None, None, None).await.map_err(|e| e.to_string())));
                });
            }
            Command::NodeCountsFor(ids) => {
                tokio::spawn(async move {
                    if let Ok(counts) = client.list_node_counts_for(&ids).await {
                        let _ = tx.send(Action::NodeCounts(counts));
                    }
                });
            }
            Command::Run { pools, one_step } => {
                let run_id = app.run_id.get_or_insert_with(journal::new_run_id).clone();
                let state = self.journal_state(&run_id);
                let targets = pools
                    .into_iter()
                    .map(|(id, step)| {
                        state.as_ref().map(|s| s.target(&id, step, one_step.then_some(step))).unwrap_or_else(|| {
                            crate::recreate::engine::PoolTarget {
                                start_at: step,
                                until: one_step.then_some(step),
                                ..crate::recreate::engine::PoolTarget::fresh(&id)
                            }
                        })
                    })
                    .collect();
                self.start_run(run_id, targets);
            }
            Command::Resume => {
                let Some(run_id) = app.resumable.take() else { return };
                app.orphans.clear();
                let Some(state) = self.journal_state(&run_id) else {
                    let _ = tx.send(Action::RunEnded(Err(format!("cannot read the journal of run {run_id}"))));
                    return;
                };
                let targets = state
                    .pools
                    .iter()
                    .filter_map(|id| {
                        let pool = state.per_pool.get(id).cloned().unwrap_or_default();
                        let start = pool.resume_at().filter(|_| pool.status.as_deref() != Some("recreated"))?;
                        Some(state.target(id, start, None))
                    })
                    .collect();
                app.run_id = Some(run_id.clone());
                self.start_run(run_id, targets);
            }
            Command::Cancel => {
                if let Some(cancel) = &self.cancel {
                    cancel.cancel();
                }
            }
            Command::Quit => {}
        }
    }

    fn journal_state(&self, run_id: &str) -> Option<RunState> {
        journal::read(&self.settings.paths.journal_dir().join(format!("{run_id}.jsonl")))
            .ok()
            .filter(|s| !s.run.is_empty())
    }

    fn start_run(&mut self, run_id: String, targets: Vec<crate::recreate::engine::PoolTarget>) {
        let tx = self.tx.clone();
        let Some(definition) = self.definition.clone() else {
            let _ = tx.send(Action::RunEnded(Err("no pool definition loaded".into())));
            return;
        };
        let cancel = CancellationToken::new();
        self.cancel = Some(cancel.clone());
        let settings = self.settings.clone();
        let (client, snapshots) = (self.client.clone(), self.snapshots.clone());
        let account = settings.auth.account_name.clone();
        tokio::spawn(async move {
            let outcome: Result<String, String> = async {
                let _lock = RunLock::acquire(&settings.paths.data_dir.join("locks"), &account, &run_id)?;
                let fresh = !settings.paths.journal_dir().join(format!("{run_id}.jsonl")).exists();
                let journal = Journal::open(&settings.paths.journal_dir(), &run_id)
                    .map_err(|e| format!("cannot open the journal: {e}"))?;
                if fresh {
                    journal
                        .append(Record::RunStarted {
                            run: run_id.clone(),
                            account: account.clone(),
                            endpoint: client.endpoint().to_string(),
                            pools: definition.pools.iter().map(|p| p.id.clone()).collect(),
                            definition: definition.source.clone(),
                            digest: definition.digest(),
                        })
                        .await
                        .map_err(|e| format!("cannot write the journal: {e}"))?;
                }
                let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
                let forward = {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(p) = progress_rx.recv().await {
                            let _ = tx.send(Action::Progress(p));
                        }
                    })
                };
                let config = EngineConfig {
                    account: account.clone(),
                    endpoint: client.endpoint().to_string(),
                    api_version: settings.api_version.clone(),
                    policy: settings.policy.clone(),
                    backup_dir: settings.paths.backup_dir(),
                };
                let engine = Engine::new(client, definition, config, snapshots, progress_tx, cancel);
                let report = engine.run(&run_id, journal, targets).await;
                drop(engine);
                let _ = forward.await;
                let done: Vec<String> = report.pools.iter().map(|p| format!("{} {}", p.id, p.status.name())).collect();
                Ok(format!("run {run_id} {}: {}", report.status.name(), done.join(", ")))
            }
            .await;
            let _ = tx.send(Action::RunEnded(outcome));
        });
    }
}

/// Settings, client and definition for the dashboard on the configured account.
pub fn session_for(
    settings: Settings,
    client: BatchClient,
    definition: Option<Definition>,
    demo: bool,
) -> Result<Session, BadInput> {
    let identity = Identity {
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
    };
    Ok(Session {
        keys: keys::KeyMap::with_overrides(&settings.keys).map_err(BadInput)?,
        theme: theme::Theme::with_overrides(&settings.theme).map_err(BadInput)?,
        settings,
        client,
        definition: definition.map(Arc::new),
        identity,
    })
}
