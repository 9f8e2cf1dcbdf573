//! Drawing: a function of the state. Only the rows that fit are built, so ten thousand pools
//! draw as fast as twenty.

use super::app::{App, Command, Dialog, Screen, StepState};
use super::keys::KeyAction;
use super::theme::Theme;
use crate::batch::Pool;
use crate::definition::plan::Action as PlanAction;
use crate::headless::age;
use crate::recreate::policy::{OnUnhealthy, RunChoices};
use crate::recreate::report::PoolStatus;
use crate::recreate::step::Step;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

const SPINNER: [&str; 4] = ["⠋", "⠙", "⠸", "⠴"];

pub fn draw(frame: &mut Frame, app: &mut App, theme: &Theme) {
    let run_height = if app.run.is_empty() { 0 } else { (app.run.len() as u16 + 2).min(12) };
    let log_height = if app.show_log { 10 } else { 0 };
    let orphan_height = u16::from(!app.ghosts.is_empty() || !app.runs.is_empty());
    let [header, orphans, main, run, log, status, hints] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(orphan_height),
        Constraint::Min(5),
        Constraint::Length(run_height),
        Constraint::Length(log_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, theme);
    if orphan_height > 0 {
        draw_orphans(frame, orphans, app, theme);
    }
    match app.screen.clone() {
        Screen::Detail(id) => draw_detail(frame, main, app, &id, theme),
        Screen::Runs => draw_runs(frame, main, app, theme),
        Screen::Table | Screen::Help => draw_table(frame, main, app, theme),
    }
    if run_height > 0 {
        draw_run(frame, run, app, theme);
    }
    if log_height > 0 {
        draw_log(frame, log, app, theme);
    }
    let status_text = if app.filter_editing {
        format!("/{}▏ (enter: keep, esc: clear)", app.filter)
    } else {
        app.status.clone().unwrap_or_default()
    };
    frame.render_widget(Paragraph::new(status_text).style(Style::new().fg(theme.accent)), status);
    draw_hints(frame, hints, app, theme);
    if app.screen == Screen::Help {
        draw_help(frame, app, theme);
    }
    if let Some(dialog) = &app.dialog {
        draw_dialog(frame, dialog, app.choice_focus, theme);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let id = &app.identity;
    let stale = app.refresh_error.is_some()
        || app.last_refresh.is_some_and(|t| (app.now.as_second() - t.as_second()) as u64 > 3 * id.refresh_secs.max(1));
    let refreshed = match app.last_refresh {
        Some(t) => format!("{} ago", age(app.now, t)),
        None => "loading…".into(),
    };
    let mut first = vec![
        Span::styled(" repool ", Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)),
        Span::raw(format!("{} ", id.account)),
        Span::styled(format!("{} ", id.endpoint), Style::new().fg(theme.dim)),
        Span::raw(format!("│ auth {} │ refresh every {}s, {refreshed}", id.auth, id.refresh_secs)),
    ];
    if stale {
        first.push(Span::styled(" STALE", Style::new().fg(theme.bad).add_modifier(Modifier::BOLD)));
    }
    if app.in_flight > 0 {
        first.push(Span::styled(format!(" {}", SPINNER[app.spinner % SPINNER.len()]), Style::new().fg(theme.accent)));
    }
    if id.readonly {
        first.push(Span::styled(" READ-ONLY", Style::new().fg(theme.warn).add_modifier(Modifier::BOLD)));
    }
    if id.demo {
        first.push(Span::styled(" DEMO (simulated account)", Style::new().fg(theme.warn)));
    }
    let count = |f: &dyn Fn(&Pool) -> bool| app.pools.iter().filter(|p| f(p)).count();
    let mut second = format!(
        " {} pools · active {} · deleting {} · steady {} · resizing {} · stopping {} · marked {}",
        app.pools.len(),
        count(&|p| p.state.as_ref().is_some_and(|s| s.as_str() == "active")),
        count(&|p| p.state.as_ref().is_some_and(|s| s.as_str() == "deleting")),
        count(&|p| p.is_steady()),
        count(&|p| p.allocation_state.as_ref().is_some_and(|s| s.as_str() == "resizing")),
        count(&|p| p.allocation_state.as_ref().is_some_and(|s| s.as_str() == "stopping")),
        app.marks.len(),
    );
    if !app.filter.is_empty() {
        second.push_str(&format!(" · filter '{}'", app.filter));
    }
    second.push_str(&format!(" · sort {} {}", app.sort.0.name(), if app.sort.1 { "↑" } else { "↓" }));
    if let Some(e) = &app.refresh_error {
        second.push_str(&format!(" · last refresh failed: {e}"));
    }
    frame.render_widget(Paragraph::new(vec![Line::from(first), Line::from(second)]), area);
}

