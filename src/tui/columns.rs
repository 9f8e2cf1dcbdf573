//! The pool table's columns: what each shows, how it sorts, and how the set fits a terminal.
//! Widths come from the visible rows' content; a narrow terminal first abbreviates (short
//! headers, `standard_` dropped from VM sizes), then shortens the id and error text, then drops
//! whole columns in a fixed order. Age, state and allocation are never cut.

use super::app::App;
use crate::batch::retirements::{self, Retirement};
use crate::batch::{NodeCounts, PoolSummary};
use crate::definition::plan::Action as PlanAction;
use crate::output::age;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Id,
    /// Since the pool was created: which pools are due for their periodic recreation.
    Age,
    State,
    Allocation,
    Autoscale,
    Dedicated,
    LowPriority,
    /// Node counts: idle / running / starting / unusable.
    Nodes,
    VmSize,
    Errors,
    /// Definition vs live.
    Definition,
}

/// Dropped first to last when even abbreviated columns do not fit.
const DROP_ORDER: [Column; 7] = [
    Column::LowPriority,
    Column::Autoscale,
    Column::Nodes,
    Column::VmSize,
    Column::Dedicated,
    Column::Age,
    Column::Errors,
];

/// A column may be shortened to this width (with `…`) rather than dropped.
fn shortest(column: Column) -> Option<usize> {
    match column {
        Column::Id => Some(12),
        Column::Errors => Some(8),
        _ => None,
    }
}

impl Column {
    pub const ALL: [Column; 11] = [
        Column::Id,
        Column::Age,
        Column::State,
        Column::Allocation,
        Column::Autoscale,
        Column::Dedicated,
        Column::LowPriority,
        Column::Nodes,
        Column::VmSize,
        Column::Errors,
        Column::Definition,
    ];

    /// The name in the header line, `:sort NAME` and help.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Age => "age",
            Column::State => "state",
            Column::Allocation => "allocation",
            Column::Autoscale => "autoscale",
            Column::Dedicated => "dedicated",
            Column::LowPriority => "low-pri",
            Column::Nodes => "nodes",
            Column::VmSize => "vm-size",
            Column::Errors => "errors",
            Column::Definition => "definition",
        }
    }

    pub fn header(self, short: bool) -> &'static str {
        match (self, short) {
            (Column::Id, _) => "ID",
            (Column::Age, _) => "AGE",
            (Column::State, _) => "STATE",
            (Column::Allocation, false) => "ALLOCATION",
            (Column::Allocation, true) => "ALLOC",
            (Column::Autoscale, _) => "AUTO",
            (Column::Dedicated, false) => "DEDICATED",
            (Column::Dedicated, true) => "DED",
            (Column::LowPriority, false) => "LOW-PRI",
            (Column::LowPriority, true) => "LOW",
            (Column::Nodes, false) => "NODES i/r/s/u",
            (Column::Nodes, true) => "i/r/s/u",
            (Column::VmSize, false) => "VM SIZE",
            (Column::VmSize, true) => "VM",
            (Column::Errors, _) => "ERRORS",
            (Column::Definition, false) => "DEFINITION",
            (Column::Definition, true) => "DEF",
        }
    }

    /// What pool `p` shows in this column; `short` abbreviates where that loses nothing.
    pub fn text(self, app: &App, p: &PoolSummary, short: bool) -> String {
        let id = p.id();
        match self {
            Column::Id => id.to_string(),
            Column::Age => p.creation_time.map(|t| age(app.account_now(), t)).unwrap_or_default(),
            Column::State if app.ghosts.contains(&id.to_lowercase()) => "DELETED".into(),
            Column::State => p.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            Column::Allocation => format!(
                "{} {}",
                p.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
                p.allocation_state_transition_time.map(|t| age(app.account_now(), t)).unwrap_or_default()
            ),
            Column::Autoscale => (if p.autoscale() { "on" } else { "off" }).into(),
            Column::Dedicated => {
                format!("{}/{}", p.current_dedicated_nodes.unwrap_or(0), p.target_dedicated_nodes.unwrap_or(0))
            }
            Column::LowPriority => {
                format!("{}/{}", p.current_low_priority_nodes.unwrap_or(0), p.target_low_priority_nodes.unwrap_or(0))
            }
            Column::Nodes => node_counts(app, id)
                .map(|[idle, running, starting, unusable]| format!("{idle}/{running}/{starting}/{unusable}"))
                .unwrap_or_else(|| "·".into()),
            Column::VmSize => {
                let size = p.vm_size.clone().unwrap_or_default();
                if short { size.strip_prefix("standard_").map(str::to_string).unwrap_or(size) } else { size }
            }
            Column::Errors => match (p.resize_errors.as_ref().and_then(|e| e.first()), node_trouble(app, id)) {
                (Some(e), _) => format!("⚠ {}", e.code),
                (None, Some(trouble)) => format!("⚠ {trouble}"),
                (None, None) => end_of_support(app, p).unwrap_or_default(),
            },
            Column::Definition => definition_label(app, id).to_string(),
        }
    }

    /// Rows compare by this column, ties by id.
    pub fn compare(self, app: &App, a: &PoolSummary, b: &PoolSummary) -> Ordering {
        let text = |p: &PoolSummary| self.text(app, p, false);
        match self {
            Column::Id => lowered(a.id()).cmp(lowered(b.id())),
            // Oldest first when ascending: the pools most due for recreation.
            Column::Age => a.creation_time.cmp(&b.creation_time),
            Column::Autoscale => a.autoscale().cmp(&b.autoscale()),
            Column::Dedicated => a.current_dedicated_nodes.cmp(&b.current_dedicated_nodes),
            Column::LowPriority => a.current_low_priority_nodes.cmp(&b.current_low_priority_nodes),
            Column::Nodes => node_counts(app, a.id()).cmp(&node_counts(app, b.id())),
            // Pools with errors first, then those whose support ends.
            Column::Errors => {
                let rank = |t: &str| if t.is_empty() { 2 } else { u8::from(t.starts_with(RETIRING_MARK)) };
                let (a, b) = (text(a), text(b));
                rank(&a).cmp(&rank(&b)).then_with(|| a.cmp(&b))
            }
            // By state, then the longest in it first (the text's age would sort as text).
            Column::Allocation => (a.allocation_state.as_ref().map(|s| s.as_str()), a.allocation_state_transition_time)
                .cmp(&(b.allocation_state.as_ref().map(|s| s.as_str()), b.allocation_state_transition_time)),
            Column::State | Column::VmSize | Column::Definition => text(a).cmp(&text(b)),
        }
    }

    pub fn from_name(name: &str) -> Option<Column> {
        let name = name.to_lowercase().replace(' ', "-");
        Column::ALL.into_iter().find(|c| c.name() == name || c.name().starts_with(&name) && !name.is_empty())
    }
}

