//! The nodes section of details: the heat map and its legend, what still runs while the pool
//! drains, then every node with the cursor and marks — or one node's start task output.

use super::super::app::App;
use super::super::columns::cut;
use super::super::heatmap::{self, Heat};
use super::super::keys::KeyAction;
use super::super::node_actions::NodesView;
use super::super::theme::Theme;
use super::detail::heading;
use crate::batch::Node;
use crate::output::{age, escape};
use crate::rollout::step::Step;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// The section's lines (none wider than `width`) and which of them the cursor is on.
pub(super) fn section<'a>(app: &App, id: &str, width: usize, theme: &Theme) -> (Vec<Line<'a>>, Option<usize>) {
    let Some(view) = app.nodes.as_ref().filter(|n| n.pool.eq_ignore_ascii_case(id)) else {
        return (vec![Line::from("listing nodes…")], None);
    };
    if let Some(output) = &view.output {
        let mut lines = vec![heading(
            format!(
                "start task output of {} ({} returns to the nodes)",
                escape(&output.node),
                app.keys.label(KeyAction::Back)
            ),
            theme,
        )];
        match &output.lines {
            None => lines.push(Line::from("reading startup/stdout.txt and stderr.txt…")),
            Some(text) => lines.extend(text.iter().map(|l| Line::from(l.clone()))),
        }
        return (lines, None);
    }
    let nodes = match &view.nodes {
        Ok(nodes) => nodes,
        Err(e) => {
            let text = format!("cannot list nodes: {}", escape(e));
            return (vec![Line::from(Span::styled(text, Style::new().fg(theme.bad)))], None);
        }
    };
    let mut lines = heat_map(app, id, nodes, width, theme);
    lines.extend(drain(app, id, nodes, width, theme));
    let cursor = list(app, view, nodes, width, theme, &mut lines);
    (lines, cursor)
}

/// One glyph a node in listing order, then the legend with each category's count.
fn heat_map<'a>(app: &App, id: &str, nodes: &[Node], width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let slots = app
        .full_pools
        .get(&id.to_lowercase())
        .and_then(|p| p.rest.get("taskSlotsPerNode"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1) as u32;
    let width = width.max(10);
    let mut lines = Vec::new();
    let cells: Vec<Heat> = nodes.iter().map(|n| Heat::of(n, slots)).collect();
    for row in cells.chunks(width) {
        let spans: Vec<Span> =
            row.iter().map(|h| Span::styled(h.glyph().to_string(), Style::new().fg(color(*h, theme)))).collect();
        lines.push(Line::from(spans));
    }
    // The legend wraps between entries, never inside one.
    let mut row: Vec<Span> = Vec::new();
    let mut used = 0;
    for (heat, count) in heatmap::counts(nodes, slots) {
        let glyph =
            if matches!(heat, Heat::Running(_)) { "◔◑◕●".to_string() } else { heat.glyph().to_string() };
        let text = format!("{glyph} {} {count}", heat.name());
        let cells = text.chars().count() + 3;
        if used + cells > width && !row.is_empty() {
            lines.push(Line::from(std::mem::take(&mut row)));
            used = 0;
        }
        let style = if count > 0 { Style::new().fg(color(heat, theme)) } else { Style::new().fg(theme.dim) };
        row.push(Span::styled(text, style));
        row.push(Span::raw("   "));
        used += cells;
    }
    lines.push(Line::from(row));
    lines.push(Line::from(""));
    lines
}

fn color(heat: Heat, theme: &Theme) -> ratatui::style::Color {
    match heat {
        Heat::Idle | Heat::Running(_) => theme.ok,
        Heat::Starting | Heat::Leaving | Heat::Preempted | Heat::Offline => theme.warn,
        Heat::StartTaskFailed | Heat::Unusable => theme.bad,
    }
}

