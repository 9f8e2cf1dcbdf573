//! The dashboard's state and `update(Action) -> Vec<Command>`: pure, no terminal and no network,
//! so every key and event is testable. Network work happens in tasks that send Actions back.
//! `App` holds every concern's state; each concern's keys and answers live in a module of its own
//! (table, details, jobs, runs, accounts, activity, command_line, dialog, run_control); this file dispatches.

use super::activity::Activity;
use super::filter::TextFilter;
use super::full::{FullFacts, FullListing};
use super::keys::{KeyAction, KeyMap};
use super::table::RowsKey;
use crate::batch::{ApiVersion, Pool, PoolNodeCounts, PoolSummary};
use crate::definition::Definition;
use crate::definition::plan::{Action as PlanAction, Plan};
use crate::rollout::policy::RunChoices;
use crate::rollout::report::PoolStatus;
use crate::rollout::step::Step;
use crate::rollout::strategy::Strategy;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

pub use super::accounts::AccountView;
pub use super::columns::Column;
pub use super::command_line::COMMANDS;
pub use super::details::DetailTab;
pub use super::dialog::Dialog;
pub use super::jobs::{JobsView, TasksView};
pub use super::messages::{Action, Command};
pub use super::node_actions::{NodesView, OUTPUT_TAIL, StartTaskOutput};
pub use super::pool_actions::{AutoscaleForm, PoolForm, ResizeForm};
pub use super::runs::{RunPoolSummary, RunSummary};

/// What fills the screen between the header and the status line.
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
    /// What runs on a pool: its jobs, then a job's tasks (`App::jobs`).
    Jobs,
}

/// A step's mark in the run panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepState {
    Done,
    Skipped,
    Running,
    Failed,
}

/// A pool's line in the run panel: its steps, the one running and since when, how it ended.
#[derive(Clone, Debug, Default)]
pub struct PoolRunView {
    pub steps: BTreeMap<Step, StepState>,
    pub current: Option<Step>,
    pub step_started: Option<jiff::Timestamp>,
    pub status: Option<PoolStatus>,
    pub last_event: String,
}

/// The header's facts about the account shown (`:ctx` replaces them with another account's).
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