/// An id's letters lower-cased, without making a new string (sorting thousands of rows).
fn lowered(id: &str) -> impl Iterator<Item = u8> + '_ {
    id.bytes().map(|b| b.to_ascii_lowercase())
}

/// Batch is retiring what the pool runs on: in the errors column (when nothing is wrong) and the
/// details, which say what and when.
pub const RETIRING_MARK: &str = "†";

/// "† EOL 2027-06-30": the first date Batch stops supporting the pool's VM family or image.
pub fn end_of_support(app: &App, p: &PoolSummary) -> Option<String> {
    let found = retiring(app, p);
    let first = found.iter().filter_map(|r| r.ends).min();
    match (found.is_empty(), first) {
        (true, _) => None,
        (false, Some(day)) => Some(format!("{RETIRING_MARK} EOL {day}")),
        (false, None) => Some(format!("{RETIRING_MARK} retiring")),
    }
}

/// What pool `p` runs on that Batch is retiring: its VM family, and its image once its full body
/// has been read (the table's own listing selects neither image nor node agent).
pub fn retiring(app: &App, p: &PoolSummary) -> Vec<&'static Retirement> {
    let family = p.vm_size.as_deref().and_then(retirements::of_vm_size);
    family.into_iter().chain(app.facts(p.id()).and_then(|f| f.image_retiring)).collect()
}

/// Idle, running, starting (incl. creating and waiting for the start task), unusable (incl. start
/// task failed), over dedicated and low-priority nodes.
fn node_counts(app: &App, id: &str) -> Option<[u32; 4]> {
    let c = app.node_counts.get(&id.to_lowercase())?;
    let n = |f: fn(&NodeCounts) -> u32| f(&c.dedicated) + f(&c.low_priority);
    Some([
        n(|c| c.idle),
        n(|c| c.running),
        n(|c| c.starting + c.creating + c.waiting_for_start_task),
        n(|c| c.unusable + c.start_task_failed),
    ])
}

