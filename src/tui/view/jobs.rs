//! The jobs view: a pool's jobs with their task counts, or one job's tasks with state, node and
//! duration. Every text from the account is escaped; only the rows that fit are built.

use super::super::app::{App, JobsView, TasksView};
use super::super::keys::KeyAction;
use super::super::theme::Theme;
use crate::batch::TaskState;
use crate::output::{age, escape};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    // Border, heading and column names take four rows.
    let capacity = (area.height as usize).saturating_sub(4).max(1);
    app.page_rows = capacity;
    let Some(view) = app.jobs.as_ref() else { return };
    let pool = escape(&view.pool).into_owned();
    let (back, enter) = (app.keys.label(KeyAction::Back), app.keys.label(KeyAction::Details));
    let (title, lines) = match &view.tasks {
        Some(tasks) => {
            let title = format!(" tasks of job {} on {pool} ({back} back to its jobs) ", escape(&tasks.job));
            (title, task_lines(app, tasks, capacity, area.width as usize, theme))
        }
        None => {
            (format!(" jobs on {pool} ({enter} a job's tasks · {back} back) "), job_lines(app, view, capacity, theme))
        }
    };
    let block = Block::bordered().title(title).border_style(Style::new().fg(theme.dim));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Rows in columns as wide as their widest cell; the selected row highlighted, the window
/// scrolled so it shows.
fn table<'a>(
    header: &[&str],
    rows: Vec<(Vec<String>, bool)>,
    selected: usize,
    capacity: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let columns = header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|(r, _)| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            text.push_str(&format!("{cell:<width$}  "));
        }
        text.trim_end().to_string()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut lines = vec![Line::from(Span::styled(format!("  {}", line(&header)), Style::new().fg(theme.accent)))];
    let first = (selected + 1).saturating_sub(capacity);
    for (i, (cells, bad)) in rows.iter().enumerate().skip(first).take(capacity) {
        let chosen = i == selected;
        let mut style = if *bad { Style::new().fg(theme.bad) } else { Style::new() };
        if chosen {
            style = style.bg(theme.selected).add_modifier(Modifier::BOLD);
        }
        lines.push(Line::from(Span::styled(format!("{} {}", if chosen { "▶" } else { " " }, line(cells)), style)));
    }
    lines
}

fn job_lines<'a>(app: &App, view: &JobsView, capacity: usize, theme: &Theme) -> Vec<Line<'a>> {
    let jobs = match &view.jobs {
        None => return vec![Line::from("listing jobs…")],
        Some(Err(e)) => {
            return vec![Line::from(Span::styled(
                format!("cannot list jobs: {}", escape(e)),
                Style::new().fg(theme.bad),
            ))];
        }
        Some(Ok(jobs)) if jobs.is_empty() => return vec![Line::from("no job runs on this pool")],
        Some(Ok(jobs)) => jobs,
    };
    let listed = view.at.map(|at| format!(", listed {} ago", age(app.now, at))).unwrap_or_default();
    let mut lines = vec![Line::from(format!("{} job(s) bound to the pool{listed}", jobs.len()))];
    let rows = jobs
        .iter()
        .map(|row| {
            let count =
                |n: fn(&crate::batch::TaskCounts) -> u64| row.counts.as_ref().map_or("?".into(), |c| n(c).to_string());
            let state = row.job.state.as_ref().map_or("?".into(), |s| escape(s.as_str()).into_owned());
            let cells = vec![
                escape(&row.job.id).into_owned(),
                state,
                count(|c| c.active),
                count(|c| c.running),
                count(|c| c.completed),
                count(|c| c.failed),
            ];
            (cells, row.counts.is_some_and(|c| c.failed > 0))
        })
        .collect();
    let header = ["JOB", "STATE", "ACTIVE", "RUNNING", "COMPLETED", "FAILED"];
    lines.extend(table(&header, rows, view.selected, capacity, theme));
    lines
}

fn task_lines<'a>(app: &App, view: &TasksView, capacity: usize, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let tasks = match &view.tasks {
        None => return vec![Line::from("listing tasks…")],
        Some(Err(e)) => {
            return vec![Line::from(Span::styled(
                format!("cannot list tasks: {}", escape(e)),
                Style::new().fg(theme.bad),
            ))];
        }
        Some(Ok(tasks)) if tasks.is_empty() => return vec![Line::from("the job has no task")],
        Some(Ok(tasks)) => tasks,
    };
    let now = app.account_now();
    let running = tasks.iter().filter(|t| t.state == Some(TaskState::Running)).count();
    let listed = view.at.map(|at| format!(", listed {} ago", age(app.now, at))).unwrap_or_default();
    let mut lines = vec![Line::from(format!("{} task(s), {running} running{listed}", tasks.len()))];
    // Only the rows that fit are built: a job may have thousands of tasks.
    let first = (view.selected + 1).saturating_sub(capacity);
    let shown = || tasks.iter().skip(first).take(capacity);
    // Node ids are shortened only when whole ones and the other columns (about 60 cells) do not fit.
    let longest = shown().filter_map(|t| t.node()).map(|n| n.chars().count()).max().unwrap_or(0);
    let node_id = |id: &str| {
        let id = escape(id).into_owned();
        if longest + 60 > width { super::nodes::short_id(&id) } else { id }
    };
    let rows = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            if i < first || i >= first + capacity {
                return (vec![String::new(); 5], false);
            }
            let info = task.execution_info.as_ref();
            let state = task.state.as_ref().map_or("?".into(), |s| escape(s.as_str()).into_owned());
            let duration = task.duration(now).map(|d| span(d.as_secs() as i64)).unwrap_or("·".into());
            let exit = match info.and_then(|i| i.exit_code) {
                Some(code) => code.to_string(),
                None if task.failed() => "ended".into(),
                None => "·".into(),
            };
            let node = task.node().map_or("·".into(), node_id);
            (vec![escape(&task.id).into_owned(), state, node, duration, exit], task.failed())
        })
        .collect();
    lines.extend(table(&["TASK", "STATE", "NODE", "DURATION", "EXIT"], rows, view.selected, capacity, theme));
    lines
}

/// "45s", "12m", "3h", "2d".
fn span(secs: i64) -> String {
    age(jiff::Timestamp::from_second(secs).unwrap_or_default(), jiff::Timestamp::UNIX_EPOCH)
}
