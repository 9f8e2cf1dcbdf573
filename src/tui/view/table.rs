//! The pool table: only the rows that fit are built, columns sized to what those rows hold.

use super::super::app::App;
use super::super::columns::{self, Column, Placed};
use super::super::theme::Theme;
use crate::batch::{AllocationState, PoolState, PoolSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

fn allocation_color(pool: &PoolSummary, theme: &Theme) -> Color {
    if pool.state == Some(PoolState::Deleting) {
        return theme.bad;
    }
    match pool.allocation_state {
        Some(AllocationState::Steady) => theme.ok,
        Some(_) => theme.warn,
        None => theme.dim,
    }
}

fn color(app: &App, column: Column, pool: &PoolSummary, theme: &Theme) -> Style {
    let style = Style::new();
    match column {
        Column::State if app.ghosts.contains(&pool.id().to_lowercase()) => style.fg(theme.bad),
        // Steady is not healthy when nodes cannot run tasks.
        Column::State | Column::Allocation | Column::Nodes if columns::node_trouble(app, pool.id()).is_some() => {
            style.fg(theme.bad)
        }
        Column::State | Column::Allocation => style.fg(allocation_color(pool, theme)),
        // An end of support alone is a warning, not an error.
        Column::Errors
            if pool.resize_errors.as_ref().is_none_or(Vec::is_empty)
                && columns::node_trouble(app, pool.id()).is_none() =>
        {
            style.fg(theme.warn)
        }
        Column::Errors => style.fg(theme.bad),
        Column::Definition => match columns::definition_label(app, pool.id()) {
            "in sync" => style.fg(theme.ok),
            "in-place" | "changes" | "create" => style.fg(theme.warn),
            _ => style.fg(theme.dim),
        },
        _ => style,
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
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
    let visible: Vec<&PoolSummary> = rows[app.offset.min(rows.len())..(app.offset + app.page_rows).min(rows.len())]
        .iter()
        .map(|&i| &app.pools[i])
        .collect();
    // Borders, the mark column and the highlight symbol take four cells.
    let available = (area.width as usize).saturating_sub(5);
    let measure = |column: Column, short: bool| {
        let widest = visible.iter().map(|p| Line::raw(column.text(app, p, short)).width()).max().unwrap_or(0);
        widest.max(column.header(short).len() + usize::from(app.sort.0 == column))
    };
    let placed: Vec<Placed> = columns::fit(available, measure);
    let body: Vec<Row> = visible
        .iter()
        .map(|p| {
            let marked = app.marks.contains(p.id());
            let mut cells = vec![Cell::from(if marked { "✓" } else { " " }).style(Style::new().fg(theme.accent))];
            cells.extend(placed.iter().map(|c| {
                Cell::from(columns::cut(&c.column.text(app, p, c.short), c.width)).style(color(app, c.column, p, theme))
            }));
            let row = Row::new(cells);
            if marked { row.add_modifier(Modifier::BOLD) } else { row }
        })
        .collect();
    let header = Row::new(
        std::iter::once(String::new())
            .chain(placed.iter().map(|c| {
                let sorted = app.sort.0 == c.column;
                let arrow = if !sorted {
                    ""
                } else if app.sort.1 {
                    "↑"
                } else {
                    "↓"
                };
                columns::cut(&format!("{}{arrow}", c.column.header(c.short)), c.width)
            }))
            .collect::<Vec<_>>(),
    )
    .style(Style::new().fg(theme.accent).add_modifier(Modifier::BOLD));
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(1))
        .chain(placed.iter().map(|c| Constraint::Length(c.width as u16)))
        .collect();
    let title = format!(" pools {}/{} ", if rows.is_empty() { 0 } else { app.selected + 1 }, rows.len());
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::bordered().title(title).border_style(Style::new().fg(theme.dim)))
        .row_highlight_style(Style::new().bg(theme.selected).add_modifier(Modifier::BOLD))
        .highlight_symbol("▶");
    let mut state = TableState::default().with_selected((!rows.is_empty()).then(|| app.selected - app.offset));
    frame.render_stateful_widget(table, area, &mut state);
}
