//! The `:` command line: typing, tab completion (command names, then account names, columns or
//! pool ids) and running what was typed.

use super::app::{App, Screen};
use super::columns::Column;
use super::details::DetailTab;
use super::messages::Command;
use crossterm::event::{KeyCode, KeyEvent};

impl App {
    pub(super) fn on_command_key(&mut self, mut line: String, key: KeyEvent) -> Vec<Command> {
        // What tab offered stays on screen until the line changes.
        if key.code != KeyCode::Tab {
            self.completions.clear();
        }
        match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => return self.run_command_line(&line),
            KeyCode::Tab => {
                let completions = self.complete(&line);
                match completions.as_slice() {
                    [] => self.completions = vec!["(no completion)".into()],
                    [one] => {
                        line = one.clone();
                        self.completions.clear();
                    }
                    many => {
                        line = common_prefix(many);
                        self.completions = many.to_vec();
                    }
                }
                self.command = Some(line);
            }
            KeyCode::Backspace => {
                if line.pop().is_some() {
                    self.command = Some(line);
                }
            }
            KeyCode::Char(c) => {
                line.push(c);
                self.command = Some(line);
            }
            _ => self.command = Some(line),
        }
        vec![]
    }

    /// Completions of a `:` line: command names, then account names, columns or pool ids.
    pub fn complete(&self, line: &str) -> Vec<String> {
        let (word, rest) = match line.split_once(' ') {
            Some((word, rest)) => (word, Some(rest)),
            None => (line, None),
        };
        let Some(rest) = rest else {
            return COMMANDS.iter().filter(|c| c.starts_with(word)).map(|c| c.to_string()).collect();
        };
        let candidates: Vec<String> = match word {
            "ctx" => self.accounts.iter().map(|(n, _)| n.clone()).collect(),
            "sort" => Column::ALL.iter().map(|c| c.name().to_string()).collect(),
            "nodes" | "jobs" | "log" => self.pools.iter().map(|p| p.id().to_string()).collect(),
            _ => Vec::new(),
        };
        candidates.into_iter().filter(|c| c.starts_with(rest.trim_start())).map(|c| format!("{word} {c}")).collect()
    }

    fn run_command_line(&mut self, line: &str) -> Vec<Command> {
        let mut words = line.split_whitespace();
        let (name, argument) = (words.next().unwrap_or(""), words.next());
        match (name, argument) {
            ("", _) => {}
            ("pools", _) => self.screen = Screen::Table,
            ("nodes", pool) => match pool.map(str::to_string).or_else(|| self.current_pool()) {
                Some(id) => return self.open_details(id, DetailTab::Nodes),
                None => self.say("no pool selected"),
            },
            ("jobs", pool) => match pool.map(str::to_string).or_else(|| self.current_pool()) {
                Some(id) => return self.open_jobs(id),
                None => self.say("no pool selected"),
            },
            ("ctx", Some(account)) => return self.switch_account(account),
            ("ctx", None) => self.screen = Screen::Accounts,
            ("plan", _) => return self.plan(),
            ("apply", _) => return self.start_apply(),
            ("heal", _) => return self.start_heal(),
            ("refresh", _) => return self.start_refresh(),
            ("runs", _) => self.screen = Screen::Runs,
            ("log", text) => {
                self.screen = Screen::Log;
                self.log.filter.set(text.unwrap_or(""));
                self.log.scroll = 0;
            }
            ("sort", Some(column)) => match Column::from_name(column) {
                Some(column) => {
                    let selected = self.selected_pool().map(|p| p.id().to_lowercase());
                    self.sort = (column, self.sort.0 != column || !self.sort.1);
                    self.keep_selection(selected);
                    self.say(format!("sorted by {} {}", column.name(), if self.sort.1 { "↑" } else { "↓" }));
                }
                None => {
                    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
                    self.say(format!("no column '{column}'; columns: {}", names.join(", ")));
                }
            },
            ("help", _) => self.screen = Screen::Help,
            ("q" | "quit", _) => return self.request_quit(),
            (other, _) => self.say(format!("unknown command ':{other}'; commands: {}", COMMANDS.join(", "))),
        }
        vec![]
    }
}

/// What `:` offers, completed with tab.
pub const COMMANDS: [&str; 14] =
    ["pools", "nodes", "jobs", "ctx", "plan", "apply", "heal", "refresh", "runs", "log", "sort", "help", "quit", "q"];

impl App {
    /// The pool a command without one means: the one shown, else the selected one.
    fn current_pool(&self) -> Option<String> {
        match &self.screen {
            Screen::Detail(id) => Some(id.clone()),
            Screen::Jobs => self.jobs.as_ref().map(|v| v.pool.clone()),
            _ => self.selected_pool().map(|p| p.id().to_string()),
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut end = first.len();
    for word in &words[1..] {
        end = end.min(first.bytes().zip(word.bytes()).take_while(|(a, b)| a == b).count());
    }
    first[..end].to_string()
}
