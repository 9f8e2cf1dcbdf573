//! Hints of a dialog and of details (the node actions in the nodes section), for the hint line.

use super::super::app::{App, Command, DetailTab, Dialog, PoolForm, Screen};
use super::super::keys::KeyAction;

/// The keys of an open dialog.
pub(super) fn dialog(dialog: &Dialog) -> Vec<(String, &'static str)> {
    let mut hints: Vec<(String, &'static str)> = Vec::new();
    let mut push = |key: &str, label: &'static str| hints.push((key.to_string(), label));
    match dialog {
        Dialog::Quit { .. } => {
            push("y", "quit");
            push("any key", "stay");
        }
        Dialog::Confirm { command, .. } => {
            push("enter", "confirm");
            push("esc", "cancel");
            if command.choices().is_some() {
                push("tab", "next choice");
                push("←/→", "change");
            }
            if matches!(command, Command::Call(call) if call.option().is_some()) {
                push("←/→", "option");
            }
            push("ctrl-c", "quit");
        }
        Dialog::Pool(PoolForm::Resize(_)) => {
            push("enter", "resize");
            push("tab", "next field");
            push("←/→", "option");
            push("esc", "close");
        }
        Dialog::Pool(PoolForm::Autoscale(form)) => {
            push("enter", "evaluate");
            push("ctrl-e", "enable");
            if form.enabled {
                push("ctrl-d", "disable");
            }
            push("esc", "close");
        }
    }
    hints
}

/// The keys of details; in the nodes section, the node actions.
pub(super) fn detail(app: &App) -> Vec<(String, &'static str)> {
    let k = |a| app.keys.label(a);
    let mutating = !app.identity.readonly;
    let mut hints: Vec<(String, &'static str)> = Vec::new();
    let mut push = |key: String, label: &'static str| hints.push((key, label));
    match app.screen {
        Screen::Detail(_) if app.detail_tab == DetailTab::Nodes => {
            push(k(KeyAction::Back), "back");
            push(k(KeyAction::NextTab), "section");
            push(k(KeyAction::Down), "move");
            if mutating {
                push(k(KeyAction::Mark), "mark");
                push(k(KeyAction::Reboot), "reboot");
                push(k(KeyAction::RemoveNodes), "remove");
                push(k(KeyAction::Scheduling), "sched");
            }
            push(k(KeyAction::StartTaskOutput), "output");
        }
        Screen::Detail(_) => {
            push(k(KeyAction::Back), "back");
            push(k(KeyAction::NextTab), "section");
            push(format!("{}/{}", k(KeyAction::Down), k(KeyAction::Up)), "scroll");
            push(k(KeyAction::Jobs), "jobs");
            push(k(KeyAction::Write), "write JSON");
            if mutating {
                push(k(KeyAction::NextStep), "next step");
                push(k(KeyAction::Run), "recreate");
                push(k(KeyAction::Resize), "resize");
                push(k(KeyAction::Autoscale), "autoscale");
            }
            push(k(KeyAction::Log), "log");
        }
        _ => {}
    }
    hints
}
