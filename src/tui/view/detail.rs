//! A pool's details in sections (summary, plan, nodes, JSON), each scrolled on its own.

use super::super::app::{App, DetailTab, StepState};
use super::super::columns::{RETIRING_MARK, retiring};
use super::super::theme::Theme;
use crate::batch::{Node, Pool};
use crate::definition::plan::ChangeKind;
use crate::output::age;
use crate::output::escape;
use crate::rollout::step::Step;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, id: &str, theme: &Theme) {
    let lines = match app.detail_tab {
        DetailTab::Summary => summary(app, id, theme),
        DetailTab::Plan => plan(app, id, theme),
        DetailTab::Nodes => nodes(app, id, area.width.saturating_sub(2) as usize, theme),
        DetailTab::Json => json(app, id),
    };
    app.detail_lines = lines.len();
    app.page_rows = area.height.saturating_sub(2).max(1) as usize;
    app.detail_scroll = app.detail_scroll.min(lines.len().saturating_sub(1));
    let mut title = vec![Span::raw(format!(" {id} "))];
    for tab in DetailTab::ALL {
        let style = if tab == app.detail_tab {
            Style::new().fg(theme.accent).add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new().fg(theme.accent)
        };
        title.push(Span::styled(format!(" {} ", tab.name()), style));
    }
    if lines.len() > app.page_rows {
        title.push(Span::raw(format!(" {}/{} ", app.detail_scroll + 1, lines.len())));
    }
    let block = Block::bordered().title(Line::from(title)).border_style(Style::new().fg(theme.dim));
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((app.detail_scroll as u16, 0)),
        area,
    );
}

fn heading<'a>(text: String, theme: &Theme) -> Line<'a> {
    Line::from(Span::styled(text, Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)))
}

fn pool<'a>(app: &'a App, id: &str) -> Option<&'a Pool> {
    app.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id))
}

fn summary<'a>(app: &App, id: &str, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    // The full body has every time; the refresh's summary is newer for counts and states.
    let full = app.full_pools.get(&id.to_lowercase());
    if let Some(pool) = pool(app, id) {
        let transition = pool.state_transition_time.or(full.and_then(|f| f.state_transition_time));
        let at =
            |t: Option<jiff::Timestamp>| t.map(|t| format!("{} ago", age(app.account_now(), t))).unwrap_or("?".into());
        lines.push(Line::from(format!(
            "state {} ({}) · allocation {} ({})",
            pool.state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
            at(transition),
            pool.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
            at(pool.allocation_state_transition_time),
        )));
        lines.push(Line::from(format!(
            "created {} · vm {} · autoscale {}",
            at(pool.creation_time),
            pool.vm_size.as_deref().unwrap_or("?"),
            if pool.autoscale() { "on" } else { "off" },
        )));
        lines.push(Line::from(format!(
            "dedicated {}/{} · low-priority {}/{}",
            pool.current_dedicated_nodes.unwrap_or(0),
            pool.target_dedicated_nodes.unwrap_or(0),
            pool.current_low_priority_nodes.unwrap_or(0),
            pool.target_low_priority_nodes.unwrap_or(0),
        )));
        let today = app.account_now().to_zoned(jiff::tz::TimeZone::UTC).date();
        for r in retiring(app, pool) {
            lines.push(Line::from(Span::styled(
                format!("{RETIRING_MARK} Batch support: {} {} ({})", r.what, r.when(today), r.source),
                Style::new().fg(theme.warn),
            )));
        }
        for error in pool.resize_errors.iter().flatten() {
            lines.push(Line::from(Span::styled(
                format!("resize error {}: {}", escape(&error.code), escape(&error.message)),
                Style::new().fg(theme.bad),
            )));
        }
    }
    if let Some(c) = app.node_counts.get(&id.to_lowercase()) {
        let (d, l) = (&c.dedicated, &c.low_priority);
        lines.push(Line::from(format!(
            "nodes: idle {} · running {} · starting {} · start task failed {} · unusable {} · leaving {}",
            d.idle + l.idle,
            d.running + l.running,
            d.starting + l.starting + d.creating + l.creating + d.waiting_for_start_task + l.waiting_for_start_task,
            d.start_task_failed + l.start_task_failed,
            d.unusable + l.unusable,
            d.leaving_pool + l.leaving_pool,
        )));
    }
    let definition = super::super::columns::definition_label(app, id);
    if !definition.is_empty() {
        lines.push(Line::from(format!("definition: {definition} (the plan section says what differs)")));
    }
    if let Some(view) = app.run.get(id) {
        lines.push(Line::from(""));
        lines.push(heading("this dashboard's run".into(), theme));
        for (step, state) in &view.steps {
            let mark = match state {
                StepState::Done => "done",
                StepState::Skipped => "skipped",
                StepState::Running => "running",
                StepState::Failed => "failed",
            };
            lines.push(Line::from(format!("  {step}: {mark}")));
        }
        if !view.last_event.is_empty() {
            lines.push(Line::from(format!("  last: {}", view.last_event)));
        }
    }
    lines
}

