//! The accounts view and `:ctx`: the config's accounts, and switching the dashboard to another
//! one (everything of the account shown before is dropped).

use super::app::{App, Identity, Screen};
use super::keys::KeyAction;
use super::messages::Command;
use crate::batch::ApiVersion;
use crate::definition::Definition;
use crate::rollout::policy::RunChoices;
use std::sync::Arc;

/// What the dashboard needs of an account it switches to.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub identity: Identity,
    pub definition: Option<Arc<Definition>>,
    pub api_version: ApiVersion,
    pub choices: RunChoices,
}

impl App {
    pub(super) fn on_accounts_key(&mut self, action: KeyAction) -> Vec<Command> {
        let last = self.accounts.len().saturating_sub(1);
        match action {
            KeyAction::Down => self.accounts_selected = (self.accounts_selected + 1).min(last),
            KeyAction::Up => self.accounts_selected = self.accounts_selected.saturating_sub(1),
            KeyAction::Details => {
                if let Some((name, _)) = self.accounts.get(self.accounts_selected).cloned() {
                    return self.switch_account(&name);
                }
            }
            KeyAction::Back => self.screen = Screen::Table,
            _ => self.say("accounts: enter switches to the chosen one, esc returns"),
        }
        vec![]
    }

    /// `:ctx NAME` or enter in the accounts view.
    pub(super) fn switch_account(&mut self, name: &str) -> Vec<Command> {
        if self.run_active {
            self.say("a run is active: wait for it or cancel it (c) before switching accounts");
            return vec![];
        }
        let Some((name, _)) = self.accounts.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).cloned() else {
            let known: Vec<&str> = self.accounts.iter().map(|(n, _)| n.as_str()).collect();
            self.say(if known.is_empty() {
                "no [accounts.NAME] in config.toml: add one per account to switch between them".to_string()
            } else {
                format!("no account '{name}'; config.toml has: {}", known.join(", "))
            });
            return vec![];
        };
        if self.identity.profile.as_deref() == Some(name.as_str()) {
            self.screen = Screen::Table;
            self.say(format!("already on account {name}"));
            return vec![];
        }
        self.say(format!("switching to account {name}…"));
        vec![Command::SwitchAccount(name)]
    }

    /// Everything of the account shown before is dropped; keys, theme and the log stay.
    pub(super) fn switch_to(&mut self, view: AccountView) -> Vec<Command> {
        let account = view.identity.account.clone();
        self.log(format!("switched to account {account} ({})", view.identity.endpoint), false);
        let (keys, log, accounts) =
            (self.keys.clone(), std::mem::take(&mut self.log), std::mem::take(&mut self.accounts));
        let now = self.now;
        *self = App::new(view.identity, keys, view.definition, view.api_version);
        self.log = log;
        self.accounts = accounts;
        self.accounts_selected = self.accounts.iter().position(|(n, _)| *n == account).unwrap_or(0);
        self.choices = view.choices;
        self.now = now;
        self.say(format!("account {account}"));
        vec![Command::Refresh, Command::RefreshFull]
    }
}
