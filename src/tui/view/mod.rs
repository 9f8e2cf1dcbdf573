//! Drawing: a function of the state. Only what fits is built, so ten thousand pools draw as
//! fast as twenty, and every screen reads whole from 80×24 up.

mod detail;
mod form;
mod hints;
mod jobs;
mod lists;
mod nodes;
mod table;
pub mod text;

use super::app::{App, Command, Dialog, Screen, StepState};
use super::keys::KeyAction;
use super::theme::Theme;
use crate::batch::{AllocationState, PoolState, PoolSummary};
use crate::output::age;
use crate::rollout::policy::{OnUnhealthy, RunChoices};
use crate::rollout::report::PoolStatus;
use crate::rollout::step::Step;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

const SPINNER: [&str; 4] = ["⠋", "⠙", "⠸", "⠴"];

pub fn draw(frame: &mut Frame, app: &mut App, theme: &Theme) {
    let full = frame.area();
    let alerts = alert_lines(app, full.width, theme);
    let status_rows = status_rows(app, full.width as usize, (full.height / 4).max(1) as usize);
    // The run panel takes at most a third of the screen; the table keeps the rest.
    let run_height = if app.run.is_empty() { 0 } else { (app.run.len() as u16 + 2).min((full.height / 3).max(3)) };
    let [header, alert, main, run, status, hints] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(alerts.len() as u16),
        Constraint::Min(5),
        Constraint::Length(run_height),
        Constraint::Length(status_rows.len() as u16),
        Constraint::Length(1),
    ])
    .areas(full);
    draw_header(frame, header, app, theme);
    if !alerts.is_empty() {
        frame.render_widget(Paragraph::new(alerts), alert);
    }
    match app.screen.clone() {
        Screen::Detail(id) => detail::draw(frame, main, app, &id, theme),
        Screen::Runs => lists::runs(frame, main, app, theme),
        Screen::Log => lists::log(frame, main, app, theme),
        Screen::Accounts => lists::accounts(frame, main, app, theme),
        Screen::Jobs => jobs::draw(frame, main, app, theme),
        Screen::Table | Screen::Help => table::draw(frame, main, app, theme),
    }
    if run_height > 0 {
        draw_run(frame, run, app, theme);
    }
    let status_rows: Vec<Line> = status_rows.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(status_rows).style(Style::new().fg(theme.accent)), status);
    draw_hints(frame, hints, app, theme);
    if app.screen == Screen::Help {
        draw_help(frame, app, theme);
    }
    if let Some(dialog) = &app.dialog {
        draw_dialog(frame, dialog, app.choice_focus, theme);
    }
}

/// The status line: what is being typed, else the last message wrapped whole (a refusal names
/// every problem) up to `max` rows; what does not fit is in the activity log.
fn status_rows(app: &App, width: usize, max: usize) -> Vec<String> {
    let typing = if let Some(line) = &app.command {
        Some(format!(":{line}▏"))
    } else if app.filter_editing {
        Some(format!("/{}▏ regex, ! inverts", app.filter.text()))
    } else if app.log.filter_editing {
        Some(format!("log /{}▏ regex, ! inverts", app.log.filter.text()))
    } else {
        None
    };
    if let Some(typing) = typing {
        return vec![typing];
    }
    let mut rows = text::wrap(app.status.as_deref().unwrap_or(""), width);
    if rows.len() > max {
        rows.truncate(max.saturating_sub(1));
        rows.push(format!("… the rest is in the activity log ({})", app.keys.label(KeyAction::Log)));
    }
    rows
}

