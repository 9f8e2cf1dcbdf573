//! Starting, stepping through, resuming and abandoning runs from the dashboard: what each key
//! proposes, the typed confirmations, and how the engine's progress is shown.

use super::app::{App, Command, StepState};
use super::keys::KeyAction;
use crate::rollout::engine::Progress;
use crate::rollout::journal::StepOutcome;
use crate::rollout::report::{PoolStatus, RunStatus};
use crate::rollout::step::Step;
use crate::rollout::strategy::Strategy;
use std::collections::BTreeMap;

impl App {
    /// The run panel shows this run's pools only, with the steps an earlier execution of the run
    /// finished already marked done.
    pub(super) fn on_run_started(
        &mut self,
        run: String,
        pools: Vec<String>,
        strategies: BTreeMap<String, Strategy>,
        finished: BTreeMap<String, Step>,
    ) {
        self.run_id = Some(run);
        self.run_pools = pools.iter().map(|p| p.to_lowercase()).collect();
        self.strategies = strategies.into_iter().map(|(id, s)| (id.to_lowercase(), s)).collect();
        let current = self.run_pools.clone();
        self.run.retain(|id, _| current.contains(&id.to_lowercase()));
        for (pool, last) in finished {
            let strategy = self.strategy_of(&pool);
            let chain = if last.is_rollback() { strategy.rollback() } else { strategy.chain() };
            let view = self.run.entry(pool).or_default();
            for &step in chain.iter().take_while(|&&s| s != last).chain([&last]) {
                view.steps.entry(step).or_insert(StepState::Done);
            }
        }
    }

