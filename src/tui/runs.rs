//! The runs view: the account's unfinished runs, read from the journal, and the one chosen to
//! resume or abandon.

use super::app::{App, Screen};
use super::keys::KeyAction;
use super::messages::Command;
use crate::definition::Definition;
use crate::rollout::journal::RunState;
use crate::rollout::run::differences;
use crate::rollout::step::Step;

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

impl App {
    /// The journal's unfinished runs (at start and after every run): the pools they deleted and
    /// have not created again become rows of their own.
    pub(super) fn on_runs(&mut self, runs: Vec<RunSummary>) {
        self.gone = runs
            .iter()
            .flat_map(|r| r.pools.iter().filter(|p| p.gone))
            .map(|p| (p.id.to_lowercase(), p.id.clone()))
            .collect();
        self.ghosts.retain(|id| self.gone.contains_key(id));
        self.runs = runs;
        self.runs_selected = self.runs_selected.min(self.runs.len().saturating_sub(1));
    }

    pub(super) fn on_runs_key(&mut self, action: KeyAction) -> Vec<Command> {
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
}