/// Pools the account lacks that a run deleted, else unfinished runs that can continue.
fn draw_orphans(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let ghosts = app.ghost_ids();
    let (resume, runs) = (app.keys.label(KeyAction::Resume), app.keys.label(KeyAction::Runs));
    let text = if ghosts.is_empty() {
        format!(
            " {} unfinished run(s), newest {}: {resume} resume it · {runs} list, resume or abandon",
            app.runs.len(),
            app.runs.first().map(|r| r.id.as_str()).unwrap_or("")
        )
    } else {
        format!(" ⚠ deleted, not yet recreated: {} — {resume} resume · {runs} runs", ghosts.join(", "))
    };
    let color = if ghosts.is_empty() { theme.warn } else { theme.bad };
    frame.render_widget(Paragraph::new(text).style(Style::new().fg(color).add_modifier(Modifier::BOLD)), area);
}

fn allocation_color(pool: &Pool, theme: &Theme) -> ratatui::style::Color {
    if pool.state.as_ref().is_some_and(|s| s.as_str() == "deleting") {
        return theme.bad;
    }
    match pool.allocation_state.as_ref().map(|s| s.as_str()) {
        Some("steady") => theme.ok,
        Some(_) => theme.warn,
        None => theme.dim,
    }
}

fn draw_table(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let rows = app.rows();
    let height = area.height.saturating_sub(3) as usize;
    app.page_rows = height.max(1);
    app.selected = app.selected.min(rows.len().saturating_sub(1));
    if app.selected < app.offset {
        app.offset = app.selected;
    } else if app.selected >= app.offset + app.page_rows {
        app.offset = app.selected + 1 - app.page_rows;
    }
    app.offset = app.offset.min(rows.len().saturating_sub(app.page_rows));
    let visible = &rows[app.offset.min(rows.len())..(app.offset + app.page_rows).min(rows.len())];
    let body: Vec<Row> = visible
        .iter()
        .map(|&i| {
            let p = &app.pools[i];
            let id = p.id();
            let counts = app.node_counts.get(&id.to_lowercase());
            let nodes = counts
                .map(|c| {
                    let n = |f: fn(&crate::batch::NodeCounts) -> u32| f(&c.dedicated) + f(&c.low_priority);
                    format!(
                        "{}/{}/{}/{}",
                        n(|c| c.idle),
                        n(|c| c.running),
                        n(|c| c.starting + c.creating + c.waiting_for_start_task),
                        n(|c| c.unusable + c.start_task_failed)
                    )
                })
                .unwrap_or_else(|| "·".into());
            let alloc = format!(
                "{} {}",
                p.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
                p.allocation_state_transition_time.map(|t| age(app.now, t)).unwrap_or_default()
            );
            let ghost = app.ghosts.contains(&id.to_lowercase());
            let state =
                if ghost { "DELETED".to_string() } else { p.state.as_ref().map(|s| s.to_string()).unwrap_or_default() };
            let errors = p
                .resize_errors
                .as_ref()
                .filter(|e| !e.is_empty())
                .map(|e| format!("⚠ {}", e[0].code))
                .unwrap_or_default();
            let (def, def_color) = match (app.definition_status(id), &app.definition) {
                (Some(PlanAction::Unchanged), _) => ("in sync", theme.ok),
                (Some(PlanAction::UpdateInPlace), _) => ("in-place", theme.warn),
                (Some(PlanAction::Recreate), _) => ("changes", theme.warn),
                (Some(PlanAction::Create), _) => ("create", theme.warn),
                (None, Some(d)) if d.pool(id).is_some() => ("…", theme.dim),
                (None, Some(_)) => ("not in def", theme.dim),
                (None, None) => ("", theme.dim),
            };
            let marked = app.marks.contains(id);
            let row = Row::new(vec![
                Cell::from(if marked { "✓" } else { " " }).style(Style::new().fg(theme.accent)),
                Cell::from(id.to_string()),
                Cell::from(p.creation_time.map(|t| age(app.now, t)).unwrap_or_default()),
                Cell::from(state).style(Style::new().fg(if ghost { theme.bad } else { allocation_color(p, theme) })),
                Cell::from(alloc).style(Style::new().fg(allocation_color(p, theme))),
                Cell::from(if p.autoscale() { "on" } else { "off" }),
                Cell::from(format!(
                    "{}/{}",
                    p.current_dedicated_nodes.unwrap_or(0),
                    p.target_dedicated_nodes.unwrap_or(0)
                )),
                Cell::from(format!(
                    "{}/{}",
                    p.current_low_priority_nodes.unwrap_or(0),
                    p.target_low_priority_nodes.unwrap_or(0)
                )),
                Cell::from(nodes),
                Cell::from(p.vm_size.clone().unwrap_or_default()),
                Cell::from(errors).style(Style::new().fg(theme.bad)),
                Cell::from(def).style(Style::new().fg(def_color)),
            ]);
            if marked { row.add_modifier(Modifier::BOLD) } else { row }
        })
        .collect();
    let header = Row::new([
        "",
        "ID",
        "AGE",
        "STATE",
        "ALLOCATION",
        "AUTO",
        "DEDICATED",
        "LOW-PRI",
        "NODES i/r/s/u",
        "VM SIZE",
        "ERRORS",
        "DEFINITION",
    ])
    .style(Style::new().fg(theme.accent).add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Length(1),
        Constraint::Min(12),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(14),
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(13),
        Constraint::Length(17),
        Constraint::Length(18),
        Constraint::Length(10),
    ];
    let title = format!(" pools {}/{} ", if rows.is_empty() { 0 } else { app.selected + 1 }, rows.len());
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::bordered().title(title).border_style(Style::new().fg(theme.dim)))
        .row_highlight_style(Style::new().bg(theme.selected).add_modifier(Modifier::BOLD))
        .highlight_symbol("▶");
    let mut state = TableState::default().with_selected((!rows.is_empty()).then(|| app.selected - app.offset));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_detail(frame: &mut Frame, area: Rect, app: &App, id: &str, theme: &Theme) {
    let summary = app.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id));
    let mut lines: Vec<Line> = Vec::new();
    let heading = |text: &str| {
        Line::from(Span::styled(text.to_string(), Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)))
    };
    if let Some(pool) = summary {
        lines.push(Line::from(format!(
            "state {} · allocation {} · autoscale {} · dedicated {}/{} · low-priority {}/{} · vm {}",
            pool.state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
            pool.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
            if pool.autoscale() { "on" } else { "off" },
            pool.current_dedicated_nodes.unwrap_or(0),
            pool.target_dedicated_nodes.unwrap_or(0),
            pool.current_low_priority_nodes.unwrap_or(0),
            pool.target_low_priority_nodes.unwrap_or(0),
            pool.vm_size.as_deref().unwrap_or("?")
        )));
        for error in pool.resize_errors.iter().flatten() {
            lines.push(Line::from(Span::styled(
                format!("resize error {}: {}", error.code, error.message),
                Style::new().fg(theme.bad),
            )));
        }
    }
    if let Some(c) = app.node_counts.get(&id.to_lowercase()) {
        let d = &c.dedicated;
        let l = &c.low_priority;
        lines.push(Line::from(format!(
            "nodes: idle {} · running {} · starting {} · start task failed {} · unusable {} · leaving {} (dedicated {}, low-priority {})",
            d.idle + l.idle,
            d.running + l.running,
            d.starting + l.starting + d.creating + l.creating + d.waiting_for_start_task + l.waiting_for_start_task,
            d.start_task_failed + l.start_task_failed,
            d.unusable + l.unusable,
            d.leaving_pool + l.leaving_pool,
            d.total,
            l.total
        )));
    }
    if let Some(plan) = app.plan.as_ref().and_then(|p| p.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id))) {
        lines.push(heading(&format!("plan: {:?}", plan.action)));
        for change in &plan.changes {
            let show = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
            lines.push(Line::from(format!(
                "  {:?} {}: {} → {}  [{:?}]",
                change.kind,
                change.path,
                show(&change.live),
                show(&change.desired),
                change.apply
            )));
        }
    } else if app.definition.as_ref().is_some_and(|d| d.pool(id).is_none()) {
        lines.push(heading("not in the definition: repool leaves this pool alone"));
    }
    if let Some(full) = app.full_pools.get(&id.to_lowercase()) {
        lines.push(heading("properties"));
        let mut body = serde_json::to_value(full).unwrap_or_default();
        body = match &app.definition {
            Some(definition) => definition.redacted(id, &body),
            None => crate::definition::redact::redact(&body, None),
        };
        for line in serde_json::to_string_pretty(&body).unwrap_or_default().lines() {
            lines.push(Line::from(line.to_string()));
        }
    }
    let block = Block::bordered().title(format!(" {id} (esc: back) ")).border_style(Style::new().fg(theme.dim));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

