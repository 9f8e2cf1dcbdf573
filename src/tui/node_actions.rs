//! The nodes section's cursor, marks and actions: reboot, remove, disable/enable scheduling on
//! the marked nodes (or the one under the cursor), each confirmed, and a node's start task
//! output in a scrollable view.

use super::app::App;
use super::calls::{Answer, Call};
use super::keys::KeyAction;
use super::messages::Command;
use crate::batch::{Node, NodeDeallocationOption};
use crate::output::escape;
use std::collections::BTreeSet;

/// The nodes last listed for the pool open in details, and what the operator chose among them.
#[derive(Clone, Debug)]
pub struct NodesView {
    pub pool: String,
    pub nodes: Result<Vec<Node>, String>,
    pub at: jiff::Timestamp,
    /// The node under the cursor (an index into `nodes`).
    pub cursor: usize,
    /// Marked node ids: actions take these, else the node under the cursor.
    pub marks: BTreeSet<String>,
    /// A node's start task output, shown instead of the list while open.
    pub output: Option<StartTaskOutput>,
}

/// A node's `startup/stdout.txt` and `stderr.txt`, escaped; `None` while they are read.
#[derive(Clone, Debug)]
pub struct StartTaskOutput {
    pub node: String,
    pub lines: Option<Vec<String>>,
}

/// Lines of each file shown: a longer file shows its tail, and says so.
pub const OUTPUT_TAIL: usize = 400;

/// At most this many nodes a removal (the service's limit per request).
const MAX_REMOVE: usize = 100;

impl NodesView {
    /// A new listing keeps the cursor on its node and the marks on nodes still there.
    pub fn refreshed(
        previous: Option<NodesView>,
        pool: String,
        nodes: Result<Vec<Node>, String>,
        at: jiff::Timestamp,
    ) -> Self {
        let previous = previous.filter(|p| p.pool.eq_ignore_ascii_case(&pool));
        let mut view = NodesView { pool, nodes, at, cursor: 0, marks: BTreeSet::new(), output: None };
        let Some(previous) = previous else { return view };
        view.output = previous.output;
        let ids: Vec<String> = view.listed().iter().map(|n| n.id.clone().unwrap_or_default()).collect();
        view.marks = previous.marks.into_iter().filter(|m| ids.contains(m)).collect();
        let under = previous.nodes.as_ref().ok().and_then(|n| n.get(previous.cursor)).and_then(|n| n.id.clone());
        view.cursor = under
            .and_then(|id| ids.iter().position(|i| *i == id))
            .unwrap_or(previous.cursor.min(ids.len().saturating_sub(1)));
        view
    }

    /// The nodes listed (none when the listing failed).
    pub fn listed(&self) -> &[Node] {
        self.nodes.as_deref().unwrap_or(&[])
    }

    /// What an action takes: the marked nodes, else the one under the cursor.
    pub fn chosen(&self) -> Vec<&Node> {
        let nodes = self.listed();
        if self.marks.is_empty() {
            return nodes.get(self.cursor).into_iter().collect();
        }
        nodes.iter().filter(|n| n.id.as_ref().is_some_and(|id| self.marks.contains(id))).collect()
    }
}

impl App {
    /// Keys of the nodes section; `None` leaves the key to details (scrolling the output, tabs).
    pub(super) fn on_nodes_key(&mut self, action: KeyAction) -> Option<Vec<Command>> {
        let page = self.page_rows.max(1);
        let view = self.nodes.as_mut()?;
        if view.output.is_some() {
            if action == KeyAction::Back {
                view.output = None;
                self.detail_scroll = 0;
                return Some(vec![]);
            }
            return None;
        }
        let last = view.listed().len().saturating_sub(1);
        match action {
            KeyAction::Down => view.cursor = (view.cursor + 1).min(last),
            KeyAction::Up => view.cursor = view.cursor.saturating_sub(1),
            KeyAction::PageDown => view.cursor = (view.cursor + page).min(last),
            KeyAction::PageUp => view.cursor = view.cursor.saturating_sub(page),
            KeyAction::Top => view.cursor = 0,
            KeyAction::Bottom => view.cursor = last,
            KeyAction::Mark => {
                let id = view.listed().get(view.cursor).and_then(|n| n.id.clone())?;
                if !view.marks.remove(&id) {
                    view.marks.insert(id);
                }
                view.cursor = (view.cursor + 1).min(last);
            }
            KeyAction::MarkAll => view.marks = view.listed().iter().filter_map(|n| n.id.clone()).collect(),
            KeyAction::ClearMarks => view.marks.clear(),
            KeyAction::Reboot | KeyAction::RemoveNodes | KeyAction::Scheduling => self.ask_node_action(action),
            KeyAction::StartTaskOutput => return Some(self.open_start_task_output()),
            _ => return None,
        }
        Some(vec![])
    }

