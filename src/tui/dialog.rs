//! Dialogs over the dashboard: a confirmation before anything that changes pools (built only by
//! `App::confirm`; typed, or enter alone for what is easily undone), a pool quick action's form,
//! and the question before quitting would leave work behind. A new run's confirmation also shows
//! its choices, a node action's its deallocation option; tab and ←/→ change them.

use super::app::App;
use super::messages::Command;
use super::pool_actions::PoolForm;
use crate::rollout::policy::OnUnhealthy;
use crossterm::event::{KeyCode, KeyEvent};

#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    /// Work waits for the operator to type `expected` (empty: enter alone confirms).
    Confirm { title: String, lines: Vec<String>, expected: String, typed: String, command: Command },
    /// A pool's resize or autoscale form.
    Pool(PoolForm),
    /// Quitting would leave a run active or pools deleted and not recreated: named here.
    Quit { running: bool, gone: Vec<String> },
}

/// A new run's choices in its confirmation: canary, max unavailable, on unhealthy, probe.
pub(super) const CHOICES: usize = 4;

impl App {
    /// Asks the operator to type `expected` before `command` starts; `lines` say what it will do.
    pub(super) fn confirm(
        &mut self,
        title: impl Into<String>,
        lines: Vec<String>,
        expected: impl Into<String>,
        command: Command,
    ) {
        self.dialog = Some(Dialog::Confirm {
            title: title.into(),
            lines,
            expected: expected.into(),
            typed: String::new(),
            command,
        });
    }

    /// Every key goes to the open dialog: a confirmation keeps what was typed until enter or esc.
    pub(super) fn on_dialog_key(&mut self, mut dialog: Dialog, key: KeyEvent) -> Vec<Command> {
        let (expected, typed, command) = match &mut dialog {
            Dialog::Quit { running, .. } => {
                if key.code != KeyCode::Char('y') {
                    return vec![];
                }
                self.quit = true;
                return if *running { vec![Command::Cancel, Command::Quit] } else { vec![Command::Quit] };
            }
            Dialog::Pool(form) => return self.on_form_key(form.clone(), key),
            Dialog::Confirm { expected, typed, command, .. } => (expected, typed, command),
        };
        match key.code {
            KeyCode::Esc => {
                self.say("cancelled: nothing was changed");
                return match command {
                    Command::Start { .. } => vec![Command::DropProposal],
                    _ => vec![],
                };
            }
            KeyCode::Enter if typed == expected => {
                let command = command.clone();
                if let Command::Call(call) = command {
                    return self.send_call(call);
                }
                if command.is_proposal() {
                    return self.propose(command);
                }
                self.begin(&command);
                self.say("started");
                return vec![command];
            }
            KeyCode::Enter => {
                typed.clear();
                self.say(format!("type exactly '{expected}' to confirm, or esc"));
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                self.change_choice(command, key.code);
            }
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Char(c) if !expected.is_empty() => typed.push(c),
            _ => {}
        }
        self.dialog = Some(dialog);
        vec![]
    }

    /// Tab moves between a new run's choices, ←/→ change the one in focus.
    fn change_choice(&mut self, command: &mut Command, key: KeyCode) {
        if let Command::Call(call) = command {
            if matches!(key, KeyCode::Left | KeyCode::Right) {
                call.step_option(key == KeyCode::Right);
            }
            return;
        }
        let Some((choices, pools)) = command.choices_mut() else { return };
        let up = key == KeyCode::Right;
        match key {
            KeyCode::Tab => self.choice_focus = (self.choice_focus + 1) % CHOICES,
            KeyCode::BackTab => self.choice_focus = (self.choice_focus + CHOICES - 1) % CHOICES,
            KeyCode::Left | KeyCode::Right => match self.choice_focus {
                0 if up => choices.canary = (choices.canary + 1).min(pools),
                0 => choices.canary = choices.canary.saturating_sub(1),
                1 => {
                    choices.max_unavailable = match (choices.max_unavailable, up) {
                        (None, true) => Some(1),
                        (Some(n), true) if n < pools => Some(n + 1),
                        (Some(1), false) => None,
                        (Some(n), false) => Some(n - 1),
                        (other, _) => other,
                    }
                }
                2 => {
                    choices.on_unhealthy = match choices.on_unhealthy {
                        OnUnhealthy::Stop => OnUnhealthy::Rollback,
                        OnUnhealthy::Rollback => OnUnhealthy::Stop,
                    }
                }
                _ => choices.probe = !choices.probe,
            },
            _ => {}
        }
    }
}