/// Nodes that cannot run tasks ("1 start task failed", "2 unusable"), if the pool has any.
pub fn node_trouble(app: &App, id: &str) -> Option<String> {
    let c = app.node_counts.get(&id.to_lowercase())?;
    let failed = c.dedicated.start_task_failed + c.low_priority.start_task_failed;
    let unusable = c.dedicated.unusable + c.low_priority.unusable;
    let parts: Vec<String> = [(failed, "start task failed"), (unusable, "unusable")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub fn definition_label(app: &App, id: &str) -> &'static str {
    // A pool a run deleted is created again from the definition, whatever the last plan said.
    if app.ghosts.contains(&id.to_lowercase()) && app.definition.as_ref().is_some_and(|d| d.pool(id).is_some()) {
        return "create";
    }
    match (app.definition_status(id), &app.definition) {
        (Some(PlanAction::Unchanged), _) => "in sync",
        (Some(PlanAction::UpdateInPlace), _) => "in-place",
        (Some(PlanAction::Recreate), _) => "changes",
        (Some(PlanAction::Create), _) => "create",
        (None, Some(d)) if d.pool(id).is_some() => "…",
        (None, Some(_)) => "not in def",
        (None, None) => "",
    }
}

/// A column as laid out: its width and whether its header and content are abbreviated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub column: Column,
    pub width: usize,
    pub short: bool,
}

/// Fits the columns into `available` cells (gaps of one between them). `measure(column, short)`
/// is the widest content of the visible rows, header included.
pub fn fit(available: usize, measure: impl Fn(Column, bool) -> usize) -> Vec<Placed> {
    let total = |placed: &[Placed]| placed.iter().map(|p| p.width).sum::<usize>() + placed.len().saturating_sub(1);
    let mut placed: Vec<Placed> =
        Column::ALL.iter().map(|&column| Placed { column, width: measure(column, false), short: false }).collect();
    if total(&placed) <= available {
        return placed;
    }
    for p in &mut placed {
        p.short = true;
        p.width = measure(p.column, true);
    }
    for column in [Column::Errors, Column::Id] {
        let over = total(&placed).saturating_sub(available);
        if let Some(p) = placed.iter_mut().find(|p| p.column == column)
            && let Some(min) = shortest(column)
        {
            p.width = p.width.saturating_sub(over).max(min.min(p.width));
        }
    }
    for column in DROP_ORDER {
        if total(&placed) <= available {
            break;
        }
        placed.retain(|p| p.column != column);
    }
    placed
}

/// `text` cut to `width` cells, ending in `…` when it was longer.
pub fn cut(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let full: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if full <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(full: usize) -> impl Fn(Column, bool) -> usize {
        move |c, short| match c {
            Column::Id => full,
            Column::VmSize if short => 7,
            Column::VmSize => 16,
            Column::Errors => 18,
            c => c.header(short).len().max(4),
        }
    }

    #[test]
    fn wide_terminals_get_every_column_at_full_width() {
        let placed = fit(200, widths(12));
        assert_eq!(placed.len(), Column::ALL.len());
        assert!(placed.iter().all(|p| !p.short));
    }

    #[test]
    fn narrow_terminals_abbreviate_then_shorten_then_drop_in_order() {
        let placed = fit(77, widths(12));
        let kept: Vec<Column> = placed.iter().map(|p| p.column).collect();
        for never in [Column::Id, Column::State, Column::Allocation, Column::Definition, Column::Age] {
            assert!(kept.contains(&never), "{never:?} kept at 80 columns: {kept:?}");
        }
        assert!(placed.iter().all(|p| p.short));
        let total: usize = placed.iter().map(|p| p.width).sum::<usize>() + placed.len() - 1;
        assert!(total <= 77, "{total}");
        // A very long id is shortened, not allowed to push state and allocation off the screen.
        let placed = fit(77, widths(60));
        let id = placed.iter().find(|p| p.column == Column::Id).unwrap();
        assert!(id.width < 60 && id.width >= 12, "{id:?}");
        assert!(placed.iter().any(|p| p.column == Column::Allocation));
        // What goes is LOW-PRI before AUTO before NODES.
        let kept = |n| fit(n, widths(12)).iter().map(|p| p.column).collect::<Vec<_>>();
        let narrower = kept(60);
        assert!(!narrower.contains(&Column::LowPriority));
        assert!(kept(77).len() >= narrower.len());
    }

    #[test]
    fn cut_marks_what_it_cut() {
        assert_eq!(cut("⚠ AccountCoreQuota", 8), "⚠ Accou…");
        assert_eq!(cut("steady", 8), "steady");
    }
}
