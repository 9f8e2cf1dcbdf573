//! Dashboard state and `update(Action) -> Vec<Command>`: pure, no terminal and no network, so
//! every key and event is testable. Network work happens in tasks that send Actions back.

use super::activity::Activity;
use super::filter::TextFilter;
use super::keys::{KeyAction, KeyMap};
use crate::batch::{ApiEvent, ApiVersion, Node, Pool, PoolNodeCounts};
use crate::definition::Definition;
use crate::definition::plan::{Action as PlanAction, Plan};
use crate::recreate::engine::Progress;
use crate::recreate::journal::RunState;
use crate::recreate::policy::RunChoices;
use crate::recreate::report::PoolStatus;
use crate::recreate::run::differences;
use crate::recreate::step::Step;
use crate::recreate::strategy::Strategy;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Everything that can happen to the dashboard.
#[derive(Clone, Debug)]
pub enum Action {
    Key(KeyEvent),
    /// A visible clock ticks (refresh age, elapsed times, spinner).
    Tick(jiff::Timestamp),
    Resized,
    RefreshStarted,
    Refreshed(Result<Vec<Pool>, String>),
    NodeCounts(Vec<PoolNodeCounts>),
    /// Full pool bodies, for the definition status column and plans.
    FullPools(Result<Vec<Pool>, String>),
    Api(ApiEvent),
    Progress(Progress),
    /// A run began acting: its id, the pools it acts on, what preflight warned about.
    RunStarted {
        run: String,
        pools: Vec<String>,
        warnings: Vec<String>,
        /// Pools the run changes other than by recreating (`apply`), and how.
        strategies: BTreeMap<String, Strategy>,
        /// The last step each pool finished before this execution (a resumed or continued run):
        /// the panel shows those steps done.
        finished: BTreeMap<String, Step>,
    },
    RunEnded(Result<String, String>),
    /// Preflight refused a new run only for live properties its pools would lack (pool,
    /// property): the operator may accept them and start `command` again.
    LossesFound {
        command: Command,
        losses: Vec<(String, String)>,
    },
    /// The account's unfinished runs, read from the journal (at start and after every run).
    Runs(Vec<RunSummary>),
    /// The nodes of the pool open in details (nodes tab), refreshed while it is open.
    Nodes {
        pool: String,
        result: Result<Vec<Node>, String>,
    },
    /// Something the runtime did for a key (a file written), for the status line.
    Said(String),
    /// A warning or error the program would have written to stderr (see `output::divert_notes`).
    Note(String),
    /// The dashboard now shows another account (`:ctx`), or could not switch.
    Switched(Result<Box<AccountView>, String>),
}

/// What the dashboard needs of an account it switches to.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub identity: Identity,
    pub definition: Option<Arc<Definition>>,
    pub api_version: ApiVersion,
    pub choices: RunChoices,
}

/// An unfinished run as the dashboard shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub id: String,
    pub pools: Vec<RunPoolSummary>,
    /// Pools whose definition in use differs from what the run recorded; resume creates the record.
    pub differs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunPoolSummary {
    pub id: String,
    /// "paused after wait-drained", …
    pub state: String,
    pub resumes_at: Option<Step>,
    /// Deleted by the run and not created again yet.
    pub gone: bool,
    /// Begun and not finished: no other run may take it.
    pub held: bool,
}

impl RunSummary {
    /// Whether this run holds any of `ids`.
    pub fn holds_any(&self, ids: &[String]) -> bool {
        self.pools.iter().any(|p| p.held && ids.iter().any(|id| id.eq_ignore_ascii_case(&p.id)))
    }

    /// Where pool `id` resumes in this run, if it has work left.
    pub fn resumes_at(&self, id: &str) -> Option<Step> {
        self.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id)).and_then(|p| p.resumes_at)
    }

    pub fn from_state(state: &RunState, definition: Option<&Definition>) -> RunSummary {
        let pending = state.pending();
        let held = state.held_pools();
        let pools = state
            .targets
            .iter()
            .map(|t| {
                let pool = state.pool(&t.pool);
                RunPoolSummary {
                    id: t.pool.clone(),
                    state: pool.describe(),
                    resumes_at: pending.iter().find(|(id, _)| *id == t.pool).map(|(_, s)| *s),
                    gone: pool.is_between_delete_and_create(),
                    held: held.contains(&t.pool),
                }
            })
            .collect();
        let differs = differences(state, definition)
            .into_iter()
            .filter_map(|(id, d)| d.describe().map(|d| format!("{id}: {d}")))
            .collect();
        RunSummary { id: state.run.clone(), pools, differs }
    }
}

