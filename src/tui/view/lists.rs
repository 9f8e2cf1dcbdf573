//! The full-screen lists: unfinished runs, the activity log, the config's accounts.

use super::super::app::App;
use super::super::keys::KeyAction;
use super::super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

/// The account's unfinished runs: each pool, where it stopped, where it resumes.
pub(super) fn runs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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

/// The activity log, newest at the bottom, scrolled up by `log.scroll` entries. Each entry is
/// wrapped whole under its time: a refusal reads to its last problem.
pub(super) fn log(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let capacity = area.height.saturating_sub(2) as usize;
    app.page_rows = capacity.max(1);
    let shown = app.log.shown();
    let end = shown.len().saturating_sub(app.log.scroll);
    let text_width = (area.width as usize).saturating_sub(2 + 9).max(10);
    let mut start = end;
    let mut lines: Vec<Line> = Vec::new();
    while start > 0 {
        let l = shown[start - 1];
        let style = if l.error { Style::new().fg(theme.bad) } else { Style::new() };
        let count = if l.count > 1 { format!("  ×{}", l.count) } else { String::new() };
        let rows = super::text::wrap(&format!("{}{count}", l.text), text_width);
        if !lines.is_empty() && lines.len() + rows.len() > capacity {
            break;
        }
        start -= 1;
        let entry = rows.into_iter().enumerate().map(|(i, row)| {
            let time = if i == 0 { l.at.strftime("%H:%M:%S ").to_string() } else { " ".repeat(9) };
            Line::from(vec![Span::styled(time, Style::new().fg(theme.dim)), Span::styled(row, style)])
        });
        lines.splice(0..0, entry);
    }
    // An entry taller than the screen shows its start.
    lines.truncate(capacity);
    let mut title = format!(" activity {}–{} of {}", start + usize::from(end > start), end, shown.len());
    if !app.log.filter.is_empty() {
        title.push_str(&format!(" · filter {}", app.log.filter.describe()));
    }
    if app.log.errors_only {
        title.push_str(" · errors only");
    }
    title.push(' ');
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title).border_style(Style::new().fg(theme.dim))),
        area,
    );
}

pub(super) fn accounts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines: Vec<Line> = Vec::new();
    if app.accounts.is_empty() {
        lines.push(Line::from("config.toml has no [accounts.NAME] sections: add one per account to switch here"));
    }
    for (i, (name, url)) in app.accounts.iter().enumerate() {
        let current = app.identity.profile.as_deref() == Some(name.as_str());
        let chosen = i == app.accounts_selected;
        let style = if chosen { Style::new().bg(theme.selected).add_modifier(Modifier::BOLD) } else { Style::new() };
        lines.push(Line::from(vec![
            Span::styled(format!("{} {name:<20} ", if chosen { "▶" } else { " " }), style),
            Span::styled(url.clone(), Style::new().fg(theme.dim)),
            Span::raw(if current { "  (shown now)" } else { "" }),
        ]));
    }
    let block =
        Block::bordered().title(" accounts (enter switches · esc back) ").border_style(Style::new().fg(theme.dim));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
