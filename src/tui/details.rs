//! A pool's details: its sections (summary, plan, nodes, JSON), how far each is scrolled, the
//! nodes listed while the nodes section shows, and writing the (redacted) body to a file.

use super::app::{App, Screen};
use super::keys::KeyAction;
use super::messages::Command;
use super::node_actions::NodesView;
use crate::batch::{Node, Pool};

/// The sections of a pool's details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailTab {
    Summary,
    Plan,
    /// The pool's nodes; while it drains, which still hold tasks.
    Nodes,
    Json,
}

impl DetailTab {
    pub const ALL: [DetailTab; 4] = [DetailTab::Summary, DetailTab::Plan, DetailTab::Nodes, DetailTab::Json];

    pub fn name(self) -> &'static str {
        match self {
            DetailTab::Summary => "summary",
            DetailTab::Plan => "plan",
            DetailTab::Nodes => "nodes",
            DetailTab::Json => "json",
        }
    }

    fn step(self, forward: bool) -> DetailTab {
        let at = DetailTab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        let n = DetailTab::ALL.len();
        DetailTab::ALL[if forward { (at + 1) % n } else { (at + n - 1) % n }]
    }
}

impl App {
    /// In details every key acts on the pool shown; the table's keys do not reach it.
    pub(super) fn on_detail_key(&mut self, action: KeyAction) -> Vec<Command> {
        let Screen::Detail(id) = self.screen.clone() else { return vec![] };
        let page = self.page_rows.max(1);
        let last = self.detail_lines.saturating_sub(1);
        if self.detail_tab == DetailTab::Nodes
            && let Some(commands) = self.on_nodes_key(action)
        {
            return commands;
        }
        match action {
            KeyAction::Back => {
                self.screen = Screen::Table;
                self.nodes = None;
            }
            KeyAction::NextTab | KeyAction::PrevTab => {
                self.detail_tab = self.detail_tab.step(action == KeyAction::NextTab);
                self.detail_scroll = 0;
                return self.nodes_command().into_iter().collect();
            }
            KeyAction::Down => self.detail_scroll = (self.detail_scroll + 1).min(last),
            KeyAction::Up => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            KeyAction::PageDown => self.detail_scroll = (self.detail_scroll + page).min(last),
            KeyAction::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(page),
            KeyAction::Top => self.detail_scroll = 0,
            KeyAction::Bottom => self.detail_scroll = last,
            KeyAction::Write => return self.write_json(&id),
            KeyAction::NextStep => return self.start(true),
            KeyAction::Run => return self.start(false),
            KeyAction::Heal => return self.start_heal(),
            KeyAction::Resume => return self.ask_resume(0),
            KeyAction::Plan => return self.plan(),
            KeyAction::Resize => return self.open_resize(),
            KeyAction::Autoscale => return self.open_autoscale(),
            KeyAction::Reboot | KeyAction::RemoveNodes | KeyAction::Scheduling | KeyAction::StartTaskOutput => {
                self.say("node actions are in the nodes section (tab to it, or :nodes)")
            }
            KeyAction::Jobs => return self.open_jobs(id),
            _ => self.say("details: tab switches section, j/k scroll, w writes the JSON, esc returns"),
        }
        vec![]
    }

    /// Opens pool `id`'s details at `tab`.
    pub(super) fn open_details(&mut self, id: String, tab: DetailTab) -> Vec<Command> {
        self.screen = Screen::Detail(id.clone());
        self.detail_tab = tab;
        self.detail_scroll = 0;
        self.nodes = None;
        let mut commands = vec![Command::FullPool(id)];
        commands.extend(self.nodes_command());
        commands
    }

    /// `w`: the pool's body as the details show it (secrets hidden) to a file of its own.
    fn write_json(&mut self, id: &str) -> Vec<Command> {
        let Some(full) = self.full_pools.get(&id.to_lowercase()) else {
            self.say("the pool's properties are not loaded yet; try again in a moment");
            return vec![];
        };
        vec![Command::WriteJson { pool: id.to_string(), body: self.shown_body(id, full) }]
    }

    /// A live body with its secrets hidden, as every screen shows it.
    pub fn shown_body(&self, id: &str, pool: &Pool) -> serde_json::Value {
        let body = serde_json::to_value(pool).unwrap_or_default();
        match &self.definition {
            Some(definition) => definition.redacted(id, &body),
            None => crate::definition::redact::redact(&body, None),
        }
    }

    /// Lists the open pool's nodes when its nodes tab shows.
    pub(super) fn nodes_command(&self) -> Option<Command> {
        match &self.screen {
            Screen::Detail(id) if self.detail_tab == DetailTab::Nodes => Some(Command::NodesFor(id.clone())),
            _ => None,
        }
    }

    /// Only the pool still open in details keeps its answer.
    pub(super) fn on_nodes(&mut self, pool: String, result: Result<Vec<Node>, String>) {
        if matches!(&self.screen, Screen::Detail(id) if id.eq_ignore_ascii_case(&pool)) {
            if let Err(e) = &result {
                self.log(format!("listing the nodes of {pool} failed: {e}"), true);
            }
            self.nodes = Some(NodesView::refreshed(self.nodes.take(), pool, result, self.now));
        }
    }
}
