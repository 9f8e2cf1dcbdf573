//! Key bindings: k9s-like defaults, rebindable under `[keys]` in config.toml
//! (`mark = "x"`, `run = "ctrl-r"`, …).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

/// What a key asks for; each screen reads it its own way (`j` moves the table's selection,
/// scrolls details and the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Mark,
    MarkAll,
    ClearMarks,
    Filter,
    Sort,
    Details,
    Back,
    NextTab,
    PrevTab,
    Write,
    Jobs,
    ErrorsOnly,
    Command,
    Plan,
    NextStep,
    Run,
    Heal,
    Cancel,
    Resume,
    Runs,
    Abandon,
    Reboot,
    RemoveNodes,
    Scheduling,
    StartTaskOutput,
    Resize,
    Autoscale,
    Refresh,
    Repaint,
    Log,
    Help,
    Quit,
}

impl KeyAction {
    pub const ALL: [KeyAction; 38] = [
        KeyAction::Down,
        KeyAction::Up,
        KeyAction::Top,
        KeyAction::Bottom,
        KeyAction::PageDown,
        KeyAction::PageUp,
        KeyAction::Mark,
        KeyAction::MarkAll,
        KeyAction::ClearMarks,
        KeyAction::Filter,
        KeyAction::Sort,
        KeyAction::Details,
        KeyAction::Back,
        KeyAction::NextTab,
        KeyAction::PrevTab,
        KeyAction::Write,
        KeyAction::Jobs,
        KeyAction::ErrorsOnly,
        KeyAction::Command,
        KeyAction::Plan,
        KeyAction::NextStep,
        KeyAction::Run,
        KeyAction::Heal,
        KeyAction::Cancel,
        KeyAction::Resume,
        KeyAction::Runs,
        KeyAction::Abandon,
        KeyAction::Reboot,
        KeyAction::RemoveNodes,
        KeyAction::Scheduling,
        KeyAction::StartTaskOutput,
        KeyAction::Resize,
        KeyAction::Autoscale,
        KeyAction::Refresh,
        KeyAction::Repaint,
        KeyAction::Log,
        KeyAction::Help,
        KeyAction::Quit,
    ];

    /// The name used in config.toml.
    pub fn name(self) -> &'static str {
        match self {
            KeyAction::Down => "down",
            KeyAction::Up => "up",
            KeyAction::Top => "top",
            KeyAction::Bottom => "bottom",
            KeyAction::PageDown => "page-down",
            KeyAction::PageUp => "page-up",
            KeyAction::Mark => "mark",
            KeyAction::MarkAll => "mark-all",
            KeyAction::ClearMarks => "clear-marks",
            KeyAction::Filter => "filter",
            KeyAction::Sort => "sort",
            KeyAction::Details => "details",
            KeyAction::Back => "back",
            KeyAction::NextTab => "next-tab",
            KeyAction::PrevTab => "previous-tab",
            KeyAction::Write => "write",
            KeyAction::Jobs => "jobs",
            KeyAction::ErrorsOnly => "errors-only",
            KeyAction::Command => "command",
            KeyAction::Plan => "plan",
            KeyAction::NextStep => "next-step",
            KeyAction::Run => "run",
            KeyAction::Heal => "heal",
            KeyAction::Cancel => "cancel",
            KeyAction::Resume => "resume",
            KeyAction::Runs => "runs",
            KeyAction::Abandon => "abandon",
            KeyAction::Reboot => "reboot-nodes",
            KeyAction::RemoveNodes => "remove-nodes",
            KeyAction::Scheduling => "node-scheduling",
            KeyAction::StartTaskOutput => "start-task-output",
            KeyAction::Resize => "resize",
            KeyAction::Autoscale => "autoscale",
            KeyAction::Refresh => "refresh",
            KeyAction::Repaint => "repaint",
            KeyAction::Log => "log",
            KeyAction::Help => "help",
            KeyAction::Quit => "quit",
        }
    }

    /// What the help says the key does.
    pub fn describe(self) -> &'static str {
        match self {
            KeyAction::Down => "move down",
            KeyAction::Up => "move up",
            KeyAction::Top => "first pool",
            KeyAction::Bottom => "last pool",
            KeyAction::PageDown => "page down",
            KeyAction::PageUp => "page up",
            KeyAction::Mark => "mark / unmark the pool",
            KeyAction::MarkAll => "mark every visible pool",
            KeyAction::ClearMarks => "clear all marks",
            KeyAction::Filter => "filter (regex, ! inverts) the pools or the log",
            KeyAction::Sort => "sort by the next column (again: reverse); :sort NAME",
            KeyAction::Details => "pool details: summary, plan, nodes, JSON",
            KeyAction::Back => "back / close / clear the filter",
            KeyAction::NextTab => "details: next section",
            KeyAction::PrevTab => "details: previous section",
            KeyAction::Write => "details: write the pool's JSON (secrets hidden) to a file",
            KeyAction::Jobs => "details: what runs on the pool: its jobs, enter a job's tasks (:jobs POOL)",
            KeyAction::ErrorsOnly => "log: errors only / everything",
            KeyAction::Command => ":pools :nodes :jobs :ctx :plan :apply :heal :runs :log :sort :q",
            KeyAction::Plan => "plan: definition vs live, for all pools",
            KeyAction::NextStep => "next step on the marked pools, the selected or shown one",
            KeyAction::Run => "new run: recreate the marked, selected or shown pools",
            KeyAction::Heal => "new run: heal the failed nodes of the marked, selected or shown pools",
            KeyAction::Cancel => "cancel the run (after the call in flight)",
            KeyAction::Resume => "resume the newest unfinished run (or the chosen one)",
            KeyAction::Runs => "this account's unfinished runs: resume or abandon",
            KeyAction::Abandon => "runs view: abandon the chosen run (pools untouched)",
            KeyAction::Reboot => "nodes: reboot the marked nodes (or the one under the cursor)",
            KeyAction::RemoveNodes => "nodes: remove the marked nodes from the pool (typed)",
            KeyAction::Scheduling => "nodes: disable / enable scheduling on the marked nodes",
            KeyAction::StartTaskOutput => "nodes: the start task's stdout and stderr of the node",
            KeyAction::Resize => "resize the selected or shown pool (targets, deallocation)",
            KeyAction::Autoscale => "autoscale: edit, evaluate, then enable a formula; or disable",
            KeyAction::Refresh => "refresh now",
            KeyAction::Repaint => "clear the terminal and draw the dashboard again",
            KeyAction::Log => "activity log: Batch calls and engine events",
            KeyAction::Help => "this help",
            KeyAction::Quit => "quit (asks while a run acts or a pool is deleted)",
        }
    }
}