/// What the runtime should do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Refresh,
    RefreshFull,
    NodeCountsFor(Vec<String>),
    /// Start a new run for `pools` (`run` None) or continue run `run` for them; `one_step`: each
    /// pool runs only the step it is at.
    Run {
        run: Option<String>,
        pools: Vec<String>,
        one_step: bool,
        /// A new run's canary, bound, rollback, probe and accepted losses (a continued run keeps its own).
        choices: Option<RunChoices>,
    },
    /// A new `apply` run for `pools`: each the least disruptive way its plan allows.
    Apply {
        pools: Vec<String>,
        choices: RunChoices,
    },
    /// Resume every pool with work left in this run (creating what the run recorded).
    Resume(String),
    /// Close this run without touching its pools.
    Abandon(String),
    Cancel,
    /// List the nodes of this pool (details, nodes tab).
    NodesFor(String),
    /// Write this (redacted) pool body to a file of its own.
    WriteJson {
        pool: String,
        body: serde_json::Value,
    },
    /// Show the config's account of this name (`:ctx NAME`).
    SwitchAccount(String),
    /// Clear the terminal and draw everything again (ctrl-l).
    Repaint,
    Quit,
}

impl Command {
    /// A new run's choices, shown and changed in its confirmation.
    pub fn choices(&self) -> Option<&RunChoices> {
        match self {
            Command::Run { choices: Some(choices), .. } | Command::Apply { choices, .. } => Some(choices),
            _ => None,
        }
    }

    /// The choices to change, and how many pools the run has (the canary's bound).
    pub(super) fn choices_mut(&mut self) -> Option<(&mut RunChoices, usize)> {
        match self {
            Command::Run { choices: Some(choices), pools, .. } | Command::Apply { choices, pools } => {
                Some((choices, pools.len()))
            }
            _ => None,
        }
    }
}

pub use super::columns::Column;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    Table,
    Detail(String),
    /// The account's unfinished runs.
    Runs,
    Help,
    /// The activity log, scrollable and filtered.
    Log,
    /// The config's accounts, to switch to one.
    Accounts,
}

/// The sections of a pool's details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailTab {
    Summary,
    Plan,
    /// The pool's nodes; while it drains, which still hold tasks.
    Nodes,
    Json,
}

impl DetailTab {
    pub const ALL: [DetailTab; 4] = [DetailTab::Summary, DetailTab::Plan, DetailTab::Nodes, DetailTab::Json];

    pub fn name(self) -> &'static str {
        match self {
            DetailTab::Summary => "summary",
            DetailTab::Plan => "plan",
            DetailTab::Nodes => "nodes",
            DetailTab::Json => "json",
        }
    }

    fn step(self, forward: bool) -> DetailTab {
        let at = DetailTab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        let n = DetailTab::ALL.len();
        DetailTab::ALL[if forward { (at + 1) % n } else { (at + n - 1) % n }]
    }
}