/// The account's unfinished runs: each pool, where it stopped, where it resumes.
fn draw_runs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines: Vec<Line> = Vec::new();
    if app.runs.is_empty() {
        lines.push(Line::from("no unfinished runs for this account"));
    }
    for (i, run) in app.runs.iter().enumerate() {
        let chosen = i == app.runs_selected;
        let style = if chosen { Style::new().bg(theme.selected).add_modifier(Modifier::BOLD) } else { Style::new() };
        lines.push(Line::from(Span::styled(format!("{} run {}", if chosen { "▶" } else { " " }, run.id), style)));
        for pool in &run.pools {
            let next = pool.resumes_at.map(|s| format!(" → resumes at {s}")).unwrap_or_default();
            let color = if pool.gone { theme.bad } else { theme.dim };
            let alarm = if pool.gone { "  ⚠ deleted, not yet recreated" } else { "" };
            lines.push(Line::from(Span::styled(
                format!("    {:<20} {}{next}{alarm}", pool.id, pool.state),
                Style::new().fg(color),
            )));
        }
        for differs in &run.differs {
            lines.push(Line::from(Span::styled(
                format!("    definition differs: {differs}"),
                Style::new().fg(theme.warn),
            )));
        }
    }
    let title = format!(
        " unfinished runs ({} resume · {} abandon · esc back) ",
        app.keys.label(KeyAction::Resume),
        app.keys.label(KeyAction::Abandon)
    );
    let block = Block::bordered().title(title).border_style(Style::new().fg(theme.dim));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn draw_run(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines: Vec<Line> = app
        .run
        .iter()
        .map(|(id, view)| {
            let mut spans = vec![Span::raw(format!("{id:<18} "))];
            for step in Step::ALL {
                let (mark, color) = match view.steps.get(&step) {
                    Some(StepState::Done) => ("✓", theme.ok),
                    Some(StepState::Skipped) => ("–", theme.dim),
                    Some(StepState::Running) => ("▶", theme.warn),
                    Some(StepState::Failed) => ("✗", theme.bad),
                    None => ("·", theme.dim),
                };
                spans.push(Span::styled(format!("{mark}{} ", step.short()), Style::new().fg(color)));
            }
            let running = view.status.is_none() && view.current.is_some();
            if running && let Some(started) = view.step_started {
                spans.push(Span::raw(format!("{:>4} ", age(app.now, started))));
            }
            if running
                && view.current == Some(Step::WaitDrained)
                && let Some(pool) = app.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id))
            {
                spans.push(Span::styled(
                    format!("draining: {} node(s) left ", pool.current_nodes()),
                    Style::new().fg(theme.warn),
                ));
            }
            let status_color = match view.status {
                Some(PoolStatus::Recreated) => theme.ok,
                Some(PoolStatus::Failed) => theme.bad,
                Some(_) => theme.warn,
                None => theme.accent,
            };
            if let Some(status) = view.status {
                spans.push(Span::styled(
                    format!("{} ", status.name()),
                    Style::new().fg(status_color).add_modifier(Modifier::BOLD),
                ));
            }
            spans.push(Span::styled(view.last_event.clone(), Style::new().fg(theme.dim)));
            Line::from(spans)
        })
        .collect();
    let title = format!(
        " run {} {}",
        app.run_id.as_deref().unwrap_or(""),
        if app.run_active { "(active: c cancels) " } else { "" }
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title).border_style(Style::new().fg(theme.dim))),
        area,
    );
}