/// While the pool drains (or any node runs tasks): which nodes still run which tasks, since when.
fn drain<'a>(app: &App, id: &str, nodes: &[Node], width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let draining = app.run.get(id).is_some_and(|v| v.current == Some(Step::WaitDrained) && v.status.is_none());
    let busy: Vec<&Node> = nodes.iter().filter(|n| !n.running_tasks().is_empty()).collect();
    if !draining && busy.is_empty() {
        return vec![];
    }
    let title = if draining {
        format!("drain: {} of {} node(s) still run tasks", busy.len(), nodes.len())
    } else {
        format!("{} node(s) run tasks", busy.len())
    };
    let mut lines = vec![heading(title, theme)];
    if draining {
        lines.push(Line::from(cut(&waits_for(&busy), width)));
    }
    let long = node_id_room(nodes, width);
    for node in &busy {
        for task in node.running_tasks() {
            let since = task.started.map(|t| format!("for {}", age(app.account_now(), t))).unwrap_or_default();
            let (job, task_id, state) = (escape(&task.job), escape(&task.task), escape(&task.state));
            let text = format!("  {}  {job}/{task_id}  {state} {since}", node_id(node, long));
            lines.push(Line::from(cut(&text, width)));
        }
    }
    lines.push(Line::from(""));
    lines
}

/// "waits for 3 task(s) of job(s) a, b": what the drain waits for, by job.
fn waits_for(busy: &[&Node]) -> String {
    let tasks: Vec<_> = busy.iter().flat_map(|n| n.running_tasks()).collect();
    let mut jobs: Vec<&str> = tasks.iter().map(|t| t.job.as_str()).collect();
    jobs.sort_unstable();
    jobs.dedup();
    escape(&format!("  waits for {} task(s) of job(s) {}", tasks.len(), jobs.join(", "))).into_owned()
}

/// Node ids are shortened only when the whole id and the other columns (about 68 cells) do not fit.
fn node_id_room(nodes: &[Node], width: usize) -> bool {
    let longest = nodes.iter().map(|n| n.id.as_deref().unwrap_or("?").chars().count()).max().unwrap_or(0);
    longest + 68 <= width
}

fn node_id(node: &Node, whole: bool) -> String {
    let id = escape(node.id.as_deref().unwrap_or("?")).into_owned();
    if whole { id } else { short_id(&id) }
}

/// Every node: cursor, mark, state, scheduling, tasks, age, start task result and errors.
/// Returns the line the cursor is on.
fn list<'a>(
    app: &App,
    view: &NodesView,
    nodes: &[Node],
    width: usize,
    theme: &Theme,
    lines: &mut Vec<Line<'a>>,
) -> Option<usize> {
    let k = |a| app.keys.label(a);
    let marked = if view.marks.is_empty() { String::new() } else { format!(" · {} marked", view.marks.len()) };
    let title = format!("{} node(s), listed {} ago{marked}", nodes.len(), age(app.now, view.at));
    lines.push(heading(cut(&title, width), theme));
    if !app.identity.readonly {
        let keys = format!(
            "{} mark · {} reboot · {} remove · {} scheduling · {} start task output",
            k(KeyAction::Mark),
            k(KeyAction::Reboot),
            k(KeyAction::RemoveNodes),
            k(KeyAction::Scheduling),
            k(KeyAction::StartTaskOutput)
        );
        lines.push(Line::from(Span::styled(cut(&keys, width), Style::new().fg(theme.dim))));
    }
    let whole = node_id_room(nodes, width);
    let rows: Vec<[String; 6]> = nodes
        .iter()
        .map(|n| {
            let start = n.start_task_result().unwrap_or_else(|| "·".into());
            [
                node_id(n, whole),
                n.state.as_ref().map(|s| escape(s.as_str()).into_owned()).unwrap_or("?".into()),
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
    let line = |prefix: &str, r: &[String; 6]| {
        let mut text = prefix.to_string();
        for (i, width) in widths.iter().enumerate() {
            text.push_str(&format!("{:<width$} ", r[i]));
        }
        text.push_str(&r[5]);
        cut(&text, width)
    };
    lines.push(Line::from(Span::styled(line("   ", &header), Style::new().fg(theme.accent))));
    let mut cursor = None;
    for (i, (node, r)) in nodes.iter().zip(&rows).enumerate() {
        let here = i == view.cursor;
        let mark = node.id.as_ref().is_some_and(|id| view.marks.contains(id));
        let prefix = format!("{}{} ", if here { "▶" } else { " " }, if mark { "✓" } else { " " });
        let bad = r[5] != "·" && r[5] != "exit 0";
        let mut style = if bad { Style::new().fg(theme.bad) } else { Style::new() };
        if here {
            style = style.add_modifier(Modifier::REVERSED);
            cursor = Some(lines.len());
        }
        if mark {
            style = style.add_modifier(Modifier::BOLD);
        }
        lines.push(Line::from(Span::styled(line(&prefix, r), style)));
    }
    cursor
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