/// Everything the dashboard shows and remembers. It changes through `update`, except what the
/// view measures while drawing (rows per page, the table's first visible row, the details' length).
pub struct App {
    pub identity: Identity,
    pub keys: KeyMap,
    pub definition: Option<Arc<Definition>>,
    pub api_version: ApiVersion,
    /// This machine's clock (refresh ages, step timers, log times).
    pub now: jiff::Timestamp,
    /// How far the account's clock is ahead of this machine's, from its answers' `Date`.
    pub skew: jiff::SignedDuration,
    pub pools: Vec<PoolSummary>,
    pub node_counts: HashMap<String, PoolNodeCounts>,
    /// Definition vs live, from the last full listing (a pool's entry again when its details open).
    pub plan: Option<Plan>,
    /// Full pool bodies by lower-cased id, of the pools whose details were opened: a large
    /// account's full listing is read for the plan and the facts below, not kept.
    pub full_pools: HashMap<String, Pool>,
    /// What the table shows from full bodies, made once when they arrive (lower-cased id).
    pub full_facts: HashMap<String, FullFacts>,
    /// Bumped whenever what the rows are made of changed (pools, node counts, plan, ghosts).
    pub(super) generation: u64,
    /// The rows as last made, and of what (see `App::rows`).
    pub(super) rows_cache: RefCell<Option<(RowsKey, Rc<[usize]>)>>,
    pub last_refresh: Option<jiff::Timestamp>,
    pub refresh_error: Option<String>,
    pub listing: bool,
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
    /// The jobs view open (Screen::Jobs), with its answers.
    pub jobs: Option<JobsView>,
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
    /// How many rows at the front of `pools` the last listing gave (ghost rows follow).
    pub listed_rows: usize,
    pub status: Option<String>,
    pub spinner: usize,
    pub dirty: bool,
    pub quit: bool,
    /// What a new run starts with (from the config) and which of them the dialog has in focus.
    pub choices: RunChoices,
    pub choice_focus: usize,
}

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
            full_facts: HashMap::new(),
            generation: 0,
            rows_cache: RefCell::new(None),
            last_refresh: None,
            refresh_error: None,
            listing: false,
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
            jobs: None,
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
            listed_rows: 0,
            status: None,
            spinner: 0,
            dirty: true,
            quit: false,
            choices: RunChoices::default(),
            choice_focus: 0,
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

    pub(super) fn say(&mut self, text: impl Into<String>) {
        self.status = Some(text.into());
    }

    pub fn update(&mut self, action: Action) -> Vec<Command> {
        // A tick only redraws when a visible clock moved (ages change each second, the spinner
        // and run timers while busy): an idle dashboard costs next to nothing.
        self.dirty |= match &action {
            Action::Tick(now) => now.as_second() != self.now.as_second() || self.listing || self.run_active,
            // Calls show in the activity log; elsewhere only a moved account clock shows.
            Action::Api(_) => self.screen == Screen::Log,
            // An unchanged listing changes nothing on screen (`on_refreshed` says when it does,
            // as `dispatch` does for node counts).
            Action::Refreshed(_) | Action::RefreshedSame | Action::NodeCounts(_) => false,
            _ => true,
        };
        // Rows are made again only when what they are made of may have changed; listings say
        // themselves what they changed.
        let unchanging = matches!(
            action,
            Action::Tick(_)
                | Action::Api(_)
                | Action::Listing(_)
                | Action::Resized
                | Action::Key(_)
                | Action::Refreshed(_)
                | Action::RefreshedSame
                | Action::PoolsPage(_)
                | Action::NodeCounts(_)
        );
        let commands = self.dispatch(action);
        if !unchanging {
            self.generation += 1;
        }
        commands
    }

    fn dispatch(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Key(key) => return self.on_key(key),
            Action::Tick(now) => {
                self.now = now;
                if self.listing {
                    self.spinner = self.spinner.wrapping_add(1);
                }
            }
            Action::Resized => {}
            Action::Listing(busy) => self.listing = busy,
            Action::Refreshed(result) => return self.on_refreshed(result.map(Some)),
            Action::RefreshedSame => return self.on_refreshed(Ok(None)),
            Action::NodeCounts(counts) => {
                // Asked for after every refresh: the same counts again sort and draw nothing.
                let mut changed = false;
                for c in counts {
                    let key = c.pool_id.to_lowercase();
                    if self.node_counts.get(&key) != Some(&c) {
                        self.node_counts.insert(key, c);
                        changed = true;
                    }
                }
                if changed {
                    self.dirty = true;
                    self.generation += 1;
                }
            }
            Action::FullPools(result) => self.on_full_pools(result),
            Action::FullPool { pool, result } => self.on_full_pool(pool, result),
            Action::PoolsPage(page) => self.on_page(page),
            Action::Api(event) => self.on_api_event(event),
            Action::Progress(progress) => return self.on_progress(progress),
            Action::RunStarted { run, pools, warnings, strategies, finished } => {
                for warning in warnings {
                    self.log(format!("preflight warning: {warning}"), true);
                }
                self.on_run_started(run, pools, strategies, finished);
            }
            Action::Runs(runs) => self.on_runs(runs),
            Action::Nodes { pool, result } => self.on_nodes(pool, result),
            Action::Called { call, result } => return self.on_called(call, result),
            Action::Jobs { pool, result } => self.on_jobs(pool, result),
            Action::Tasks { job, result } => self.on_tasks(job, result),
            Action::Note(text) => {
                self.log(text.clone(), true);
                self.say(text);
            }
            Action::Said(text) => {
                self.log(text.clone(), false);
                self.say(text);
            }
            Action::Switched(result) => match result {
                Ok(view) => return self.switch_to(*view),
                Err(e) => {
                    self.log(format!("cannot switch account: {e}"), true);
                    self.say(format!("cannot switch account: {e}"));
                }
            },
            Action::LossesFound { command, losses } => self.ask_accept_losses(command, losses),
            Action::Proposed(view) => self.on_proposed(*view),
            Action::RunEnded(result) => {
                self.run_active = false;
                match result {
                    Ok(summary) => self.say(summary),
                    Err(e) => {
                        self.log(format!("run failed to start: {e}"), true);
                        self.say(e);
                    }
                }
                return vec![Command::Refresh, Command::RefreshFull];
            }
        }
        vec![]
    }

    /// The full listing, reduced (plans, the table's facts): the plan against the definition is
    /// made again; bodies of pools that are not defined are not kept.
    fn on_full_pools(&mut self, result: Result<FullListing, String>) {
        match result {
            Ok(listing) => {
                if let Some(definition) = &self.definition {
                    let mut plan = Plan::new(definition, &listing.defined, &[], self.api_version);
                    plan.not_in_definition = listing.others;
                    if self.status.as_deref() == Some("planning: listing full pools…") {
                        let changed = plan.pools.iter().filter(|p| p.action != PlanAction::Unchanged).count();
                        self.status = Some(format!(
                            "plan: {changed} of {} defined pool(s) differ; enter shows a pool's changes",
                            plan.pools.len()
                        ));
                    }
                    self.plan = Some(plan);
                }
                self.full_facts = listing.facts;
                self.full_pools = listing.defined.into_iter().map(|p| (p.id().to_lowercase(), p)).collect();
            }
            Err(e) => self.log(format!("listing full pools failed: {e}"), true),
        }
    }

    /// One pool's full body: kept for its details, its facts and its plan made again.
    fn on_full_pool(&mut self, id: String, result: Result<Box<Pool>, String>) {
        let pool = match result {
            Ok(pool) => *pool,
            Err(e) => return self.log(format!("reading pool {id} failed: {e}"), true),
        };
        let key = id.to_lowercase();
        let listing = FullListing::of(vec![pool.clone()], self.definition.as_deref());
        match listing.facts.into_values().next() {
            Some(facts) => self.full_facts.insert(key.clone(), facts),
            None => self.full_facts.remove(&key),
        };
        if let (Some(plan), Some(definition)) = (self.plan.as_mut(), self.definition.as_deref())
            && let Some(defined) = definition.pool(&id)
            && let Some(entry) = plan.pools.iter_mut().find(|p| p.id.eq_ignore_ascii_case(&id))
        {
            *entry = crate::definition::plan::plan_pool(defined, &pool, self.api_version);
        }
        self.full_pools.insert(key, pool);
    }

    /// Facts from pool `id`'s full body, if it has any.
    pub fn facts(&self, id: &str) -> Option<&FullFacts> {
        self.full_facts.get(&id.to_lowercase())
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
            self.on_filter_key(key.code);
            return vec![];
        }
        if self.log.filter_editing {
            self.on_log_filter_key(key.code);
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
            Screen::Jobs => self.on_jobs_key(action),
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

    /// `p` and `:plan`: the plan is made from a fresh full listing.
    pub(super) fn plan(&mut self) -> Vec<Command> {
        if self.definition.is_none() {
            self.say("no pool definition loaded: start with --definition FILE");
            return vec![];
        }
        self.say("planning: listing full pools…");
        vec![Command::RefreshFull]
    }

    /// `q`, ctrl-c and `:quit`: asks first while a run acts or a pool is deleted.
    pub(super) fn request_quit(&mut self) -> Vec<Command> {
        let gone = self.ghost_ids();
        if self.run_active || !gone.is_empty() {
            self.dialog = Some(Dialog::Quit { running: self.run_active, gone });
            return vec![];
        }
        self.quit = true;
        vec![Command::Quit]
    }
}