fn draw_log(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let capacity = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(app.log.len().saturating_sub(capacity))
        .map(|l| {
            let style = if l.error { Style::new().fg(theme.bad) } else { Style::new() };
            Line::from(vec![
                Span::styled(l.at.strftime("%H:%M:%S ").to_string(), Style::new().fg(theme.dim)),
                Span::styled(l.text.clone(), style),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" activity: Batch calls and engine events ")
                .border_style(Style::new().fg(theme.dim)),
        ),
        area,
    );
}

fn draw_hints(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let k = |a| app.keys.label(a);
    let mut spans = Vec::new();
    let hints: &[(KeyAction, &str)] = match app.screen {
        Screen::Detail(_) => &[
            (KeyAction::Back, "back"),
            (KeyAction::NextStep, "next step (this pool)"),
            (KeyAction::Run, "recreate (this pool)"),
            (KeyAction::Log, "log"),
            (KeyAction::Help, "help"),
            (KeyAction::Quit, "quit"),
        ],
        Screen::Runs => &[
            (KeyAction::Down, "move"),
            (KeyAction::Resume, "resume"),
            (KeyAction::Abandon, "abandon"),
            (KeyAction::Back, "back"),
            (KeyAction::Help, "help"),
            (KeyAction::Quit, "quit"),
        ],
        Screen::Table | Screen::Help => &[
            (KeyAction::Down, "move"),
            (KeyAction::Mark, "mark"),
            (KeyAction::Filter, "filter"),
            (KeyAction::Details, "details"),
            (KeyAction::NextStep, "next step"),
            (KeyAction::Run, "recreate"),
            (KeyAction::Runs, "runs"),
            (KeyAction::Log, "log"),
            (KeyAction::Help, "help"),
            (KeyAction::Quit, "quit"),
        ],
    };
    for &(action, label) in hints {
        spans
            .push(Span::styled(format!(" {} ", k(action)), Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!("{label} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_help(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area().centered(Constraint::Length(70), Constraint::Length(KeyAction::ALL.len() as u16 + 4));
    let mut lines: Vec<Line> = KeyAction::ALL
        .iter()
        .map(|a| {
            Line::from(vec![
                Span::styled(format!("{:>8}  ", app.keys.label(*a)), Style::new().fg(theme.accent)),
                Span::raw(a.describe()),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from("Destructive steps ask you to type the pool id (or 'recreate').".italic()));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" keys (any key closes) ").border_style(Style::new().fg(theme.accent))),
        area,
    );
}

/// A new run's choices, the one in focus highlighted: `tab` moves, `←/→` change.
fn choice_line<'a>(choices: &RunChoices, focus: usize, theme: &Theme) -> Line<'a> {
    let values = [
        format!("canary {}", choices.canary),
        match choices.max_unavailable {
            Some(n) => format!("max unavailable {n}"),
            None => "max unavailable: no bound".into(),
        },
        format!("on unhealthy: {}", if choices.on_unhealthy == OnUnhealthy::Rollback { "rollback" } else { "stop" }),
        format!("probe {}", if choices.probe { "on" } else { "off" }),
    ];
    let mut spans = vec![Span::raw("  ")];
    for (i, value) in values.into_iter().enumerate() {
        let style = if i == focus {
            Style::new().fg(theme.accent).add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(theme.accent)
        };
        spans.push(Span::styled(format!(" {value} "), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled("(tab, ←/→)", Style::new().add_modifier(Modifier::DIM)));
    Line::from(spans)
}

fn draw_dialog(frame: &mut Frame, dialog: &Dialog, focus: usize, theme: &Theme) {
    let (title, mut lines) = match dialog {
        Dialog::Quit { running, gone } => {
            let mut out = Vec::new();
            if *running {
                out.push(Line::from(
                    "A run is active: it is cancelled after the call in flight; `repool resume` continues it.",
                ));
            }
            if !gone.is_empty() {
                out.push(Line::from(Span::styled(
                    format!("Deleted and not yet recreated: {}", gone.join(", ")),
                    Style::new().fg(theme.bad).add_modifier(Modifier::BOLD),
                )));
                out.push(Line::from("They stay missing until the run is resumed (u here, or `repool resume`)."));
            }
            out.push(Line::from("y: quit   any other key: stay"));
            ("Quit now?".to_string(), out)
        }
        Dialog::Confirm { title, lines, expected, typed, command } => {
            let mut out: Vec<Line> = lines.iter().map(|l| Line::from(format!("  {l}"))).collect();
            if let Command::Run { choices: Some(choices), .. } = command {
                out.push(Line::from(""));
                out.push(choice_line(choices, focus, theme));
            }
            out.push(Line::from(""));
            out.push(Line::from(vec![
                Span::raw("Type "),
                Span::styled(expected.clone(), Style::new().fg(theme.warn).add_modifier(Modifier::BOLD)),
                Span::raw(" and press enter (esc cancels):"),
            ]));
            out.push(Line::from(Span::styled(format!("> {typed}▏"), Style::new().fg(theme.accent))));
            (title.clone(), out)
        }
    };
    lines.truncate(20);
    let area = frame.area().centered(Constraint::Percentage(80), Constraint::Length(lines.len() as u16 + 2));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" {title} ")).border_style(Style::new().fg(theme.warn)))
            .wrap(Wrap { trim: false }),
        area,
    );
}
