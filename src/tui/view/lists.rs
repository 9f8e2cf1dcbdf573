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
pub fn runs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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

/// The activity log, newest at the bottom, scrolled up by `log.scroll` lines.
pub fn log(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let capacity = area.height.saturating_sub(2) as usize;
    app.page_rows = capacity.max(1);
    let shown = app.log.shown();
    let end = shown.len().saturating_sub(app.log.scroll);
    let start = end.saturating_sub(capacity);
    let lines: Vec<Line> = shown[start..end]
        .iter()
        .map(|l| {
            let style = if l.error { Style::new().fg(theme.bad) } else { Style::new() };
            let mut spans = vec![
                Span::styled(l.at.strftime("%H:%M:%S ").to_string(), Style::new().fg(theme.dim)),
                Span::styled(l.text.clone(), style),
            ];
            if l.count > 1 {
                spans.push(Span::styled(format!("  ×{}", l.count), Style::new().fg(theme.dim)));
            }
            Line::from(spans)
        })
        .collect();
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

pub fn accounts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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