/// Spans that fit `width`: each optional piece is kept only while there is room for it.
fn fitted<'a>(width: u16, pieces: Vec<(Span<'a>, bool)>) -> Line<'a> {
    let mut used: usize = pieces.iter().filter(|(_, required)| *required).map(|(s, _)| s.width()).sum();
    let mut spans = Vec::new();
    for (span, required) in pieces {
        if required {
            spans.push(span);
        } else if used + span.width() <= width as usize {
            used += span.width();
            spans.push(span);
        }
    }
    Line::from(spans)
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let id = &app.identity;
    let stale = app.refresh_error.is_some()
        || app.last_refresh.is_some_and(|t| (app.now.as_second() - t.as_second()) as u64 > 3 * id.refresh_secs.max(1));
    let refreshed = match app.last_refresh {
        Some(t) => format!("{} ago", age(app.now, t)),
        None => "loading…".into(),
    };
    let name = match &id.profile {
        Some(profile) if *profile != id.account => format!("{profile} ({})", id.account),
        _ => id.account.clone(),
    };
    let bold = |text: String, color| Span::styled(text, Style::new().fg(color).add_modifier(Modifier::BOLD));
    let mut first = vec![
        (bold(" repool ".into(), theme.accent), true),
        (Span::raw(format!("{name} ")), true),
        (Span::raw(format!("│ {refreshed} ")), true),
    ];
    if stale {
        first.push((bold("STALE ".into(), theme.bad), true));
    }
    if app.listing {
        first.push((
            Span::styled(format!("{} ", SPINNER[app.spinner % SPINNER.len()]), Style::new().fg(theme.accent)),
            true,
        ));
    }
    if id.readonly {
        first.push((bold("READ-ONLY ".into(), theme.warn), true));
    }
    if id.demo {
        first.push((Span::styled("DEMO (simulated account) ", Style::new().fg(theme.warn)), false));
    }
    first.push((Span::raw(format!("│ auth {} ", id.auth)), false));
    first.push((Span::raw(format!("│ every {}s ", id.refresh_secs)), false));
    first.push((Span::styled(format!("│ {}", id.endpoint), Style::new().fg(theme.dim)), false));
    let count = |f: &dyn Fn(&PoolSummary) -> bool| app.pools.iter().filter(|p| f(p)).count();
    let allocation = |state: AllocationState| move |p: &PoolSummary| p.allocation_state.as_ref() == Some(&state);
    let mut second = vec![(Span::raw(format!(" {} pools", app.pools.len())), true)];
    for (label, n, always) in [
        ("steady", count(&|p| p.is_steady()), true),
        ("resizing", count(&allocation(AllocationState::Resizing)), true),
        ("stopping", count(&allocation(AllocationState::Stopping)), false),
        ("deleting", count(&|p| p.state == Some(PoolState::Deleting)), false),
    ] {
        if always || n > 0 {
            second.push((Span::raw(format!(" · {label} {n}")), true));
        }
    }
    second.push((Span::raw(format!(" · marked {}", app.marks.len())), true));
    if !app.filter.is_empty() {
        second.push((Span::raw(format!(" · filter {}", app.filter.describe())), true));
    }
    second.push((Span::raw(format!(" · sort {} {}", app.sort.0.name(), if app.sort.1 { "↑" } else { "↓" })), false));
    frame.render_widget(Paragraph::new(vec![fitted(area.width, first), fitted(area.width, second)]), area);
}

/// Lines above the table that must be read: the account unreachable, pools a run deleted and
/// has not created again, unfinished runs.
fn alert_lines<'a>(app: &App, width: u16, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let bold = |color| Style::new().fg(color).add_modifier(Modifier::BOLD);
    if let Some(error) = &app.refresh_error {
        let text = format!(
            " ⚠ {} does not answer: {error} — retrying every {}s ({} tr{} failed) · {} log",
            app.identity.account,
            app.identity.refresh_secs,
            app.refresh_failures,
            if app.refresh_failures == 1 { "y" } else { "ies" },
            app.keys.label(KeyAction::Log),
        );
        push_wrapped(&mut lines, &text, width, bold(theme.bad));
    }
    let ghosts = app.ghost_ids();
    let (resume, runs) = (app.keys.label(KeyAction::Resume), app.keys.label(KeyAction::Runs));
    if !ghosts.is_empty() {
        let text = format!(" ⚠ deleted, not yet recreated: {} — {resume} resume · {runs} runs", ghosts.join(", "));
        push_wrapped(&mut lines, &text, width, bold(theme.bad));
    } else if !app.runs.is_empty() {
        let text = format!(
            " {} unfinished run(s), newest {}: {resume} resume it · {runs} list, resume or abandon",
            app.runs.len(),
            app.runs.first().map(|r| r.id.as_str()).unwrap_or("")
        );
        push_wrapped(&mut lines, &text, width, bold(theme.warn));
    }
    lines
}

