//! The dashboard's runtime for one account: carries out the app's commands in tasks that report
//! back with Actions. Runs go through the one run driver, exactly as the command line's do: a new
//! run is proposed, its proposal confirmed on screen, then started.

use super::app::{AccountView, RunSummary};
use super::app::{Action, Command};
use super::full::FullListing;
use super::proposal::ProposalView;
use super::{ActiveRun, Sender, identity_for};
use crate::batch::BatchClient;
use crate::config::Settings;
use crate::definition::Definition;
use crate::rollout::policy::RunChoices;
use crate::rollout::run::{BodySource, Intent, Refusal, Until, Workspace};
use crate::rollout::snapshots::{Snapshot, Snapshots, Watching};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Carries out the app's commands in tasks that report back with Actions. Runs go through the
/// one run API, exactly as the command line's do.
pub(super) struct Runner {
    settings: Settings,
    workspace: Workspace,
    client: BatchClient,
    definition: Option<Arc<Definition>>,
    tx: Sender,
    pub(super) cancel: Option<CancellationToken>,
    /// The task of the last run command.
    pub(super) active: Option<ActiveRun>,
    /// Where the operator's answer to the proposal on screen goes (its choices, or nothing).
    answer: Option<oneshot::Sender<RunChoices>>,
    /// The dashboard's standing interest in the account's poller; dropped when it switches away.
    _watching: Watching,
    /// Stops forwarding this account's snapshots when the dashboard switches away.
    pub(super) stop: CancellationToken,
}

/// What a run command asks of the runtime.
enum RunRequest {
    /// A new run: proposed, then (but for one step) confirmed through `answer`, then started.
    New {
        pools: Vec<String>,
        one_step: bool,
        choices: RunChoices,
        intent: Intent,
        answer: oneshot::Receiver<RunChoices>,
    },
    /// Continue run `run` for `pools`.
    Continue {
        run: String,
        pools: Vec<String>,
        one_step: bool,
    },
    Resume(String),
    Abandon(String),
}

impl Runner {
    /// Starts watching the account: its poller, its unfinished runs, its full pool bodies.
    pub(super) fn start(
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
        let first = workspace.snapshots.subscribe();
        let runner = Runner {
            settings,
            workspace,
            client,
            definition,
            tx,
            cancel: None,
            active: None,
            answer: None,
            _watching,
            stop,
        };
        // Full bodies once at start, for the definition status of every row: after the first
        // listing, so the rows come first.
        runner.list_full(Some(first));
        runner
    }

    /// The full listing, reduced page by page as it arrives (`FullListing`); after the first
    /// view of `first`, if given.
    fn list_full(&self, first: Option<watch::Receiver<Arc<Snapshot>>>) {
        let (client, tx, definition) = (self.client.clone(), self.tx.clone(), self.definition.clone());
        tokio::spawn(async move {
            if let Some(mut first) = first {
                let _ = first.wait_for(|s| s.requested.is_some()).await;
            }
            let mut listing = FullListing::default();
            let listed = client.list_pool_pages(None, None, None, |page| listing.add(page, definition.as_deref()));
            let result = listed.await.map(|()| listing).map_err(|e| e.to_string());
            tx.send(Action::FullPools(result));
        });
    }

