//! The pool table: its rows (filtered, sorted, with rows for pools a run deleted), the selection
//! that follows its pool, marks, and the keys that move and act on them.

use super::app::{App, Screen};
use super::columns::Column;
use super::details::DetailTab;
use super::filter::TextFilter;
use super::keys::KeyAction;
use super::messages::Command;
use crate::batch::PoolSummary;
use crossterm::event::KeyCode;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

/// What the rows were made of: `App::generation`, the filter's text, the sort.
pub(super) type RowsKey = (u64, String, (Column, bool));

impl App {
    /// Indices into `pools` of the rows shown: filtered (id, state, VM size) and sorted. Made
    /// again only when what they depend on changed, so a frame of ten thousand pools, or a
    /// refresh that changed nothing, sorts nothing.
    pub fn rows(&self) -> Rc<[usize]> {
        let key: RowsKey = (self.generation, self.filter.text().to_string(), self.sort);
        if let Some((made_of, rows)) = &*self.rows_cache.borrow()
            && *made_of == key
        {
            return rows.clone();
        }
        let rows: Rc<[usize]> = self.make_rows().into();
        *self.rows_cache.borrow_mut() = Some((key, rows.clone()));
        rows
    }

    fn make_rows(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.pools.len())
            .filter(|&i| {
                let p = &self.pools[i];
                let state = p.state.as_ref().map(|s| s.as_str()).unwrap_or("");
                self.filter.matches([p.id(), state, p.vm_size.as_deref().unwrap_or("")])
            })
            .collect();
        let (column, ascending) = self.sort;
        rows.sort_by(|&a, &b| {
            let (pa, pb) = (&self.pools[a], &self.pools[b]);
            let order = column.compare(self, pa, pb).then_with(|| pa.id().cmp(pb.id()));
            if ascending { order } else { order.reverse() }
        });
        rows
    }

    pub fn selected_pool(&self) -> Option<&PoolSummary> {
        self.rows().get(self.selected).map(|&i| &self.pools[i])
    }

    /// What a key acts on: the pool on screen in details, else the marked pools, else the
    /// selected one.
    pub fn targets(&self) -> Vec<String> {
        if let Screen::Detail(id) = &self.screen {
            return vec![id.clone()];
        }
        if self.marks.is_empty() {
            self.selected_pool().map(|p| vec![p.id().to_string()]).unwrap_or_default()
        } else {
            self.marks.iter().cloned().collect()
        }
    }

    /// A pool listing arrived (None: the very pools of the last one): the table shows it,
    /// keeping the selection on its pool. A listing that changed nothing costs no sorting and
    /// no drawing; the same pools again cost no comparing either.
    pub(super) fn on_refreshed(&mut self, result: Result<Option<Vec<PoolSummary>>, String>) -> Vec<Command> {
        match result {
            Ok(listing) => {
                let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                let ghosts = self.ghosts_of(listing.as_deref().unwrap_or(&self.pools[..self.listed_rows]));
                let unchanged = ghosts == self.ghosts
                    && match &listing {
                        None => self.pools.len() == self.listed_rows + ghosts.len(),
                        Some(pools) => {
                            self.pools.len() == pools.len() + ghosts.len()
                                && self.pools.iter().zip(pools).all(|(a, b)| a == b)
                        }
                    };
                if !unchanged {
                    self.pools = listing.unwrap_or_else(|| self.pools[..self.listed_rows].to_vec());
                    self.listed_rows = self.pools.len();
                    self.ghosts = ghosts;
                    for id in &self.ghosts {
                        self.pools.push(PoolSummary { id: Some(self.gone[id].clone()), ..Default::default() });
                    }
                    self.generation += 1;
                    self.keep_selection(selected);
                }
                self.dirty |= !unchanged || self.last_refresh.is_none() || self.refresh_error.is_some();
                self.last_refresh = Some(self.now);
                self.refresh_error = None;
                self.refresh_failures = 0;
                let mut commands = vec![Command::NodeCountsFor(self.visible_ids())];
                commands.extend(self.nodes_command());
                commands.extend(self.jobs_command());
                commands
            }
            Err(e) => {
                self.dirty = true;
                self.log(format!("refresh failed: {e}"), true);
                self.refresh_error = Some(e);
                self.refresh_failures += 1;
                vec![]
            }
        }
    }

    /// A page of the first listing: its pools are shown at once, merged with the pages before
    /// (the whole listing, when it comes, replaces them); the selection stays on its pool.
    pub(super) fn on_page(&mut self, page: Vec<PoolSummary>) {
        let selected = self.selected_pool().map(|p| p.id().to_lowercase());
        let at: HashMap<String, usize> =
            self.pools.iter().enumerate().map(|(i, p)| (p.id().to_lowercase(), i)).collect();
        for pool in page {
            match at.get(&pool.id().to_lowercase()) {
                Some(&i) => self.pools[i] = pool,
                None => self.pools.push(pool),
            }
        }
        // Pages come only before the first whole listing: no ghost rows yet.
        self.listed_rows = self.pools.len();
        self.generation += 1;
        self.keep_selection(selected);
    }

    /// Pools a run deleted and has not created again that `pools` lacks: their rows stay on
    /// screen (and selectable, so `n` can create them) until the account has them again.
    fn ghosts_of(&self, pools: &[PoolSummary]) -> BTreeSet<String> {
        if self.gone.is_empty() {
            return BTreeSet::new();
        }
        let live: BTreeSet<String> = pools.iter().map(|p| p.id().to_lowercase()).collect();
        self.gone.keys().filter(|id| !live.contains(*id)).cloned().collect()
    }

    /// The selection stays on the pool it was on, wherever that pool's row moved.
    pub(super) fn keep_selection(&mut self, id: Option<String>) {
        let rows = self.rows();
        self.selected = id
            .and_then(|id| rows.iter().position(|&i| self.pools[i].id().eq_ignore_ascii_case(&id)))
            .unwrap_or_else(|| self.selected.min(rows.len().saturating_sub(1)));
    }

    /// Gone pools the account really lacks (ids as the run spells them).
    pub fn ghost_ids(&self) -> Vec<String> {
        self.ghosts.iter().filter_map(|id| self.gone.get(id).cloned()).collect()
    }

    /// Ids of the rows that fit on screen (node counts are fetched for those only).
    pub fn visible_ids(&self) -> Vec<String> {
        let rows = self.rows();
        let start = self.offset.min(rows.len());
        let end = (start + self.page_rows.max(1)).min(rows.len());
        rows[start..end].iter().map(|&i| self.pools[i].id().to_string()).collect()
    }

    /// A key while the table's `/` filter is typed.
    pub(super) fn on_filter_key(&mut self, key: KeyCode) {
        let selected = self.selected_pool().map(|p| p.id().to_lowercase());
        self.filter_editing = edit_filter(&mut self.filter, key);
        self.keep_selection(selected);
        // The header may cut it: the status line wraps, so why it is read literally is readable.
        if let Some(why) = self.filter.literal_because() {
            let text = format!("filter '{}' is matched literally: not a regex ({why})", self.filter.text());
            self.say(text);
        }
    }

    pub(super) fn on_table_key(&mut self, action: KeyAction) -> Vec<Command> {
        let rows = self.rows().len();
        let last = rows.saturating_sub(1);
        match action {
            KeyAction::Down => self.selected = (self.selected + 1).min(last),
            KeyAction::Up => self.selected = self.selected.saturating_sub(1),
            KeyAction::Top => self.selected = 0,
            KeyAction::Bottom => self.selected = last,
            KeyAction::PageDown => self.selected = (self.selected + self.page_rows.max(1)).min(last),
            KeyAction::PageUp => self.selected = self.selected.saturating_sub(self.page_rows.max(1)),
            KeyAction::Mark => {
                if let Some(id) = self.selected_pool().map(|p| p.id().to_string())
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.selected = (self.selected + 1).min(last);
            }
            KeyAction::MarkAll => {
                let ids: Vec<String> = self.rows().iter().map(|&i| self.pools[i].id().to_string()).collect();
                self.marks.extend(ids);
            }
            KeyAction::ClearMarks => self.marks.clear(),
            KeyAction::Filter => self.filter_editing = true,
            KeyAction::Sort => {
                let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                let (column, ascending) = self.sort;
                let at = Column::ALL.iter().position(|c| *c == column).unwrap_or(0);
                self.sort = if ascending { (column, false) } else { (Column::ALL[(at + 1) % Column::ALL.len()], true) };
                self.keep_selection(selected);
                self.say(format!("sorted by {} {}", self.sort.0.name(), if self.sort.1 { "↑" } else { "↓" }));
            }
            KeyAction::Details => {
                if let Some(id) = self.selected_pool().map(|p| p.id().to_string()) {
                    return self.open_details(id, DetailTab::Summary);
                }
            }
            KeyAction::Back => {
                if !self.filter.is_empty() {
                    let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                    self.filter.clear();
                    self.keep_selection(selected);
                } else {
                    self.status = None;
                }
            }
            KeyAction::Plan => return self.plan(),
            KeyAction::NextStep => return self.start(true),
            KeyAction::Run => return self.start(false),
            KeyAction::Heal => return self.start_heal(),
            KeyAction::Resume => return self.ask_resume(0),
            KeyAction::Abandon => self.say("abandon works in the runs view (U)"),
            KeyAction::Resize => return self.open_resize(),
            KeyAction::Autoscale => return self.open_autoscale(),
            KeyAction::Write => self.say("w writes a pool's JSON from its details: enter opens them"),
            KeyAction::ErrorsOnly => self.say("e shows only errors in the activity log: l opens it"),
            _ => {}
        }
        vec![]
    }
}

/// Edits a `/` filter; false once enter keeps it or esc clears it.
pub(super) fn edit_filter(filter: &mut TextFilter, key: KeyCode) -> bool {
    match key {
        KeyCode::Enter => return false,
        KeyCode::Esc => {
            filter.clear();
            return false;
        }
        KeyCode::Backspace => filter.pop(),
        KeyCode::Char(c) => filter.push(c),
        _ => {}
    }
    true
}
