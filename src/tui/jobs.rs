//! What runs on a pool, k9s' xray style (pool → jobs → tasks): the jobs bound to the pool with
//! their task counts and, from one of them, its tasks with state, node and duration. Listed when
//! the view opens and again on each refresh while it shows (one listing for the view on screen,
//! never for other pools).

use super::app::{App, Screen};
use super::details::DetailTab;
use super::keys::KeyAction;
use super::messages::Command;
use crate::batch::{JobCounts, Task};

/// The tasks of the job opened from the jobs view.
#[derive(Clone, Debug)]
pub struct TasksView {
    pub job: String,
    /// None until the first answer.
    pub tasks: Option<Result<Vec<Task>, String>>,
    pub selected: usize,
    pub at: Option<jiff::Timestamp>,
}

/// The jobs view of one pool.
#[derive(Clone, Debug)]
pub struct JobsView {
    pub pool: String,
    /// None until the first answer.
    pub jobs: Option<Result<Vec<JobCounts>, String>>,
    pub selected: usize,
    pub at: Option<jiff::Timestamp>,
    /// Open while a job's tasks show (Enter on a job; Esc closes it).
    pub tasks: Option<TasksView>,
}

impl JobsView {
    fn rows(&self) -> usize {
        match (&self.tasks, &self.jobs) {
            (Some(tasks), _) => tasks.tasks.as_ref().and_then(|t| t.as_ref().ok()).map_or(0, Vec::len),
            (None, Some(Ok(jobs))) => jobs.len(),
            _ => 0,
        }
    }

    fn selected_mut(&mut self) -> &mut usize {
        match &mut self.tasks {
            Some(tasks) => &mut tasks.selected,
            None => &mut self.selected,
        }
    }

    /// The listing this view needs now: the open job's tasks, else the pool's jobs.
    fn command(&self) -> Command {
        match &self.tasks {
            Some(tasks) => Command::TasksFor(tasks.job.clone()),
            None => Command::JobsFor(self.pool.clone()),
        }
    }
}

impl App {
    /// Opens the jobs view of pool `pool` (details' key, `:jobs POOL`).
    pub(super) fn open_jobs(&mut self, pool: String) -> Vec<Command> {
        let view = JobsView { pool, jobs: None, selected: 0, at: None, tasks: None };
        let command = view.command();
        self.jobs = Some(view);
        self.screen = Screen::Jobs;
        vec![command]
    }

    /// The listing the jobs view needs on a refresh, if it shows.
    pub(super) fn jobs_command(&self) -> Option<Command> {
        self.jobs.as_ref().filter(|_| self.screen == Screen::Jobs).map(JobsView::command)
    }

    pub(super) fn on_jobs_key(&mut self, action: KeyAction) -> Vec<Command> {
        let page = self.page_rows.max(1);
        let Some(view) = self.jobs.as_mut() else {
            self.screen = Screen::Table;
            return vec![];
        };
        let last = view.rows().saturating_sub(1);
        let selected = view.selected_mut();
        match action {
            KeyAction::Down => *selected = (*selected + 1).min(last),
            KeyAction::Up => *selected = selected.saturating_sub(1),
            KeyAction::PageDown => *selected = (*selected + page).min(last),
            KeyAction::PageUp => *selected = selected.saturating_sub(page),
            KeyAction::Top => *selected = 0,
            KeyAction::Bottom => *selected = last,
            KeyAction::Details if view.tasks.is_none() => {
                let Some(Ok(jobs)) = &view.jobs else { return vec![] };
                let Some(row) = jobs.get(view.selected) else { return vec![] };
                view.tasks = Some(TasksView { job: row.job.id.clone(), tasks: None, selected: 0, at: None });
                return vec![view.command()];
            }
            KeyAction::Back if view.tasks.is_some() => {
                view.tasks = None;
                return vec![view.command()];
            }
            KeyAction::Back => {
                let pool = view.pool.clone();
                self.jobs = None;
                return self.open_details(pool, DetailTab::Summary);
            }
            _ => self.say("jobs: j/k move, enter shows a job's tasks, esc goes back"),
        }
        vec![]
    }

    /// Only the pool whose jobs view is open keeps its answer.
    pub(super) fn on_jobs(&mut self, pool: String, result: Result<Vec<JobCounts>, String>) {
        if !self.jobs.as_ref().is_some_and(|v| v.pool.eq_ignore_ascii_case(&pool)) {
            return;
        }
        if let Err(e) = &result {
            self.log(format!("listing the jobs of {pool} failed: {e}"), true);
        }
        let now = self.now;
        let Some(view) = self.jobs.as_mut() else { return };
        let rows = result.as_ref().map_or(0, Vec::len);
        view.selected = view.selected.min(rows.saturating_sub(1));
        view.jobs = Some(result);
        view.at = Some(now);
    }

    /// Only the job whose tasks show keeps its answer.
    pub(super) fn on_tasks(&mut self, job: String, result: Result<Vec<Task>, String>) {
        let open = self.jobs.as_ref().and_then(|v| v.tasks.as_ref()).is_some_and(|t| t.job == job);
        if !open {
            return;
        }
        if let Err(e) = &result {
            self.log(format!("listing the tasks of job {job} failed: {e}"), true);
        }
        let now = self.now;
        let Some(tasks) = self.jobs.as_mut().and_then(|v| v.tasks.as_mut()) else { return };
        let rows = result.as_ref().map_or(0, Vec::len);
        tasks.selected = tasks.selected.min(rows.saturating_sub(1));
        let result = result.map(|mut listed| {
            listed.sort_by_key(attention);
            listed
        });
        tasks.tasks = Some(result);
        tasks.at = Some(now);
    }
}

/// What an operator looks for first among thousands of tasks: running, then waiting, then
/// failed, then the rest (the service's order within each).
fn attention(task: &Task) -> u8 {
    use crate::batch::models::TaskState;
    match &task.state {
        Some(TaskState::Running) => 0,
        Some(TaskState::Preparing) => 1,
        Some(TaskState::Active) => 2,
        _ if task.failed() => 3,
        _ => 4,
    }
}