/// The nodes last listed for the pool open in details.
#[derive(Clone, Debug)]
pub struct NodesView {
    pub pool: String,
    pub nodes: Result<Vec<Node>, String>,
    pub at: jiff::Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    /// Destructive work waits for the operator to type `expected`.
    Confirm { title: String, lines: Vec<String>, expected: String, typed: String, command: Command },
    /// Quitting would leave a run active or pools deleted and not recreated: named here.
    Quit { running: bool, gone: Vec<String> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepState {
    Done,
    Skipped,
    Running,
    Failed,
}

#[derive(Clone, Debug, Default)]
pub struct PoolRunView {
    pub steps: BTreeMap<Step, StepState>,
    pub current: Option<Step>,
    pub step_started: Option<jiff::Timestamp>,
    pub status: Option<PoolStatus>,
    pub last_event: String,
}

/// The header's facts, fixed for the session.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The config's `[accounts.NAME]` shown, if it came from one.
    pub profile: Option<String>,
    pub account: String,
    pub endpoint: String,
    pub auth: String,
    pub refresh_secs: u64,
    pub readonly: bool,
    pub demo: bool,
}

pub struct App {
    pub identity: Identity,
    pub keys: KeyMap,
    pub definition: Option<Arc<Definition>>,
    pub api_version: ApiVersion,
    /// This machine's clock (refresh ages, step timers, log times).
    pub now: jiff::Timestamp,
    /// How far the account's clock is ahead of this machine's, from its answers' `Date`.
    pub skew: jiff::SignedDuration,
    pub pools: Vec<Pool>,
    pub node_counts: HashMap<String, PoolNodeCounts>,
    /// Definition vs live, from the last full listing.
    pub plan: Option<Plan>,
    /// Full pool bodies by lower-cased id (details view), from the last full listing.
    pub full_pools: HashMap<String, Pool>,
    pub last_refresh: Option<jiff::Timestamp>,
    pub refresh_error: Option<String>,
    pub in_flight: usize,
    pub selected: usize,
    /// First visible row; kept by the view so scrolling is smooth.
    pub offset: usize,
    pub page_rows: usize,
    pub marks: BTreeSet<String>,
    pub filter: TextFilter,
    pub filter_editing: bool,
    pub sort: (Column, bool),
    pub screen: Screen,
    /// The details' section and how far it is scrolled.
    pub detail_tab: DetailTab,
    pub detail_scroll: usize,
    /// Lines the details' section has (set by the view), to bound scrolling.
    pub detail_lines: usize,
    pub nodes: Option<NodesView>,
    pub dialog: Option<Dialog>,
    pub log: Activity,
    /// The `:` command line being typed.
    pub command: Option<String>,
    /// What tab offered for the `:` line, shown while it is typed.
    pub completions: Vec<String>,
    /// The config's accounts (name, URL) and the one chosen in the accounts view.
    pub accounts: Vec<(String, String)>,
    pub accounts_selected: usize,
    /// Refreshes failed in a row (the banner says the dashboard keeps trying).
    pub refresh_failures: u32,
    /// How far the help is scrolled, on terminals too short for all of it.
    pub help_scroll: usize,
    pub run: BTreeMap<String, PoolRunView>,
    pub run_active: bool,
    /// The run this dashboard last started or continued, and its pools (`n` continues it).
    pub run_id: Option<String>,
    pub run_pools: BTreeSet<String>,
    /// The strategies of that run's pools that are not recreated, by lower-cased id.
    pub strategies: BTreeMap<String, Strategy>,
    /// The account's unfinished runs (newest first) and the one chosen in the runs view.
    pub runs: Vec<RunSummary>,
    pub runs_selected: usize,
    /// Pools a run deleted and has not created again, by lower-cased id.
    pub gone: BTreeMap<String, String>,
    /// Rows shown for gone pools the account lacks (lower-cased ids): they stay selectable.
    pub ghosts: BTreeSet<String>,
    pub status: Option<String>,
    pub spinner: usize,
    pub dirty: bool,
    pub quit: bool,
    /// What a new run starts with (from the config) and which of them the dialog has in focus.
    pub choices: RunChoices,
    pub choice_focus: usize,
}

/// A new run's choices in its confirmation: canary, max unavailable, on unhealthy, probe.
pub(super) const CHOICES: usize = 4;

impl App {
    pub fn new(identity: Identity, keys: KeyMap, definition: Option<Arc<Definition>>, api_version: ApiVersion) -> Self {
        App {
            identity,
            keys,
            definition,
            api_version,
            now: jiff::Timestamp::now(),
            skew: jiff::SignedDuration::ZERO,
            pools: Vec::new(),
            node_counts: HashMap::new(),
            plan: None,
            full_pools: HashMap::new(),
            last_refresh: None,
            refresh_error: None,
            in_flight: 0,
            selected: 0,
            offset: 0,
            page_rows: 20,
            marks: BTreeSet::new(),
            filter: TextFilter::default(),
            filter_editing: false,
            sort: (Column::Id, true),
            screen: Screen::Table,
            detail_tab: DetailTab::Summary,
            detail_scroll: 0,
            detail_lines: 0,
            nodes: None,
            dialog: None,
            log: Activity::default(),
            command: None,
            completions: Vec::new(),
            accounts: Vec::new(),
            accounts_selected: 0,
            refresh_failures: 0,
            help_scroll: 0,
            run: BTreeMap::new(),
            run_active: false,
            run_id: None,
            run_pools: BTreeSet::new(),
            strategies: BTreeMap::new(),
            runs: Vec::new(),
            runs_selected: 0,
            gone: BTreeMap::new(),
            ghosts: BTreeSet::new(),
            status: None,
            spinner: 0,
            dirty: true,
            quit: false,
            choices: RunChoices::default(),
            choice_focus: 0,
        }
    }

    /// Indices into `pools` of the rows shown: filtered (id, state, VM size) and sorted.
    pub fn rows(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.pools.len())
            .filter(|&i| {
                let p = &self.pools[i];
                let state = p.state.as_ref().map(|s| s.as_str()).unwrap_or("");
                self.filter.matches([p.id(), state, p.vm_size.as_deref().unwrap_or("")])
            })
            .collect();
        let (column, ascending) = self.sort;
        rows.sort_by(|&a, &b| {
            let (pa, pb) = (&self.pools[a], &self.pools[b]);
            let order = column.compare(self, pa, pb).then_with(|| pa.id().cmp(pb.id()));
            if ascending { order } else { order.reverse() }
        });
        rows
    }

    pub fn selected_pool(&self) -> Option<&Pool> {
        self.rows().get(self.selected).map(|&i| &self.pools[i])
    }

    /// What a key acts on: the pool on screen in details, else the marked pools, else the
    /// selected one.
    pub fn targets(&self) -> Vec<String> {
        if let Screen::Detail(id) = &self.screen {
            return vec![id.clone()];
        }
        if self.marks.is_empty() {
            self.selected_pool().map(|p| vec![p.id().to_string()]).unwrap_or_default()
        } else {
            self.marks.iter().cloned().collect()
        }
    }

    /// Now on the account's clock: ages of its pools, nodes and tasks are measured on it (a
    /// simulator at `--speed` runs ahead of this machine; a real account may be skewed).
    pub fn account_now(&self) -> jiff::Timestamp {
        self.now.saturating_add(self.skew).unwrap_or(self.now)
    }