    /// The confirmation of a node action on the chosen nodes (remove: typed).
    fn ask_node_action(&mut self, action: KeyAction) {
        let Some(view) = &self.nodes else { return };
        let pool = view.pool.clone();
        let shown = escape(&pool).into_owned();
        if let Some(why) = self.refuse_call(&pool) {
            self.say(why);
            return;
        }
        let chosen = view.chosen();
        if chosen.is_empty() {
            self.say("no node under the cursor");
            return;
        }
        let ids: Vec<String> = chosen.iter().filter_map(|n| n.id.clone()).collect();
        let enabled = chosen.iter().any(|n| n.scheduling_state.as_deref() != Some("disabled"));
        let mut lines = node_lines(&chosen);
        let option = NodeDeallocationOption::TaskCompletion;
        let count = ids.len();
        let (title, expected, call) = match action {
            KeyAction::Reboot => {
                lines.push("Each restarts and runs the pool's current start task again.".into());
                (
                    format!("Reboot {count} node(s) of {shown}"),
                    "",
                    Call::Reboot { pool: pool.clone(), nodes: ids, option },
                )
            }
            KeyAction::RemoveNodes => {
                if count > MAX_REMOVE {
                    self.say(format!("{count} nodes marked: at most {MAX_REMOVE} can be removed at once"));
                    return;
                }
                lines.push(format!(
                    "The pool's target drops by {count}; on an autoscale pool the formula's next evaluation sets it again."
                ));
                let call = Call::RemoveNodes { pool: pool.clone(), nodes: ids, option };
                (format!("Remove {count} node(s) from {shown}"), "remove", call)
            }
            _ if enabled => {
                lines.push("They take no new task until scheduling is enabled again.".into());
                let call = Call::DisableScheduling { pool: pool.clone(), nodes: ids, option };
                (format!("Disable scheduling on {count} node(s) of {shown}"), "", call)
            }
            _ => {
                let call = Call::EnableScheduling { pool: pool.clone(), nodes: ids };
                (format!("Enable scheduling on {count} node(s) of {shown}"), "", call)
            }
        };
        self.confirm(title, lines, expected, Command::Call(call));
    }

    /// `o`: the start task's stdout and stderr of the node under the cursor.
    fn open_start_task_output(&mut self) -> Vec<Command> {
        let Some(view) = self.nodes.as_mut() else { return vec![] };
        let Some(listed) = view.listed().get(view.cursor) else {
            self.say("no node under the cursor");
            return vec![];
        };
        let Some(node) = listed.id.clone() else { return vec![] };
        // No start task ran on it (the pool has none, or the node is still booting): no files.
        if !listed.rest.contains_key("startTaskInfo") {
            self.say(format!("{}: no start task has run on this node: no output to show", escape(&node)));
            return vec![];
        }
        view.output = Some(StartTaskOutput { node: node.clone(), lines: None });
        let pool = view.pool.clone();
        self.detail_scroll = 0;
        self.send_call(Call::StartTaskOutput { pool, node })
    }

    /// The start task output arrived: shown if that node's output is still open.
    pub(super) fn on_start_task_output(&mut self, pool: &str, node: &str, result: Result<Answer, String>) {
        let Some(view) = self.nodes.as_mut().filter(|v| v.pool.eq_ignore_ascii_case(pool)) else { return };
        let Some(output) = view.output.as_mut().filter(|o| o.node == node) else { return };
        output.lines = Some(match result {
            Ok(Answer::StartTask { stdout, stderr }) => {
                let mut lines = file_lines("stdout.txt", stdout);
                lines.push(String::new());
                lines.extend(file_lines("stderr.txt", stderr));
                lines
            }
            Ok(_) => vec![],
            Err(e) => vec![format!("cannot read the start task output: {}", escape(&e))],
        });
    }
}

/// A file's heading and its last lines, escaped: server text never reaches the terminal raw.
fn file_lines(name: &str, content: Result<String, String>) -> Vec<String> {
    let text = match content {
        Ok(text) => text,
        Err(e) => return vec![format!("── {name}: cannot read it: {}", escape(&e))],
    };
    let all: Vec<&str> = text.lines().collect();
    let heading = match all.len() {
        0 => format!("── {name}: empty"),
        n if n > OUTPUT_TAIL => format!("── {name}: {n} lines, {} bytes; showing the last {OUTPUT_TAIL}", text.len()),
        n => format!("── {name}: {n} line(s)"),
    };
    let start = all.len().saturating_sub(OUTPUT_TAIL);
    std::iter::once(heading).chain(all[start..].iter().map(|l| escape(l).into_owned())).collect()
}

/// The chosen nodes as the confirmation lists them (the first few, then how many more).
fn node_lines(nodes: &[&Node]) -> Vec<String> {
    const SHOWN: usize = 6;
    let mut lines: Vec<String> = nodes
        .iter()
        .take(SHOWN)
        .map(|n| {
            let state = n.state.as_ref().map(|s| s.to_string()).unwrap_or("?".into());
            format!("{}  {}", escape(n.id.as_deref().unwrap_or("?")), escape(&state))
        })
        .collect();
    if nodes.len() > SHOWN {
        lines.push(format!("… and {} more", nodes.len() - SHOWN));
    }
    lines
}
