//! A pool quick action's form in its dialog: the resize targets and deallocation option, or the
//! autoscale formula with what the service computed from it.

use super::super::app::{AutoscaleForm, PoolForm, ResizeForm};
use super::super::calls::option_meaning;
use super::super::theme::Theme;
use crate::output::escape;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// The dialog's title and lines for `form`.
pub(super) fn lines<'a>(form: &PoolForm, theme: &Theme) -> (String, Vec<Line<'a>>) {
    match form {
        PoolForm::Resize(form) => resize(form, theme),
        PoolForm::Autoscale(form) => autoscale(form, theme),
    }
}

fn field<'a>(label: &str, value: String, focused: bool, theme: &Theme) -> Line<'a> {
    let style = if focused {
        Style::new().fg(theme.accent).add_modifier(Modifier::REVERSED)
    } else {
        Style::new().fg(theme.accent)
    };
    let value = if focused { format!(" {value}▏") } else { format!(" {value} ") };
    Line::from(vec![Span::raw(format!("  {label:<14}")), Span::styled(value, style)])
}

fn resize<'a>(form: &ResizeForm, theme: &Theme) -> (String, Vec<Line<'a>>) {
    let (targets, current) = (form.targets, form.current);
    let lines = vec![
        Line::from(format!("  targets now: {} dedicated, {} low-priority", targets.0, targets.1)),
        Line::from(format!("  nodes now:   {} dedicated, {} low-priority", current.0, current.1)),
        Line::from(""),
        field("dedicated", form.dedicated.clone(), form.focus == 0, theme),
        field("low-priority", form.low_priority.clone(), form.focus == 1, theme),
        field("deallocation", format!("‹ {} ›", form.option), form.focus == 2, theme),
        Line::from(format!("  {:<14} when nodes leave, running tasks {}", "", option_meaning(&form.option))),
        Line::from(""),
        Line::from("  enter resizes; lowering a target asks for the pool id first"),
    ];
    (format!("Resize {}", escape(&form.pool)), lines)
}

fn autoscale<'a>(form: &AutoscaleForm, theme: &Theme) -> (String, Vec<Line<'a>>) {
    let mut lines = vec![Line::from(if form.enabled {
        "  autoscale is on; the formula in use is below, edit it:".to_string()
    } else {
        "  autoscale is off (fixed targets); a formula to try:".to_string()
    })];
    let text: Vec<String> = form.formula.split('\n').map(|l| escape(l).into_owned()).collect();
    let last = text.len() - 1;
    for (i, row) in text.into_iter().enumerate() {
        let row = if i == last { format!("{row}▏") } else { row };
        lines.push(Line::from(Span::styled(format!("  {row}"), Style::new().fg(theme.accent))));
    }
    lines.push(Line::from(""));
    let bad = Style::new().fg(theme.bad);
    match (&form.evaluated, form.waiting) {
        (_, true) => lines.push(Line::from("  evaluating…")),
        (None, _) => lines.push(Line::from("  not evaluated yet: enter asks the service what it computes")),
        (Some((formula, outcome)), _) => {
            let stale = if *formula != form.formula { " (of an earlier formula)" } else { "" };
            match outcome {
                Ok(run) => {
                    lines.push(Line::from(format!("  the service's evaluation{stale}:")));
                    for result in run.results.as_deref().unwrap_or("").split(';').filter(|r| !r.is_empty()) {
                        lines.push(Line::from(format!("    {}", escape(result))));
                    }
                    if let Some(error) = &run.error {
                        lines.push(Line::from(Span::styled(
                            format!("    error {}: {}", escape(&error.code), escape(&error.message)),
                            bad,
                        )));
                        for value in error.values.iter().flatten() {
                            let text = format!("      {}: {}", escape(&value.name), escape(&value.value));
                            lines.push(Line::from(Span::styled(text, bad)));
                        }
                    }
                }
                // The service refuses to evaluate on a pool without autoscale (409): that is
                // the answer, not a fault; the activity log keeps its words.
                Err(_) if !form.enabled => {
                    lines.push(Line::from(format!(
                        "  not evaluated{stale}: Batch evaluates only on a pool with autoscale on;"
                    )));
                    lines.push(Line::from("  ctrl-e enables it: the service evaluates it at once"));
                }
                Err(e) => {
                    lines.push(Line::from(format!("  the service's answer{stale}:")));
                    lines.push(Line::from(Span::styled(format!("    {}", escape(e)), bad)));
                }
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(match form.not_ready() {
        None => "  ctrl-e enables this formula".to_string(),
        Some(why) => format!("  ctrl-e enables it once evaluated: {why}"),
    }));
    (format!("Autoscale {}", escape(&form.pool)), lines)
}