    pub(super) fn on_progress(&mut self, progress: Progress) -> Vec<Command> {
        match progress {
            Progress::StepStarted { pool, step } => {
                if step == Step::Delete {
                    self.gone.insert(pool.to_lowercase(), pool.clone());
                }
                let view = self.run.entry(pool.clone()).or_default();
                view.status = None;
                view.steps.insert(step, StepState::Running);
                view.current = Some(step);
                view.step_started = Some(self.now);
                view.last_event = format!("{step} …");
                self.log(format!("{pool}: {step} started"), false);
            }
            Progress::StepFinished { pool, step, outcome, detail, elapsed } => {
                if step == Step::Create {
                    self.gone.remove(&pool.to_lowercase());
                    self.ghosts.remove(&pool.to_lowercase());
                }
                let view = self.run.entry(pool.clone()).or_default();
                view.steps
                    .insert(step, if outcome == StepOutcome::Skipped { StepState::Skipped } else { StepState::Done });
                view.last_event = detail.clone().unwrap_or_else(|| outcome.name().to_string());
                self.log(
                    format!(
                        "{pool}: {step} {} in {:.1}s{}",
                        outcome.name(),
                        elapsed.as_secs_f64(),
                        detail.map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                    false,
                );
            }
            Progress::Waiting { pool, detail, .. } => {
                self.run.entry(pool).or_default().last_event = detail;
            }
            Progress::PoolFinished { pool, status, error } => {
                let view = self.run.entry(pool.clone()).or_default();
                if status == PoolStatus::Failed
                    && let Some(step) = view.current
                {
                    view.steps.insert(step, StepState::Failed);
                }
                view.status = Some(status);
                if let Some(e) = &error {
                    view.last_event = e.clone();
                }
                if status == PoolStatus::Paused {
                    let (next, resume) = (self.keys.label(KeyAction::NextStep), self.keys.label(KeyAction::Resume));
                    let step = self.next_step(&pool);
                    self.run.entry(pool.clone()).or_default().last_event =
                        format!("next: {step} ({next} runs it, {resume} resumes the rest)");
                }
                self.log(
                    format!("{pool}: {}{}", status.name(), error.map(|e| format!(": {e}")).unwrap_or_default()),
                    status == PoolStatus::Failed,
                );
            }
            Progress::RunFinished { run, status } => {
                self.log(format!("run {run} {}", status.name()), status == RunStatus::Failed);
            }
        }
        vec![]
    }

    /// The step a pool runs next in this dashboard's step-through (a recreated pool starts over).
    pub fn next_step(&self, id: &str) -> Step {
        let strategy = self.strategy_of(id);
        let Some(view) = self.run.get(id).filter(|v| !v.status.is_some_and(PoolStatus::is_done)) else {
            return strategy.first();
        };
        match view.steps.iter().next_back() {
            Some((last, StepState::Failed | StepState::Running)) => *last,
            Some((last, _)) => strategy.next(*last).unwrap_or(strategy.first()),
            None => strategy.first(),
        }
    }

    /// How this dashboard's run changes pool `id` (recreate unless it said otherwise).
    pub fn strategy_of(&self, id: &str) -> Strategy {
        self.strategies.get(&id.to_lowercase()).copied().unwrap_or_default()
    }

    /// Why a mutating action is not allowed right now, if it is not.
    pub(super) fn refuse_mutation(&self) -> Option<String> {
        if let Some(why) = self.refuse_change() {
            return Some(why);
        }
        self.definition.is_none().then(|| "no pool definition loaded: start with --definition FILE".into())
    }

    /// Why no run may start now, a definition aside (heal needs none).
    fn refuse_change(&self) -> Option<String> {
        if self.identity.readonly {
            return Some("READ-ONLY: started with --readonly (or readonly = true); nothing may be changed".into());
        }
        self.run_active.then(|| "a run is active: wait for it or cancel it with c".into())
    }

    /// `n` (one step) or `R` (the whole recreation, always a new run) on what is on screen.
    pub(super) fn start(&mut self, one_step: bool) -> Vec<Command> {
        if let Some(why) = self.refuse_mutation() {
            self.say(why);
            return vec![];
        }
        let ids = self.targets();
        if ids.is_empty() {
            self.say("no pool selected");
            return vec![];
        }
        let definition = self.definition.as_ref().expect("checked");
        if let Some(missing) = ids.iter().find(|id| definition.pool(id).is_none()) {
            self.say(format!("'{missing}' is not in the definition: repool only recreates pools it can create again"));
            return vec![];
        }
        // `n` continues this dashboard's run while it holds every target; otherwise a new run.
        let ours = one_step
            && self.run_id.is_some()
            && ids.iter().all(|id| {
                self.run_pools.contains(&id.to_lowercase())
                    && self.run.get(id).is_none_or(|v| !v.status.is_some_and(PoolStatus::is_done))
            });
        // A pool an unfinished run holds takes no new run: `n` continues that run, `R` offers to resume it.
        let held = if ours { None } else { self.runs.iter().position(|r| r.holds_any(&ids)) };
        if let Some(index) = held
            && !(one_step && ids.iter().all(|id| self.runs[index].resumes_at(id).is_some()))
        {
            let run = self.runs[index].id.clone();
            self.ask_resume(index);
            self.say(format!(
                "{} belong(s) to unfinished run {run}: resume it here, or abandon it in the runs view ({})",
                ids.join(", "),
                self.keys.label(KeyAction::Runs)
            ));
            return vec![];
        }
        let steps: Vec<(String, Step)> = ids
            .iter()
            .map(|id| {
                let step = match held {
                    _ if ours => self.next_step(id),
                    Some(index) => self.runs[index].resumes_at(id).unwrap_or(Step::DisableAutoscale),
                    None => Step::DisableAutoscale,
                };
                (id.clone(), step)
            })
            .collect();
        let destructive = steps.iter().any(|(_, s)| matches!(s, Step::ResizeToZero | Step::Delete));
        let run = if ours { self.run_id.clone() } else { held.map(|i| self.runs[i].id.clone()) };
        let new_run = run.is_none();
        let choices = new_run.then(|| self.choices.clone());
        let command = Command::Run { run, pools: ids.clone(), one_step, choices };
        if command.is_proposal() {
            return self.propose(command);
        }
        let listed: Vec<String> = steps.iter().map(|(id, step)| format!("{id}: {step}")).collect();
        if !destructive {
            self.begin(&command);
            self.say(format!("running {}", listed.join(", ")));
            return vec![command];
        }
        let expected = if ids.len() == 1 { ids[0].clone() } else { "recreate".to_string() };
        self.confirm("Run the next step (destructive)", listed, expected, command);
        vec![]
    }

    /// A new run is planned and checked by the run driver first; its confirmation follows
    /// (`Action::Proposed`).
    pub(super) fn propose(&mut self, command: Command) -> Vec<Command> {
        let pools = match &command {
            Command::Run { pools, .. }
            | Command::Apply { pools, .. }
            | Command::Heal { pools, .. }
            | Command::RefreshNodes { pools, .. } => pools.join(", "),
            _ => String::new(),
        };
        self.choice_focus = 0;
        self.say(format!("checking {pools}: plan and preflight against the account…"));
        vec![command]
    }

    /// The run driver's proposal, confirmed by typing; its choices can still change.
    pub(super) fn on_proposed(&mut self, view: super::proposal::ProposalView) {
        self.confirm(view.title, view.lines, view.expected, view.start);
    }

    /// `:apply`: a new run bringing the marked, selected or shown pools to their definition the
    /// least disruptive way; the confirmation says which way for each and why.
    pub(super) fn start_apply(&mut self) -> Vec<Command> {
        if let Some(why) = self.refuse_mutation() {
            self.say(why);
            return vec![];
        }
        let Some(plan) = &self.plan else {
            self.say("no plan yet: wait for the pools' properties to load (p plans now)");
            return vec![];
        };
        let ids = self.targets();
        let mut unchanged = 0;
        for id in &ids {
            let Some(pool) = plan.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id)) else {
                self.say(format!("'{id}' is not in the definition: repool only changes pools it defines"));
                return vec![];
            };
            unchanged += usize::from(Strategy::choose(pool).strategy.is_none());
        }
        // The proposal decides against the account as it is now; this only spares it pools the
        // dashboard's last look found unchanged, every one.
        if unchanged == ids.len() {
            self.say(format!("nothing to apply: the {unchanged} chosen pool(s) match their definition"));
            return vec![];
        }
        self.propose(Command::Apply { pools: ids, choices: self.choices.clone() })
    }

    /// `H` (`:heal`): a new run bringing the failed nodes of the marked, selected or shown pools
    /// back; the proposal (which nodes, how many at once) is confirmed by typing.
    pub(super) fn start_heal(&mut self) -> Vec<Command> {
        self.start_on_nodes(|pools, choices| Command::Heal { pools, choices })
    }

    /// `:refresh`: a new run replacing every node of the marked, selected or shown pools a batch
    /// at a time; confirmed by typing like the others.
    pub(super) fn start_refresh(&mut self) -> Vec<Command> {
        self.start_on_nodes(|pools, choices| Command::RefreshNodes { pools, choices })
    }

    /// A run on the targets' nodes (no definition needed), proposed.
    fn start_on_nodes(
        &mut self,
        command: fn(Vec<String>, crate::rollout::policy::RunChoices) -> Command,
    ) -> Vec<Command> {
        if let Some(why) = self.refuse_change() {
            self.say(why);
            return vec![];
        }
        let ids = self.targets();
        if ids.is_empty() {
            self.say("no pool selected");
            return vec![];
        }
        self.propose(command(ids, self.choices.clone()))
    }

    /// `u`: what each pool of the chosen unfinished run will do, confirmed by typing `resume`.
    pub(super) fn ask_resume(&mut self, index: usize) -> Vec<Command> {
        if let Some(why) = self.refuse_mutation() {
            self.say(why);
            return vec![];
        }
        let Some(run) = self.runs.get(index) else {
            self.say("no unfinished run to resume");
            return vec![];
        };
        let mut lines: Vec<String> = run
            .pools
            .iter()
            .map(|p| {
                let next =
                    p.resumes_at.map(|s| format!(" → resumes at {s}")).unwrap_or_else(|| " → nothing left".into());
                let alarm = if p.gone { "  ⚠ deleted, not yet recreated" } else { "" };
                format!("{}: {}{next}{alarm}", p.id, p.state)
            })
            .collect();
        if !run.differs.is_empty() {
            lines.push(String::new());
            lines.push("The definition in use differs for these pools; resume creates what the run recorded:".into());
            lines.extend(run.differs.iter().map(|d| format!("  {d}")));
            lines.push(
                "To create from the edited definition instead: abandon this run (U, x) and start a new one.".into(),
            );
        }
        let (title, command) = (format!("Resume run {}", run.id), Command::Resume(run.id.clone()));
        self.confirm(title, lines, "resume", command);
        vec![]
    }

    /// Preflight refused a new run for properties its pools would lose: each is named, and typing
    /// `accept` starts the run again accepting exactly these (as `--accept-loss` would).
    pub(super) fn ask_accept_losses(&mut self, mut command: Command, losses: Vec<(String, String)>) {
        let Some((choices, _)) = command.choices_mut() else { return };
        let mut lines = vec!["Preflight: the new pools would not have these properties of the live ones:".to_string()];
        for (pool, property) in &losses {
            lines.push(format!("  {pool}: {property}"));
            if !choices.accept_loss.contains(property) {
                choices.accept_loss.push(property.clone());
            }
        }
        lines.push("The activity log (l) says why each matters. Nothing was changed.".into());
        lines.push("Accept losing them and start the run?".into());
        self.confirm("Accept what the new pools lose", lines, "accept", command);
    }

    pub(super) fn ask_abandon(&mut self) {
        if let Some(why) = self.refuse_mutation() {
            self.say(why);
            return;
        }
        let Some(run) = self.runs.get(self.runs_selected) else {
            self.say("no unfinished run to abandon");
            return;
        };
        let mut lines = vec!["Its pools are left exactly as they are now:".to_string()];
        for p in &run.pools {
            lines.push(format!("{}: {}", p.id, p.state));
            if p.gone {
                lines.push(format!(
                    "  ⚠ {} is deleted and not recreated: `repool restore --pool {}` afterwards",
                    p.id, p.id
                ));
            }
        }
        let (title, command) = (format!("Abandon run {}", run.id), Command::Abandon(run.id.clone()));
        self.confirm(title, lines, "abandon", command);
    }

    /// A pool starting over from the first step gets a fresh progress track.
    pub(super) fn begin(&mut self, command: &Command) {
        match command {
            Command::Run { run: None, one_step: true, pools, .. } | Command::Start { pools, .. } => {
                self.run_active = true;
                for id in pools {
                    self.run.remove(id);
                }
            }
            Command::Run { run: Some(_), .. } | Command::Resume(_) => self.run_active = true,
            _ => {}
        }
    }
}