fn plan<'a>(app: &App, id: &str, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    if let Some(plan) = app.plan.as_ref().and_then(|p| p.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id))) {
        lines.push(heading(format!("plan: {}, {} change(s)", plan.action.name(), plan.changes.len()), theme));
        // Values on rows of their own, objects pretty-printed: JSON wraps between tokens.
        for change in &plan.changes {
            let sign = match change.kind {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                ChangeKind::Changed => "~",
            };
            lines.push(Line::from(format!("  {sign} {}  [{}]", change.path, change.apply.name())));
            for (label, value) in [("live:", &change.live), ("want:", &change.desired)] {
                let Some(value) = value else { continue };
                let text = serde_json::to_string_pretty(value).unwrap_or_default();
                for (i, row) in text.lines().enumerate() {
                    lines.push(Line::from(format!("      {} {}", if i == 0 { label } else { "     " }, escape(row))));
                }
            }
        }
    } else if app.definition.as_ref().is_some_and(|d| d.pool(id).is_none()) {
        lines.push(heading("not in the definition: repool leaves this pool alone".into(), theme));
    } else if app.definition.is_none() {
        lines.push(Line::from("no pool definition loaded: start with --definition FILE to see a plan"));
    } else {
        lines.push(Line::from("planning…"));
    }
    lines
}

/// Every node with its state and tasks; while the pool drains, which nodes still hold tasks
/// and since when come first.
fn nodes<'a>(app: &App, id: &str, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let Some(view) = app.nodes.as_ref().filter(|n| n.pool.eq_ignore_ascii_case(id)) else {
        return vec![Line::from("listing nodes…")];
    };
    let nodes = match &view.nodes {
        Ok(nodes) => nodes,
        Err(e) => return vec![Line::from(Span::styled(format!("cannot list nodes: {e}"), Style::new().fg(theme.bad)))],
    };
    // Node ids are shortened only when the whole id and the other columns (about 64 cells) do not fit.
    let longest = nodes.iter().map(|n| n.id.as_deref().unwrap_or("?").chars().count()).max().unwrap_or(0);
    let node_id = |n: &Node| {
        let id = escape(n.id.as_deref().unwrap_or("?")).into_owned();
        if longest + 64 > width { short_id(&id) } else { id }
    };
    let mut lines = Vec::new();
    let draining = app.run.get(id).is_some_and(|v| v.current == Some(Step::WaitDrained) && v.status.is_none());
    let busy: Vec<&Node> = nodes.iter().filter(|n| !n.running_tasks().is_empty()).collect();
    if draining || !busy.is_empty() {
        let title = if draining {
            format!("drain: {} of {} node(s) still run tasks", busy.len(), nodes.len())
        } else {
            format!("{} node(s) run tasks", busy.len())
        };
        lines.push(heading(title, theme));
        if draining {
            lines.push(Line::from(waits_for(&busy)));
        }
        for node in &busy {
            for task in node.running_tasks() {
                let since = task.started.map(|t| format!("for {}", age(app.account_now(), t))).unwrap_or_default();
                lines.push(Line::from(format!(
                    "  {}  {}/{}  {} {since}",
                    node_id(node),
                    task.job,
                    task.task,
                    task.state
                )));
            }
        }
        lines.push(Line::from(""));
    }
    lines.push(heading(format!("{} node(s), listed {} ago", nodes.len(), age(app.now, view.at)), theme));
    let rows: Vec<[String; 6]> = nodes
        .iter()
        .map(|n| {
            let start = match (n.start_task_exit(), n.start_task_failure()) {
                (_, Some(failure)) => failure,
                (Some(code), None) => format!("exit {code}"),
                (None, None) => "·".into(),
            };
            [
                node_id(n),
                n.state.as_ref().map(|s| s.to_string()).unwrap_or("?".into()),
                escape(n.scheduling_state.as_deref().unwrap_or("?")).into_owned(),
                format!("{}/{}", n.running_tasks_count.unwrap_or(0), n.running_task_slots_count.unwrap_or(0)),
                n.allocation_time.map(|t| age(app.account_now(), t)).unwrap_or_default(),
                [start].into_iter().chain(n.errors()).collect::<Vec<_>>().join("; "),
            ]
        })
        .collect();
    let header = ["NODE", "STATE", "SCHED", "TASKS", "AGE", "START TASK / ERRORS"].map(String::from);
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |r: &[String; 6]| {
        let mut text = String::new();
        for (i, width) in widths.iter().enumerate() {
            text.push_str(&format!("{:<width$} ", r[i]));
        }
        text.push_str(&r[5]);
        text
    };
    lines.push(Line::from(Span::styled(line(&header), Style::new().fg(theme.accent))));
    for r in &rows {
        let bad = r[5] != "·" && r[5] != "exit 0";
        let style = if bad { Style::new().fg(theme.bad) } else { Style::new() };
        lines.push(Line::from(Span::styled(line(r), style)));
    }
    lines
}

/// "waits for 3 task(s) of job(s) a, b": what the drain waits for, by job.
fn waits_for(busy: &[&Node]) -> String {
    let tasks: Vec<_> = busy.iter().flat_map(|n| n.running_tasks()).collect();
    let mut jobs: Vec<&str> = tasks.iter().map(|t| t.job.as_str()).collect();
    jobs.sort_unstable();
    jobs.dedup();
    format!("  waits for {} task(s) of job(s) {}", tasks.len(), jobs.join(", "))
}

fn json<'a>(app: &App, id: &str) -> Vec<Line<'a>> {
    let Some(full) = app.full_pools.get(&id.to_lowercase()) else {
        return vec![Line::from("loading the pool's properties…")];
    };
    let body = app.shown_body(id, full);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    text.lines().map(|l| Line::from(escape(l).into_owned())).collect()
}

/// Node ids run to 70 characters (`tvmps_<64 hex>_d`): the start and the end tell them apart.
pub(super) fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 24 {
        return id.to_string();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 8..].iter().collect();
    format!("{head}…{tail}")
}