/// A key as written in config: `x`, `X`, `space`, `enter`, `esc`, `up`, `ctrl-r`, `f5`, …
pub fn parse_key(text: &str) -> Result<(KeyCode, KeyModifiers), String> {
    let (mods, name) = match text.strip_prefix("ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, text),
    };
    let code = match name {
        "space" => KeyCode::Char(' '),
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        f if f.starts_with('f') && f.len() > 1 => {
            KeyCode::F(f[1..].parse().map_err(|_| format!("unknown key '{text}'"))?)
        }
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().expect("one char")),
        _ => {
            return Err(format!(
                "unknown key '{text}'; use a character, space, enter, esc, up, down, pageup, pagedown, home, end, tab, f1…f12, or ctrl-X"
            ));
        }
    };
    Ok((code, mods))
}

pub fn key_label(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "shift-tab".into(),
        KeyCode::F(n) => format!("f{n}"),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) { format!("ctrl-{base}") } else { base }
}

#[derive(Clone, Debug)]
pub struct KeyMap {
    bindings: Vec<((KeyCode, KeyModifiers), KeyAction)>,
}

impl Default for KeyMap {
    fn default() -> Self {
        use KeyAction::*;
        let none = KeyModifiers::NONE;
        let c = |ch: char| (KeyCode::Char(ch), none);
        let bindings = vec![
            (c('j'), Down),
            ((KeyCode::Down, none), Down),
            (c('k'), Up),
            ((KeyCode::Up, none), Up),
            (c('g'), Top),
            ((KeyCode::Home, none), Top),
            (c('G'), Bottom),
            ((KeyCode::End, none), Bottom),
            ((KeyCode::PageDown, none), PageDown),
            ((KeyCode::PageUp, none), PageUp),
            (c(' '), Mark),
            (c('a'), MarkAll),
            (c('A'), ClearMarks),
            (c('/'), Filter),
            (c('s'), Sort),
            ((KeyCode::Enter, none), Details),
            ((KeyCode::Esc, none), Back),
            ((KeyCode::Tab, none), NextTab),
            ((KeyCode::BackTab, KeyModifiers::SHIFT), PrevTab),
            ((KeyCode::BackTab, none), PrevTab),
            (c('w'), Write),
            (c('J'), Jobs),
            (c('e'), ErrorsOnly),
            (c(':'), Command),
            (c('p'), Plan),
            (c('n'), NextStep),
            (c('R'), Run),
            (c('H'), Heal),
            (c('c'), Cancel),
            (c('u'), Resume),
            (c('U'), Runs),
            (c('x'), Abandon),
            (c('b'), Reboot),
            (c('D'), RemoveNodes),
            (c('S'), Scheduling),
            (c('o'), StartTaskOutput),
            (c('z'), Resize),
            (c('f'), Autoscale),
            (c('r'), Refresh),
            ((KeyCode::Char('l'), KeyModifiers::CONTROL), Repaint),
            (c('l'), Log),
            (c('?'), Help),
            (c('q'), Quit),
        ];
        KeyMap { bindings }
    }
}

impl KeyMap {
    /// Defaults with `overrides` (action name → key) applied; unknown names and keys are errors.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut map = KeyMap::default();
        for (name, key) in overrides {
            let action = KeyAction::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
                let names: Vec<&str> = KeyAction::ALL.iter().map(|a| a.name()).collect();
                format!("[keys] '{name}' is not an action; actions: {}", names.join(", "))
            })?;
            let parsed = parse_key(key).map_err(|e| format!("[keys] {name}: {e}"))?;
            map.bindings.retain(|(k, a)| *a != action && *k != parsed);
            map.bindings.push((parsed, action));
        }
        Ok(map)
    }

    pub fn action(&self, key: &KeyEvent) -> Option<KeyAction> {
        let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::SHIFT);
        // A capital letter arrives with SHIFT on some terminals, without on others.
        let mods = if matches!(key.code, KeyCode::Char(_)) { mods - KeyModifiers::SHIFT } else { mods };
        self.bindings.iter().find(|((code, m), _)| *code == key.code && *m == mods).map(|(_, a)| *a)
    }

    /// The first key bound to `action`, for hints and help.
    pub fn label(&self, action: KeyAction) -> String {
        self.bindings
            .iter()
            .find(|(_, a)| *a == action)
            .map(|((c, m), _)| key_label(*c, *m))
            .unwrap_or_else(|| "-".into())
    }
}