    /// A runner for the config's account `name`, and what the dashboard shows of it.
    pub(super) fn switch(
        &self,
        name: &str,
        account: u64,
        parent: &CancellationToken,
    ) -> Result<(Runner, AccountView), String> {
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

    pub(super) fn execute(&mut self, command: Command) {
        let (client, tx) = (self.client.clone(), self.tx.clone());
        match command {
            Command::Refresh => self.workspace.snapshots.request_now(),
            Command::RefreshFull => self.list_full(None),
            Command::FullPool(pool) => {
                tokio::spawn(async move {
                    let result = client.get_pool(&pool, None).await.map(Box::new).map_err(|e| e.to_string());
                    tx.send(Action::FullPool { pool, result });
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
            Command::Call(call) => {
                tokio::spawn(async move {
                    let result = super::calls::perform(&client, &call).await;
                    tx.send(Action::Called { call, result });
                });
            }
            Command::JobsFor(pool) => {
                tokio::spawn(async move {
                    let result = client.jobs_with_counts(std::slice::from_ref(&pool)).await.map_err(|e| e.to_string());
                    tx.send(Action::Jobs { pool, result });
                });
            }
            Command::TasksFor(job) => {
                tokio::spawn(async move {
                    let result = client.list_tasks(&job).await.map_err(|e| e.to_string());
                    tx.send(Action::Tasks { job, result });
                });
            }
            Command::WriteJson { pool, body } => {
                let dir = crate::config::layout::exports(&self.settings.paths.data_dir);
                tx.send(Action::Said(write_json(&dir, &pool, &body)));
            }
            // The event loop switches accounts: it owns the runner.
            Command::SwitchAccount(_) => {}
            Command::Run { run: Some(run), pools, one_step, .. } => {
                self.spawn(RunRequest::Continue { run, pools, one_step })
            }
            Command::Run { run: None, pools, one_step, choices } => {
                let choices = choices.unwrap_or_else(|| RunChoices::of(&self.workspace.policy, &[]));
                self.propose(pools, one_step, choices, Intent::Recreate);
            }
            Command::Apply { pools, choices } => self.propose(pools, false, choices, Intent::Apply),
            Command::Heal { pools, choices } => self.propose(pools, false, choices, Intent::Heal),
            Command::RefreshNodes { pools, choices } => self.propose(pools, false, choices, Intent::Refresh),
            Command::Start { choices, .. } => {
                if let Some(answer) = self.answer.take() {
                    let _ = answer.send(choices);
                }
            }
            Command::DropProposal => self.answer = None,
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

    /// A new run: the proposal's confirmation waits for the operator's answer; a newer proposal
    /// drops the one before.
    fn propose(&mut self, pools: Vec<String>, one_step: bool, choices: RunChoices, intent: Intent) {
        let (answer_tx, answer) = oneshot::channel();
        self.answer = Some(answer_tx);
        self.spawn(RunRequest::New { pools, one_step, choices, intent, answer });
    }

    fn spawn(&mut self, request: RunRequest) {
        let tx = self.tx.clone();
        let definition = self.definition.clone();
        let cancel = CancellationToken::new();
        self.cancel = Some(cancel.clone());
        let workspace = self.workspace.clone();
        let task = tokio::spawn(async move {
            let outcome = act(&workspace, definition.as_deref(), request, &tx, cancel).await;
            let _ = tx.send(Action::RunEnded(outcome));
            Self::publish_runs(&workspace, definition.as_deref(), &tx);
        });
        self.active = Some(ActiveRun { task, id: None, workspace: self.workspace.clone() });
    }
}

async fn act(
    workspace: &Workspace,
    definition: Option<&Definition>,
    request: RunRequest,
    tx: &Sender,
    cancel: CancellationToken,
) -> Result<String, String> {
    let (run, only, until, source) = match request {
        RunRequest::New { pools, one_step, choices, intent, answer } => {
            let until = if one_step { Until::OneStep } else { Until::End };
            let mut chosen = workspace.clone();
            chosen.preflight.accept_loss = choices.apply(&mut chosen.policy);
            let mut proposal = match (intent, definition) {
                (Intent::Heal, _) => chosen.propose_heal(&pools).await?,
                (Intent::Refresh, _) => chosen.propose_refresh(&pools).await?,
                (_, Some(definition)) => chosen.propose(definition, &pools, intent, intent == Intent::Apply).await?,
                (_, None) => return Err("no pool definition loaded".into()),
            };
            if proposal.ids.is_empty() && intent == Intent::Heal {
                return Ok(format!("nothing to do: no failed node in {}", pools.join(", ")));
            }
            if proposal.ids.is_empty() {
                return Ok("nothing to do: every chosen pool matches its definition".into());
            }
            let refused = |refusal: Refusal| {
                if !refusal.losses.is_empty() {
                    let command = match intent {
                        Intent::Recreate => {
                            Command::Run { run: None, pools: pools.clone(), one_step, choices: Some(choices.clone()) }
                        }
                        Intent::Apply => Command::Apply { pools: pools.clone(), choices: choices.clone() },
                        Intent::Heal => Command::Heal { pools: pools.clone(), choices: choices.clone() },
                        Intent::Refresh => Command::RefreshNodes { pools: pools.clone(), choices: choices.clone() },
                    };
                    let _ = tx.send(Action::LossesFound { command, losses: refusal.losses });
                }
                refusal.message
            };
            if let Some(refusal) = proposal.refusal() {
                return Err(refused(refusal));
            }
            // One step starts at a step that changes nothing yet (disable autoscale): no question.
            if !one_step {
                let _ = tx.send(Action::Proposed(Box::new(ProposalView::of(&proposal, choices.clone()))));
                let answered = tokio::select! {
                    _ = cancel.cancelled() => None,
                    answer = answer => answer.ok(),
                };
                let Some(confirmed) = answered else { return Ok("cancelled: nothing was changed".into()) };
                confirmed.apply(&mut proposal.workspace.policy);
            }
            let ids = proposal.ids.clone();
            match proposal.start().await {
                Ok(run) => (run, ids, until, None),
                Err(refusal) => return Err(refused(refusal)),
            }
        }
        RunRequest::Continue { run, pools, one_step } => {
            let until = if one_step { Until::OneStep } else { Until::End };
            (workspace.open_to_continue(&run)?, pools, until, None)
        }
        RunRequest::Resume(id) => (workspace.open_to_continue(&id)?, Vec::new(), Until::End, Some(BodySource::Journal)),
        RunRequest::Abandon(id) => {
            let run = workspace.open(&id)?;
            let given_back = run.abandon().await?;
            if !given_back.is_empty() {
                return Ok(format!("run {id} abandoned; {}", given_back.join("; ")));
            }
            return Ok(format!("run {id} abandoned; its pools are as they were"));
        }
    };
    // A run that continues is proved again against the account as it is now.
    let prepared = run.prepare(definition, source, &only, until).await?;
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
        .filter(|t| t.strategy != crate::rollout::strategy::Strategy::Recreate)
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

/// Publishes every snapshot of the account's one poller (the dashboard watches; runs wait) to
/// the app, and whether a list call is under way; until the first whole view, each page of the
/// listing as it arrives. A view with the very pools of the last one sent is sent as
/// `RefreshedSame`: nothing copied or sorted.
async fn forward_snapshots(snapshots: Arc<Snapshots>, tx: Sender, stop: CancellationToken) {
    let (mut updates, mut listing) = (snapshots.subscribe(), snapshots.subscribe_listing());
    let mut pages = Some(snapshots.subscribe_pages());
    drop(snapshots);
    // The pools of the last whole view sent.
    let mut shown: Option<crate::rollout::snapshots::Pools> = None;
    loop {
        let page = async {
            match pages.as_mut() {
                Some(pages) => pages.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = page => {
                let page = match (changed, pages.as_mut()) {
                    (Ok(()), Some(pages)) => pages.borrow_and_update().to_vec(),
                    _ => { pages = None; continue }
                };
                if !tx.send(Action::PoolsPage(page)) {
                    return;
                }
            }
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
                // Whole views from now on: the pages stop being copied.
                pages = None;
                let snapshot = updates.borrow_and_update().clone();
                let action = match &snapshot.error {
                    Some(error) => Action::Refreshed(Err(error.clone())),
                    // The poller listed the same bytes: the app already has these pools.
                    None if shown.as_ref().is_some_and(|shown| Arc::ptr_eq(shown, &snapshot.pools)) => Action::RefreshedSame,
                    None => {
                        let mut sorted: Vec<_> = snapshot.pools.iter().collect();
                        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                        shown = Some(snapshot.pools.clone());
                        Action::Refreshed(Ok(sorted.into_iter().map(|(_, pool)| pool.clone()).collect()))
                    }
                };
                if !tx.send(action) {
                    return;
                }
            }
        }
    }
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
