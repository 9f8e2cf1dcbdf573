//! What the dashboard is told (`Action`: keys, ticks, answers, a run's progress) and what it asks
//! the runtime to do (`Command`); `App::update` turns one into the other.

use super::accounts::AccountView;
use super::calls::{Answer, Call};
use super::full::FullListing;
use super::proposal::ProposalView;
use super::runs::RunSummary;
use crate::batch::{ApiEvent, JobCounts, Node, Pool, PoolNodeCounts, PoolSummary, Task};
use crate::rollout::engine::Progress;
use crate::rollout::policy::RunChoices;
use crate::rollout::step::Step;
use crate::rollout::strategy::Strategy;
use crossterm::event::KeyEvent;
use std::collections::BTreeMap;

/// Everything that can happen to the dashboard.
#[derive(Clone, Debug)]
pub enum Action {
    Key(KeyEvent),
    /// A visible clock ticks (refresh age, elapsed times, spinner).
    Tick(jiff::Timestamp),
    Resized,
    /// Whether the account's poller is listing pools (the spinner).
    Listing(bool),
    /// The whole listing of a refresh (summary properties).
    Refreshed(Result<Vec<PoolSummary>, String>),
    /// A refresh listed the very pools of the last `Refreshed` (the poller saw the same bytes):
    /// nothing to copy, sort or compare.
    RefreshedSame,
    /// A page of the account's first listing, as it arrives: shown at once, the rest merged.
    PoolsPage(Vec<PoolSummary>),
    NodeCounts(Vec<PoolNodeCounts>),
    /// The full listing reduced: for the definition status column, the plan and the table's facts.
    FullPools(Result<FullListing, String>),
    /// One pool's full body (its details are open, or a call just changed it).
    FullPool {
        pool: String,
        result: Result<Box<Pool>, String>,
    },
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
    /// A new run was planned and checked against the account: its confirmation.
    Proposed(Box<ProposalView>),
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
    /// A single call's answer (node action, resize, autoscale, start task output).
    Called {
        call: Call,
        result: Result<Answer, String>,
    },
    /// The jobs bound to the pool whose jobs view is open, with their task counts.
    Jobs {
        pool: String,
        result: Result<Vec<JobCounts>, String>,
    },
    /// The tasks of the job open in the jobs view.
    Tasks {
        job: String,
        result: Result<Vec<Task>, String>,
    },
    /// Something the runtime did for a key (a file written), for the status line.
    Said(String),
    /// A warning or error the program would have written to stderr (see `output::divert_notes`).
    Note(String),
    /// The dashboard now shows another account (`:ctx`), or could not switch.
    Switched(Result<Box<AccountView>, String>),
}

/// What the runtime should do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Refresh,
    /// The full listing, for the plan and the table's facts.
    RefreshFull,
    /// One pool's full body.
    FullPool(String),
    NodeCountsFor(Vec<String>),
    /// Propose a new run for `pools` (`run` None; its confirmation follows as `Action::Proposed`,
    /// but for one step, which starts at once) or continue run `run` for them; `one_step`: each
    /// pool runs only the step it is at.
    Run {
        run: Option<String>,
        pools: Vec<String>,
        one_step: bool,
        /// A new run's canary, bound, rollback, probe and accepted losses (a continued run keeps its own).
        choices: Option<RunChoices>,
    },
    /// Propose a new `apply` run for `pools`: each the least disruptive way its plan allows.
    Apply {
        pools: Vec<String>,
        choices: RunChoices,
    },
    /// Propose a new `heal` run for `pools`: their failed nodes rebooted or replaced.
    Heal {
        pools: Vec<String>,
        choices: RunChoices,
    },
    /// Propose a new `refresh` run for `pools`: every node replaced a batch at a time.
    RefreshNodes {
        pools: Vec<String>,
        choices: RunChoices,
    },
    /// Start the proposed run, confirmed, with these choices.
    Start {
        pools: Vec<String>,
        choices: RunChoices,
    },
    /// The proposed run's confirmation was dismissed: nothing starts.
    DropProposal,
    /// Resume every pool with work left in this run (creating what the run recorded).
    Resume(String),
    /// Close this run without touching its pools.
    Abandon(String),
    Cancel,
    /// Make one operator call (not a run); its answer comes back as `Action::Called`.
    Call(Call),
    /// List the nodes of this pool (details, nodes tab).
    NodesFor(String),
    /// List the jobs bound to this pool and their task counts (jobs view).
    JobsFor(String),
    /// List this job's tasks (jobs view).
    TasksFor(String),
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
    /// A new run that the run driver plans and checks before the operator confirms it.
    pub fn is_proposal(&self) -> bool {
        matches!(
            self,
            Command::Run { run: None, one_step: false, .. }
                | Command::Apply { .. }
                | Command::Heal { .. }
                | Command::RefreshNodes { .. }
        )
    }

    /// A new run's choices, shown and changed in its confirmation.
    pub fn choices(&self) -> Option<&RunChoices> {
        match self {
            Command::Run { choices: Some(choices), .. }
            | Command::Apply { choices, .. }
            | Command::Heal { choices, .. }
            | Command::RefreshNodes { choices, .. }
            | Command::Start { choices, .. } => Some(choices),
            _ => None,
        }
    }

    /// The choices to change, and how many pools the run has (the canary's bound).
    pub(super) fn choices_mut(&mut self) -> Option<(&mut RunChoices, usize)> {
        match self {
            Command::Run { choices: Some(choices), pools, .. }
            | Command::Apply { choices, pools }
            | Command::Heal { choices, pools }
            | Command::RefreshNodes { choices, pools }
            | Command::Start { choices, pools } => Some((choices, pools.len())),
            _ => None,
        }
    }
}