    pub fn definition_status(&self, id: &str) -> Option<PlanAction> {
        self.plan.as_ref()?.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id)).map(|p| p.action)
    }

    /// A line in the activity log, and in the log file: refusals and failures are read there whole.
    pub fn log(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        if error {
            tracing::warn!("dashboard: {text}");
        } else {
            tracing::info!("dashboard: {text}");
        }
        self.log.push(self.now, text, error, None);
    }

    pub(super) fn say(&mut self, text: impl Into<String>) {
        self.status = Some(text.into());
    }

    #[allow(
        clippy::too_many_lines,
        reason = "the dashboard's one dispatch of every action; splitting the state by concern is the next step"
    )]
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        // A tick only redraws when a visible clock moved (ages change each second, the spinner
        // and run timers while busy): an idle dashboard costs next to nothing.
        self.dirty |= match &action {
            Action::Tick(now) => now.as_second() != self.now.as_second() || self.in_flight > 0 || self.run_active,
            _ => true,
        };
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Tick(now) => {
                self.now = now;
                if self.in_flight > 0 {
                    self.spinner = self.spinner.wrapping_add(1);
                }
                vec![]
            }
            Action::Resized => vec![],
            Action::RefreshStarted => {
                self.in_flight += 1;
                vec![]
            }
            Action::Refreshed(result) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                match result {
                    Ok(pools) => {
                        let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                        self.pools = pools;
                        self.add_ghosts();
                        self.last_refresh = Some(self.now);
                        self.refresh_error = None;
                        self.refresh_failures = 0;
                        self.keep_selection(selected);
                        let mut commands = vec![Command::NodeCountsFor(self.visible_ids())];
                        commands.extend(self.nodes_command());
                        commands
                    }
                    Err(e) => {
                        self.log(format!("refresh failed: {e}"), true);
                        self.refresh_error = Some(e);
                        self.refresh_failures += 1;
                        vec![]
                    }
                }
            }
            Action::NodeCounts(counts) => {
                for c in counts {
                    self.node_counts.insert(c.pool_id.to_lowercase(), c);
                }
                vec![]
            }
            Action::FullPools(result) => {
                match result {
                    Ok(pools) => {
                        if let Some(definition) = &self.definition {
                            let plan = Plan::new(definition, &pools, &[], self.api_version);
                            if self.status.as_deref() == Some("planning: listing full pools…") {
                                let changed = plan.pools.iter().filter(|p| p.action != PlanAction::Unchanged).count();
                                self.status = Some(format!(
                                    "plan: {changed} of {} defined pool(s) differ; enter shows a pool's changes",
                                    plan.pools.len()
                                ));
                            }
                            self.plan = Some(plan);
                        }
                        self.full_pools = pools.into_iter().map(|p| (p.id().to_lowercase(), p)).collect();
                    }
                    Err(e) => self.log(format!("listing full pools failed: {e}"), true),
                }
                vec![]
            }
            Action::Api(event) => {
                // Dates have whole seconds: a change under two is the rounding, not the clock.
                if let Some(date) = event.date {
                    let skew = date.duration_since(self.now);
                    if (skew - self.skew).abs() >= jiff::SignedDuration::from_secs(2) {
                        self.skew = skew;
                    }
                }
                let status = event.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into());
                let error = event.status.is_none_or(|s| s >= 400);
                let retry = if event.attempt > 1 { format!(" (attempt {})", event.attempt) } else { String::new() };
                let detail = event.error.map(|e| format!(" {e}")).unwrap_or_default();
                let path = event.path.split('?').next().unwrap_or(&event.path);
                // The refresh cycle's successful reads fold into one line per kind of call.
                let fold = (event.method == "GET" && !error && event.attempt == 1)
                    .then(|| format!("{} {path} {status}", event.method));
                let text =
                    format!("{} {} {status} {}ms{retry}{detail}", event.method, event.path, event.elapsed.as_millis());
                self.log.push(self.now, text, error, fold);
                vec![]
            }
            Action::Progress(progress) => self.on_progress(progress),
            Action::RunStarted { run, pools, warnings, strategies, finished } => {
                for warning in warnings {
                    self.log(format!("preflight warning: {warning}"), true);
                }
                self.on_run_started(run, pools, strategies, finished);
                vec![]
            }
            Action::Runs(runs) => {
                self.gone = runs
                    .iter()
                    .flat_map(|r| r.pools.iter().filter(|p| p.gone))
                    .map(|p| (p.id.to_lowercase(), p.id.clone()))
                    .collect();
                self.ghosts.retain(|id| self.gone.contains_key(id));
                self.runs = runs;
                self.runs_selected = self.runs_selected.min(self.runs.len().saturating_sub(1));
                vec![]
            }
            Action::Nodes { pool, result } => {
                // Only the pool still open in details keeps its answer.
                if matches!(&self.screen, Screen::Detail(id) if id.eq_ignore_ascii_case(&pool)) {
                    if let Err(e) = &result {
                        self.log(format!("listing the nodes of {pool} failed: {e}"), true);
                    }
                    self.nodes = Some(NodesView { pool, nodes: result, at: self.now });
                }
                vec![]
            }
            Action::Note(text) => {
                self.log(text.clone(), true);
                self.say(text);
                vec![]
            }
            Action::Said(text) => {
                self.log(text.clone(), false);
                self.say(text);
                vec![]
            }
            Action::Switched(result) => match result {
                Ok(view) => self.switch_to(*view),
                Err(e) => {
                    self.log(format!("cannot switch account: {e}"), true);
                    self.say(format!("cannot switch account: {e}"));
                    vec![]
                }
            },
            Action::LossesFound { command, losses } => {
                self.ask_accept_losses(command, losses);
                vec![]
            }
            Action::RunEnded(result) => {
                self.run_active = false;
                match result {
                    Ok(summary) => self.say(summary),
                    Err(e) => {
                        self.log(format!("run failed to start: {e}"), true);
                        self.say(e);
                    }
                }
                vec![Command::Refresh, Command::RefreshFull]
            }
        }
    }

    /// Rows for pools a run deleted and has not created again: they stay on screen (and
    /// selectable, so `n` can create them) until the account has them again.
    fn add_ghosts(&mut self) {
        let live: BTreeSet<String> = self.pools.iter().map(|p| p.id().to_lowercase()).collect();
        self.ghosts = self.gone.keys().filter(|id| !live.contains(*id)).cloned().collect();
        for id in &self.ghosts {
            self.pools.push(Pool { id: Some(self.gone[id].clone()), ..Default::default() });
        }
    }

    /// The selection stays on the pool it was on, wherever that pool's row moved.
    fn keep_selection(&mut self, id: Option<String>) {
        let rows = self.rows();
        self.selected = id
            .and_then(|id| rows.iter().position(|&i| self.pools[i].id().eq_ignore_ascii_case(&id)))
            .unwrap_or_else(|| self.selected.min(rows.len().saturating_sub(1)));
    }

    /// Lists the open pool's nodes when its nodes tab shows.
    fn nodes_command(&self) -> Option<Command> {
        match &self.screen {
            Screen::Detail(id) if self.detail_tab == DetailTab::Nodes => Some(Command::NodesFor(id.clone())),
            _ => None,
        }
    }

    /// Everything of the account shown before is dropped; keys, theme and the log stay.
    fn switch_to(&mut self, view: AccountView) -> Vec<Command> {
        let account = view.identity.account.clone();
        self.log(format!("switched to account {account} ({})", view.identity.endpoint), false);
        let (keys, log, accounts) =
            (self.keys.clone(), std::mem::take(&mut self.log), std::mem::take(&mut self.accounts));
        let now = self.now;
        *self = App::new(view.identity, keys, view.definition, view.api_version);
        self.log = log;
        self.accounts = accounts;
        self.accounts_selected = self.accounts.iter().position(|(n, _)| *n == account).unwrap_or(0);
        self.choices = view.choices;
        self.now = now;
        self.say(format!("account {account}"));
        vec![Command::Refresh, Command::RefreshFull]
    }

    /// Gone pools the account really lacks (ids as the run spells them).
    pub fn ghost_ids(&self) -> Vec<String> {
        self.ghosts.iter().filter_map(|id| self.gone.get(id).cloned()).collect()
    }

    /// Ids of the rows that fit on screen (node counts are fetched for those only).
    pub fn visible_ids(&self) -> Vec<String> {
        let rows = self.rows();
        let start = self.offset.min(rows.len());
        let end = (start + self.page_rows.max(1)).min(rows.len());
        rows[start..end].iter().map(|&i| self.pools[i].id().to_string()).collect()
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.request_quit();
        }
        // A repaint works everywhere, even in a dialog or the `:` line.
        if self.keys.action(&key) == Some(KeyAction::Repaint) {
            return vec![Command::Repaint];
        }
        if let Some(dialog) = self.dialog.take() {
            return self.on_dialog_key(dialog, key);
        }
        if let Some(line) = self.command.take() {
            return self.on_command_key(line, key);
        }
        if self.filter_editing {
            let selected = self.selected_pool().map(|p| p.id().to_lowercase());
            self.filter_editing = edit_filter(&mut self.filter, key.code);
            self.keep_selection(selected);
            // The header may cut it: the status line wraps, so why it is read literally is readable.
            if let Some(why) = self.filter.literal_because() {
                let text = format!("filter '{}' is matched literally: not a regex ({why})", self.filter.text());
                self.say(text);
            }
            return vec![];
        }
        if self.log.filter_editing {
            self.log.filter_editing = edit_filter(&mut self.log.filter, key.code);
            self.log.scroll = 0;
            return vec![];
        }
        let action = self.keys.action(&key);
        if self.screen == Screen::Help && action != Some(KeyAction::Quit) {
            // Moving keys scroll a help taller than the terminal; any other key closes it.
            match action {
                Some(KeyAction::Down) => self.help_scroll += 1,
                Some(KeyAction::Up) => self.help_scroll = self.help_scroll.saturating_sub(1),
                Some(KeyAction::PageDown) => self.help_scroll += self.page_rows.max(1),
                Some(KeyAction::PageUp) => self.help_scroll = self.help_scroll.saturating_sub(self.page_rows.max(1)),
                _ => self.screen = Screen::Table,
            }
            return vec![];
        }
        let Some(action) = action else { return vec![] };
        if let Some(commands) = self.on_common_key(action) {
            return commands;
        }
        match self.screen {
            Screen::Detail(_) => self.on_detail_key(action),
            Screen::Runs => self.on_runs_key(action),
            Screen::Log => self.on_log_key(action),
            Screen::Accounts => self.on_accounts_key(action),
            Screen::Table | Screen::Help => self.on_table_key(action),
        }
    }

    /// Keys that act the same on every screen; None when `action` is not one of them.
    fn on_common_key(&mut self, action: KeyAction) -> Option<Vec<Command>> {
        Some(match action {
            KeyAction::Cancel => {
                if self.run_active {
                    self.say("cancelling after the call in flight…");
                    return Some(vec![Command::Cancel]);
                }
                self.say("no run is active");
                vec![]
            }
            KeyAction::Refresh => vec![Command::Refresh],
            KeyAction::Log => {
                self.screen = if self.screen == Screen::Log { Screen::Table } else { Screen::Log };
                self.log.scroll = 0;
                vec![]
            }
            KeyAction::Help => {
                self.screen = Screen::Help;
                self.help_scroll = 0;
                vec![]
            }
            KeyAction::Quit => self.request_quit(),
            KeyAction::Runs => {
                self.screen = Screen::Runs;
                vec![]
            }
            KeyAction::Command => {
                self.command = Some(String::new());
                vec![]
            }
            _ => return None,
        })
    }

    /// In details every key acts on the pool shown; the table's keys do not reach it.
    fn on_detail_key(&mut self, action: KeyAction) -> Vec<Command> {
        let Screen::Detail(id) = self.screen.clone() else { return vec![] };
        let page = self.page_rows.max(1);
        let last = self.detail_lines.saturating_sub(1);
        match action {
            KeyAction::Back => {
                self.screen = Screen::Table;
                self.nodes = None;
            }
            KeyAction::NextTab | KeyAction::PrevTab => {
                self.detail_tab = self.detail_tab.step(action == KeyAction::NextTab);
                self.detail_scroll = 0;
                return self.nodes_command().into_iter().collect();
            }
            KeyAction::Down => self.detail_scroll = (self.detail_scroll + 1).min(last),
            KeyAction::Up => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            KeyAction::PageDown => self.detail_scroll = (self.detail_scroll + page).min(last),
            KeyAction::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(page),
            KeyAction::Top => self.detail_scroll = 0,
            KeyAction::Bottom => self.detail_scroll = last,
            KeyAction::Write => return self.write_json(&id),
            KeyAction::NextStep => return self.start(true),
            KeyAction::Run => return self.start(false),
            KeyAction::Resume => return self.ask_resume(0),
            KeyAction::Plan => return self.plan(),
            _ => self.say("details: tab switches section, j/k scroll, w writes the JSON, esc returns"),
        }
        vec![]
    }

    /// Opens pool `id`'s details at `tab`.
    fn open_details(&mut self, id: String, tab: DetailTab) -> Vec<Command> {
        self.screen = Screen::Detail(id);
        self.detail_tab = tab;
        self.detail_scroll = 0;
        self.nodes = None;
        let mut commands = vec![Command::RefreshFull];
        commands.extend(self.nodes_command());
        commands
    }

    /// `w`: the pool's body as the details show it (secrets hidden) to a file of its own.
    fn write_json(&mut self, id: &str) -> Vec<Command> {
        let Some(full) = self.full_pools.get(&id.to_lowercase()) else {
            self.say("the pool's properties are not loaded yet; try again in a moment");
            return vec![];
        };
        vec![Command::WriteJson { pool: id.to_string(), body: self.shown_body(id, full) }]
    }

    /// A live body with its secrets hidden, as every screen shows it.
    pub fn shown_body(&self, id: &str, pool: &Pool) -> serde_json::Value {
        let body = serde_json::to_value(pool).unwrap_or_default();
        match &self.definition {
            Some(definition) => definition.redacted(id, &body),
            None => crate::definition::redact::redact(&body, None),
        }
    }

    fn on_log_key(&mut self, action: KeyAction) -> Vec<Command> {
        let page = self.page_rows.max(1);
        let last = self.log.shown().len().saturating_sub(1);
        match action {
            // Scrolling counts up from the newest line.
            KeyAction::Up => self.log.scroll = (self.log.scroll + 1).min(last),
            KeyAction::Down => self.log.scroll = self.log.scroll.saturating_sub(1),
            KeyAction::PageUp => self.log.scroll = (self.log.scroll + page).min(last),
            KeyAction::PageDown => self.log.scroll = self.log.scroll.saturating_sub(page),
            KeyAction::Top => self.log.scroll = last,
            KeyAction::Bottom => self.log.scroll = 0,
            KeyAction::Filter => self.log.filter_editing = true,
            KeyAction::ErrorsOnly => {
                self.log.errors_only = !self.log.errors_only;
                self.log.scroll = 0;
            }
            KeyAction::Back if !self.log.filter.is_empty() => self.log.filter.clear(),
            KeyAction::Back => self.screen = Screen::Table,
            _ => self.say("log: / filters (regex, ! inverts), e errors only, j/k scroll, esc returns"),
        }
        vec![]
    }

    fn on_accounts_key(&mut self, action: KeyAction) -> Vec<Command> {
        let last = self.accounts.len().saturating_sub(1);
        match action {
            KeyAction::Down => self.accounts_selected = (self.accounts_selected + 1).min(last),
            KeyAction::Up => self.accounts_selected = self.accounts_selected.saturating_sub(1),
            KeyAction::Details => {
                if let Some((name, _)) = self.accounts.get(self.accounts_selected).cloned() {
                    return self.switch_account(&name);
                }
            }
            KeyAction::Back => self.screen = Screen::Table,
            _ => self.say("accounts: enter switches to the chosen one, esc returns"),
        }
        vec![]
    }

    /// `:ctx NAME` or enter in the accounts view.
    fn switch_account(&mut self, name: &str) -> Vec<Command> {
        if self.run_active {
            self.say("a run is active: wait for it or cancel it (c) before switching accounts");
            return vec![];
        }
        let Some((name, _)) = self.accounts.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).cloned() else {
            let known: Vec<&str> = self.accounts.iter().map(|(n, _)| n.as_str()).collect();
            self.say(if known.is_empty() {
                "no [accounts.NAME] in config.toml: add one per account to switch between them".to_string()
            } else {
                format!("no account '{name}'; config.toml has: {}", known.join(", "))
            });
            return vec![];
        };
        if self.identity.profile.as_deref() == Some(name.as_str()) {
            self.screen = Screen::Table;
            self.say(format!("already on account {name}"));
            return vec![];
        }
        self.say(format!("switching to account {name}…"));
        vec![Command::SwitchAccount(name)]
    }

    fn on_command_key(&mut self, mut line: String, key: KeyEvent) -> Vec<Command> {
        // What tab offered stays on screen until the line changes.
        if key.code != KeyCode::Tab {
            self.completions.clear();
        }
        match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => return self.run_command_line(&line),
            KeyCode::Tab => {
                let completions = self.complete(&line);
                match completions.as_slice() {
                    [] => self.completions = vec!["(no completion)".into()],
                    [one] => {
                        line = one.clone();
                        self.completions.clear();
                    }
                    many => {
                        line = common_prefix(many);
                        self.completions = many.to_vec();
                    }
                }
                self.command = Some(line);
            }
            KeyCode::Backspace => {
                if line.pop().is_some() {
                    self.command = Some(line);
                }
            }
            KeyCode::Char(c) => {
                line.push(c);
                self.command = Some(line);
            }
            _ => self.command = Some(line),
        }
        vec![]
    }

    /// Completions of a `:` line: command names, then account names, columns or pool ids.
    pub fn complete(&self, line: &str) -> Vec<String> {
        let (word, rest) = match line.split_once(' ') {
            Some((word, rest)) => (word, Some(rest)),
            None => (line, None),
        };
        let Some(rest) = rest else {
            return COMMANDS.iter().filter(|c| c.starts_with(word)).map(|c| c.to_string()).collect();
        };
        let candidates: Vec<String> = match word {
            "ctx" => self.accounts.iter().map(|(n, _)| n.clone()).collect(),
            "sort" => Column::ALL.iter().map(|c| c.name().to_string()).collect(),
            "nodes" | "log" => self.pools.iter().map(|p| p.id().to_string()).collect(),
            _ => Vec::new(),
        };
        candidates.into_iter().filter(|c| c.starts_with(rest.trim_start())).map(|c| format!("{word} {c}")).collect()
    }

    fn run_command_line(&mut self, line: &str) -> Vec<Command> {
        let mut words = line.split_whitespace();
        let (name, argument) = (words.next().unwrap_or(""), words.next());
        match (name, argument) {
            ("", _) => {}
            ("pools", _) => self.screen = Screen::Table,
            ("nodes", pool) => {
                let id = pool.map(str::to_string).or_else(|| match &self.screen {
                    Screen::Detail(id) => Some(id.clone()),
                    _ => self.selected_pool().map(|p| p.id().to_string()),
                });
                match id {
                    Some(id) => return self.open_details(id, DetailTab::Nodes),
                    None => self.say("no pool selected"),
                }
            }
            ("ctx", Some(account)) => return self.switch_account(account),
            ("ctx", None) => self.screen = Screen::Accounts,
            ("plan", _) => return self.plan(),
            ("apply", _) => return self.start_apply(),
            ("runs", _) => self.screen = Screen::Runs,
            ("log", text) => {
                self.screen = Screen::Log;
                self.log.filter.set(text.unwrap_or(""));
                self.log.scroll = 0;
            }
            ("sort", Some(column)) => match Column::from_name(column) {
                Some(column) => {
                    let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                    self.sort = (column, self.sort.0 != column || !self.sort.1);
                    self.keep_selection(selected);
                    self.say(format!("sorted by {} {}", column.name(), if self.sort.1 { "↑" } else { "↓" }));
                }
                None => {
                    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
                    self.say(format!("no column '{column}'; columns: {}", names.join(", ")));
                }
            },
            ("help", _) => self.screen = Screen::Help,
            ("q" | "quit", _) => return self.request_quit(),
            (other, _) => self.say(format!("unknown command ':{other}'; commands: {}", COMMANDS.join(", "))),
        }
        vec![]
    }

    fn on_runs_key(&mut self, action: KeyAction) -> Vec<Command> {
        let last = self.runs.len().saturating_sub(1);
        match action {
            KeyAction::Back => self.screen = Screen::Table,
            KeyAction::Down => self.runs_selected = (self.runs_selected + 1).min(last),
            KeyAction::Up => self.runs_selected = self.runs_selected.saturating_sub(1),
            KeyAction::Resume => return self.ask_resume(self.runs_selected),
            KeyAction::Abandon => self.ask_abandon(),
            _ => self.say("runs: u resumes, x abandons the chosen run; esc returns"),
        }
        vec![]
    }

    fn on_table_key(&mut self, action: KeyAction) -> Vec<Command> {
        let rows = self.rows().len();
        let last = rows.saturating_sub(1);
        match action {
            KeyAction::Down => self.selected = (self.selected + 1).min(last),
            KeyAction::Up => self.selected = self.selected.saturating_sub(1),
            KeyAction::Top => self.selected = 0,
            KeyAction::Bottom => self.selected = last,
            KeyAction::PageDown => self.selected = (self.selected + self.page_rows.max(1)).min(last),
            KeyAction::PageUp => self.selected = self.selected.saturating_sub(self.page_rows.max(1)),
            KeyAction::Mark => {
                if let Some(id) = self.selected_pool().map(|p| p.id().to_string())
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.selected = (self.selected + 1).min(last);
            }
            KeyAction::MarkAll => {
                let ids: Vec<String> = self.rows().iter().map(|&i| self.pools[i].id().to_string()).collect();
                self.marks.extend(ids);
            }
            KeyAction::ClearMarks => self.marks.clear(),
            KeyAction::Filter => self.filter_editing = true,
            KeyAction::Sort => {
                let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                let (column, ascending) = self.sort;
                let at = Column::ALL.iter().position(|c| *c == column).unwrap_or(0);
                self.sort = if ascending { (column, false) } else { (Column::ALL[(at + 1) % Column::ALL.len()], true) };
                self.keep_selection(selected);
                self.say(format!("sorted by {} {}", self.sort.0.name(), if self.sort.1 { "↑" } else { "↓" }));
            }
            KeyAction::Details => {
                if let Some(id) = self.selected_pool().map(|p| p.id().to_string()) {
                    return self.open_details(id, DetailTab::Summary);
                }
            }
            KeyAction::Back => {
                if !self.filter.is_empty() {
                    let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                    self.filter.clear();
                    self.keep_selection(selected);
                } else {
                    self.status = None;
                }
            }
            KeyAction::Plan => return self.plan(),
            KeyAction::NextStep => return self.start(true),
            KeyAction::Run => return self.start(false),
            KeyAction::Resume => return self.ask_resume(0),
            KeyAction::Abandon => self.say("abandon works in the runs view (U)"),
            KeyAction::Write => self.say("w writes a pool's JSON from its details: enter opens them"),
            KeyAction::ErrorsOnly => self.say("e shows only errors in the activity log: l opens it"),
            _ => {}
        }
        vec![]
    }

    fn plan(&mut self) -> Vec<Command> {
        if self.definition.is_none() {
            self.say("no pool definition loaded: start with --definition FILE");
            return vec![];
        }
        self.say("planning: listing full pools…");
        vec![Command::RefreshFull]
    }

    fn request_quit(&mut self) -> Vec<Command> {
        let gone = self.ghost_ids();
        if self.run_active || !gone.is_empty() {
            self.dialog = Some(Dialog::Quit { running: self.run_active, gone });
            return vec![];
        }
        self.quit = true;
        vec![Command::Quit]
    }
}

/// What `:` offers, completed with tab.
pub const COMMANDS: [&str; 11] = ["pools", "nodes", "ctx", "plan", "apply", "runs", "log", "sort", "help", "quit", "q"];

/// Edits a `/` filter; false once enter keeps it or esc clears it.
fn edit_filter(filter: &mut TextFilter, key: KeyCode) -> bool {
    match key {
        KeyCode::Enter => return false,
        KeyCode::Esc => {
            filter.clear();
            return false;
        }
        KeyCode::Backspace => filter.pop(),
        KeyCode::Char(c) => filter.push(c),
        _ => {}
    }
    true
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut end = first.len();
    for word in &words[1..] {
        end = end.min(first.bytes().zip(word.bytes()).take_while(|(a, b)| a == b).count());
    }
    first[..end].to_string()
}
