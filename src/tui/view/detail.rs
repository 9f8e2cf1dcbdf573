//! A pool's details in sections (summary, plan, nodes, JSON), each scrolled on its own.

use super::super::app::{App, DetailTab, StepState};
use super::super::columns::{RETIRING_MARK, retiring};
use super::super::theme::Theme;
use crate::batch::PoolSummary;
use crate::definition::plan::ChangeKind;
use crate::output::age;
use crate::output::escape;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, id: &str, theme: &Theme) {
    let lines = match app.detail_tab {
        DetailTab::Summary => summary(app, id, theme),
        DetailTab::Plan => plan(app, id, theme),
        DetailTab::Nodes => {
            let (lines, cursor) = super::nodes::section(app, id, area.width.saturating_sub(2) as usize, theme);
            // The cursor's row stays in view.
            let page = area.height.saturating_sub(2).max(1) as usize;
            if let Some(row) = cursor {
                app.detail_scroll = app.detail_scroll.clamp(row.saturating_sub(page - 1), row);
            }
            lines
        }
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

pub(super) fn heading<'a>(text: String, theme: &Theme) -> Line<'a> {
    Line::from(Span::styled(text, Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)))
}

fn pool<'a>(app: &'a App, id: &str) -> Option<&'a PoolSummary> {
    app.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id))
}

fn summary<'a>(app: &App, id: &str, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    // The full body has every time; the refresh's summary is newer for counts and states.
    let full = app.full_pools.get(&id.to_lowercase());
    if let Some(pool) = pool(app, id) {
        let transition = full.and_then(|f| f.state_transition_time);
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

fn json<'a>(app: &App, id: &str) -> Vec<Line<'a>> {
    let Some(full) = app.full_pools.get(&id.to_lowercase()) else {
        return vec![Line::from("loading the pool's properties…")];
    };
    let body = app.shown_body(id, full);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    text.lines().map(|l| Line::from(escape(l).into_owned())).collect()
}