/// A banner wrapped whole, at most four rows (the last ends in `…` when more was cut).
fn push_wrapped<'a>(lines: &mut Vec<Line<'a>>, text: &str, width: u16, style: Style) {
    let mut rows = text::wrap(text, (width as usize).max(20));
    if rows.len() > 4 {
        rows.truncate(4);
        rows[3] = super::columns::cut(&format!("{}…", rows[3]), width as usize);
    }
    lines.extend(rows.into_iter().map(|row| Line::from(Span::styled(row, style))));
}

/// One line per pool of the run. Below 140 columns each step is just its mark and the step in
/// progress is named, so the result and the last event still fit.
fn draw_run(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let compact = area.width < 140;
    let id_width = app.run.keys().map(|id| id.chars().count()).max().unwrap_or(0).min(24);
    let lines: Vec<Line> = app
        .run
        .iter()
        .map(|(id, view)| {
            let mut spans = vec![Span::raw(format!("{:<id_width$} ", super::columns::cut(id, id_width)))];
            let strategy = app.strategy_of(id);
            let chain =
                if view.current.is_some_and(Step::is_rollback) { strategy.rollback() } else { strategy.chain() };
            for &step in chain {
                let (mark, color) = match view.steps.get(&step) {
                    Some(StepState::Done) => ("✓", theme.ok),
                    Some(StepState::Skipped) => ("–", theme.dim),
                    Some(StepState::Running) => ("▶", theme.warn),
                    Some(StepState::Failed) => ("✗", theme.bad),
                    None => ("·", theme.dim),
                };
                let text = if compact { mark.to_string() } else { format!("{mark}{} ", step.short()) };
                spans.push(Span::styled(text, Style::new().fg(color)));
            }
            spans.push(Span::raw(" "));
            let running = view.status.is_none() && view.current.is_some();
            if running
                && compact
                && let Some(step) = view.current
            {
                spans.push(Span::styled(format!("{} ", step.short()), Style::new().fg(theme.warn)));
            }
            if running && let Some(started) = view.step_started {
                spans.push(Span::raw(format!("{} ", age(app.now, started))));
            }
            if running
                && view.current == Some(Step::WaitDrained)
                && let Some(pool) = app.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id))
            {
                spans.push(Span::styled(
                    format!("{} node(s) left (:nodes) ", pool.current_nodes()),
                    Style::new().fg(theme.warn),
                ));
            }
            let status_color = match view.status {
                Some(PoolStatus::Recreated | PoolStatus::Updated) => theme.ok,
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
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let room = (area.width as usize).saturating_sub(used + 2);
            spans.push(Span::styled(super::columns::cut(&view.last_event, room), Style::new().fg(theme.dim)));
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

/// The keys that work in what is on screen now, as many as fit; `?` and `q` always where they work.
fn draw_hints(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let k = |a| app.keys.label(a);
    let mutating = !app.identity.readonly;
    let mut hints: Vec<(String, &str)> = Vec::new();
    let mut push = |key: String, label: &'static str| hints.push((key, label));
    let mut tail = true;
    if let Some(dialog) = &app.dialog {
        tail = false;
        for (key, label) in hints::dialog(dialog) {
            push(key, label);
        }
    } else if app.command.is_some() && !app.completions.is_empty() {
        // What tab offered: the line itself shows only their common start.
        let text = format!(" {}", app.completions.join("  "));
        frame.render_widget(Paragraph::new(text).style(Style::new().fg(theme.accent)), area);
        return;
    } else if app.command.is_some() {
        tail = false;
        push("tab".into(), "complete");
        push("enter".into(), "run");
        push("esc".into(), "cancel");
        push("".into(), "pools nodes jobs ctx plan apply heal runs log sort q");
    } else if app.filter_editing || app.log.filter_editing {
        tail = false;
        push("enter".into(), "keep");
        push("esc".into(), "clear");
    } else if app.screen == Screen::Help {
        tail = false;
        push("any key".into(), "close");
    } else {
        match &app.screen {
            Screen::Help => {
                tail = false;
                push("any key".into(), "close");
            }
            Screen::Detail(_) => {
                for (key, label) in hints::detail(app) {
                    push(key, label);
                }
            }
            Screen::Runs => {
                push(k(KeyAction::Down), "move");
                if mutating {
                    push(k(KeyAction::Resume), "resume");
                    push(k(KeyAction::Abandon), "abandon");
                }
                push(k(KeyAction::Back), "back");
            }
            Screen::Log => {
                push(format!("{}/{}", k(KeyAction::Down), k(KeyAction::Up)), "scroll");
                push(k(KeyAction::Filter), "filter");
                push(k(KeyAction::ErrorsOnly), "errors only");
                push(k(KeyAction::Back), "back");
            }
            Screen::Accounts => {
                push(k(KeyAction::Down), "move");
                push(k(KeyAction::Details), "switch");
                push(k(KeyAction::Back), "back");
            }
            Screen::Jobs => {
                push(k(KeyAction::Down), "move");
                if app.jobs.as_ref().is_some_and(|v| v.tasks.is_none()) {
                    push(k(KeyAction::Details), "tasks");
                }
                push(k(KeyAction::Back), "back");
                push(k(KeyAction::Refresh), "refresh");
            }
            Screen::Table => {
                push(k(KeyAction::Down), "move");
                push(k(KeyAction::Mark), "mark");
                push(k(KeyAction::Details), "details");
                if mutating {
                    push(k(KeyAction::Run), "recreate");
                    push(k(KeyAction::NextStep), "next step");
                }
                push(k(KeyAction::Filter), "filter");
                push(k(KeyAction::Command), "command");
                push(k(KeyAction::Runs), "runs");
                push(k(KeyAction::Log), "log");
                push(k(KeyAction::Sort), "sort");
            }
        }
    }
    let tail: Vec<(String, &str)> =
        if tail { vec![(k(KeyAction::Help), "help"), (k(KeyAction::Quit), "quit")] } else { Vec::new() };
    let width = |h: &[(String, &str)]| h.iter().map(|(k, l)| k.chars().count() + l.chars().count() + 3).sum::<usize>();
    while !hints.is_empty() && width(&hints) + width(&tail) > area.width as usize {
        hints.pop();
    }
    let mut spans = Vec::new();
    for (key, label) in hints.iter().chain(tail.iter()) {
        spans.push(Span::styled(format!(" {key} "), Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!("{label} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The keys, grouped by where they act, in as many columns as the terminal allows.
fn draw_help(frame: &mut Frame, app: &mut App, theme: &Theme) {
    use KeyAction::*;
    let groups: [(&str, &[KeyAction]); 6] = [
        ("move", &[Down, Up, Top, Bottom, PageDown, PageUp]),
        ("choose and see", &[Mark, MarkAll, ClearMarks, Filter, Sort, Details, Back, Command]),
        ("act", &[Plan, NextStep, Run, Cancel, Resume, Runs, Abandon]),
        ("one pool, its nodes (single calls)", &[Resize, Autoscale, Reboot, RemoveNodes, Scheduling, StartTaskOutput]),
        ("details and log", &[NextTab, PrevTab, Write, Jobs, Log, ErrorsOnly]),
        ("general", &[Refresh, Repaint, Help, Quit]),
    ];
    let mut lines: Vec<Line> = Vec::new();
    for (title, actions) in groups {
        lines.push(Line::from(Span::styled(title, Style::new().fg(theme.accent).add_modifier(Modifier::BOLD))));
        for a in actions {
            lines.push(Line::from(vec![
                Span::styled(format!("{:>9}  ", app.keys.label(*a)), Style::new().fg(theme.accent)),
                Span::raw(a.describe()),
            ]));
        }
    }
    lines.push(Line::from("Destructive steps ask you to type the pool id (or 'recreate').".italic()));
    let mark = super::columns::RETIRING_MARK;
    lines.push(Line::from(
        format!("{mark} EOL date (ERRORS): when Batch stops supporting the pool's VM family or image").italic(),
    ));
    let area = frame.area();
    let inner_height = area.height.saturating_sub(2) as usize;
    // Two columns when one would not fit the height and each keeps its descriptions whole.
    let columns = if lines.len() > inner_height && area.width >= 160 { 2 } else { 1 };
    let per_column = lines.len().div_ceil(columns);
    let width = if columns == 2 { area.width.min(170) } else { area.width.min(90) };
    let height = (per_column as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let total = lines.len();
    let mut title = " keys (any key closes) ".to_string();
    if columns == 1 && total > inner_height {
        app.help_scroll = app.help_scroll.min(total - inner_height);
        lines.drain(..app.help_scroll);
        let shown = app.help_scroll + inner_height;
        title = format!(
            " keys {}–{shown} of {total} ({}/{} scroll, any other key closes) ",
            app.help_scroll + 1,
            app.keys.label(KeyAction::Down),
            app.keys.label(KeyAction::Up)
        );
    }
    app.page_rows = inner_height.max(1);
    let block = Block::bordered().title(title).border_style(Style::new().fg(theme.accent));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let halves = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    let mut rest = lines;
    for half in halves.iter() {
        let take = per_column.min(rest.len());
        let column: Vec<Line> = rest.drain(..take).collect();
        frame.render_widget(Paragraph::new(column), *half);
    }
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
    Line::from(spans)
}

fn draw_dialog(frame: &mut Frame, dialog: &Dialog, focus: usize, theme: &Theme) {
    let (title, lines) = match dialog {
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
        Dialog::Pool(form) => form::lines(form, theme),
        Dialog::Confirm { title, lines, expected, typed, command } => {
            let mut out: Vec<Line> = lines.iter().map(|l| Line::from(format!("  {l}"))).collect();
            if let Some(choices) = command.choices() {
                out.push(Line::from(""));
                out.push(choice_line(choices, focus, theme));
            }
            if let Command::Call(call) = command
                && let Some(option) = call.option()
            {
                let meaning = super::calls::option_meaning(option);
                out.push(Line::from(vec![
                    Span::raw("  running tasks: "),
                    Span::styled(
                        format!("‹ {option} ›"),
                        Style::new().fg(theme.accent).add_modifier(Modifier::REVERSED),
                    ),
                    Span::raw(format!(" {meaning} (←/→)")),
                ]));
            }
            out.push(Line::from(""));
            if expected.is_empty() {
                out.push(Line::from("Press enter to confirm (esc cancels)."));
                return draw_box(frame, title.clone(), out, theme);
            }
            out.push(Line::from(vec![
                Span::raw("Type "),
                Span::styled(expected.clone(), Style::new().fg(theme.warn).add_modifier(Modifier::BOLD)),
                Span::raw(" and press enter (esc cancels):"),
            ]));
            out.push(Line::from(Span::styled(format!("> {typed}▏"), Style::new().fg(theme.accent))));
            (title.clone(), out)
        }
    };
    draw_box(frame, title, lines, theme);
}

/// A dialog's box, as tall as its wrapped text; on a short terminal the first lines give way.
fn draw_box(frame: &mut Frame, title: String, mut lines: Vec<Line>, theme: &Theme) {
    let width = frame.area().width.saturating_sub(4).min(110);
    // Wrapped lines take more rows: the box is as tall as the text it wraps to, so the typed
    // confirmation at its end always shows.
    let inner = (width as usize).saturating_sub(2).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(frame.area().height);
    if rows + 2 > height as usize {
        // Too tall for the terminal: the first lines give way, the question stays.
        let excess = lines.len().saturating_sub(height as usize - 2);
        lines.drain(..excess.min(lines.len().saturating_sub(3)));
    }
    let area = frame.area().centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" {title} ")).border_style(Style::new().fg(theme.warn)))
            .wrap(Wrap { trim: false }),
        area,
    );
}
