//! Quick actions on one pool (the selected or shown one): resize to new targets, and autoscale —
//! edit a formula, see what the service computes from it, then enable it; or disable it. Each
//! is a form in a dialog; shrinking asks for confirmation, typed when it lowers a target.

use super::app::{App, Dialog, Screen};
use super::calls::{Answer, Call, next_option};
use super::messages::Command;
use crate::batch::{AutoScaleRun, NodeDeallocationOption, ResizeRequest};
use crate::output::escape;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A pool form open in a dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolForm {
    Resize(ResizeForm),
    Autoscale(AutoscaleForm),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResizeForm {
    pub pool: String,
    /// The targets now (dedicated, low-priority) and the nodes now.
    pub targets: (u32, u32),
    pub current: (u32, u32),
    pub dedicated: String,
    pub low_priority: String,
    /// What happens to tasks on nodes that leave: a Call holds it, so ←/→ step it the same way.
    pub option: NodeDeallocationOption,
    /// 0 dedicated, 1 low-priority, 2 deallocation option.
    pub focus: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleForm {
    pub pool: String,
    /// Whether autoscale is on now.
    pub enabled: bool,
    pub formula: String,
    /// The service's answer for a formula, once asked; enabling needs one for the formula shown.
    pub evaluated: Option<(String, Result<AutoScaleRun, String>)>,
    /// An evaluation is under way.
    pub waiting: bool,
}

impl AutoscaleForm {
    /// Why the formula shown may not be enabled yet, if it may not.
    pub fn not_ready(&self) -> Option<&'static str> {
        match &self.evaluated {
            _ if self.formula.trim().is_empty() => Some("type a formula first"),
            Some((formula, _)) if *formula != self.formula => Some("the formula changed: enter evaluates it again"),
            None => Some("evaluate it first (enter): see what the service computes"),
            Some((_, Ok(run))) if run.error.is_some() => Some("the formula fails: fix it and evaluate again"),
            // The service evaluates only on an autoscale pool: its refusal is the answer there.
            Some((_, Err(_))) if self.enabled => Some("the evaluation failed: fix the formula and evaluate again"),
            Some(_) => None,
        }
    }
}

impl App {
    /// The pool quick actions act on: the one shown in details, else the selected one.
    fn quick_pool(&mut self) -> Option<crate::batch::PoolSummary> {
        let pool = match &self.screen {
            Screen::Detail(id) => self.pools.iter().find(|p| p.id().eq_ignore_ascii_case(id)).cloned(),
            _ => self.selected_pool().cloned(),
        };
        let Some(pool) = pool else {
            self.say("no pool selected");
            return None;
        };
        if let Some(why) = self.refuse_call(pool.id()) {
            self.say(why);
            return None;
        }
        Some(pool)
    }

    /// `z`: the resize form, prefilled with the pool's targets.
    pub(super) fn open_resize(&mut self) -> Vec<Command> {
        let Some(pool) = self.quick_pool() else { return vec![] };
        if pool.autoscale() {
            self.say(format!("{}: autoscale sets its targets; disable autoscale first (f)", escape(pool.id())));
            return vec![];
        }
        let targets = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
        self.dialog = Some(Dialog::Pool(PoolForm::Resize(ResizeForm {
            pool: pool.id().to_string(),
            targets,
            current: (pool.current_dedicated_nodes.unwrap_or(0), pool.current_low_priority_nodes.unwrap_or(0)),
            dedicated: targets.0.to_string(),
            low_priority: targets.1.to_string(),
            option: NodeDeallocationOption::TaskCompletion,
            focus: 0,
        })));
        vec![]
    }

    /// `f`: the autoscale form, prefilled with the pool's formula (or one keeping its targets).
    pub(super) fn open_autoscale(&mut self) -> Vec<Command> {
        let Some(pool) = self.quick_pool() else { return vec![] };
        let formula = self.facts(pool.id()).and_then(|f| f.formula.clone()).unwrap_or_else(|| {
            format!(
                "$TargetDedicatedNodes = {}; $TargetLowPriorityNodes = {}; $NodeDeallocationOption = taskcompletion;",
                pool.target_dedicated_nodes.unwrap_or(0),
                pool.target_low_priority_nodes.unwrap_or(0)
            )
        });
        self.dialog = Some(Dialog::Pool(PoolForm::Autoscale(AutoscaleForm {
            pool: pool.id().to_string(),
            enabled: pool.autoscale(),
            formula,
            evaluated: None,
            waiting: false,
        })));
        vec![]
    }

    /// Every key goes to the open form; esc closes it.
    pub(super) fn on_form_key(&mut self, form: PoolForm, key: KeyEvent) -> Vec<Command> {
        if key.code == KeyCode::Esc {
            self.say("closed: nothing was changed");
            return vec![];
        }
        match form {
            PoolForm::Resize(form) => self.on_resize_key(form, key.code),
            PoolForm::Autoscale(form) => self.on_autoscale_key(form, key),
        }
    }

    fn on_resize_key(&mut self, mut form: ResizeForm, key: KeyCode) -> Vec<Command> {
        let field = match form.focus {
            0 => Some(&mut form.dedicated),
            1 => Some(&mut form.low_priority),
            _ => None,
        };
        match (key, field) {
            (KeyCode::Enter, _) => return self.submit_resize(form),
            (KeyCode::Tab | KeyCode::Down, _) => form.focus = (form.focus + 1) % 3,
            (KeyCode::BackTab | KeyCode::Up, _) => form.focus = (form.focus + 2) % 3,
            (KeyCode::Char(c), Some(field)) if c.is_ascii_digit() && field.len() < 5 => field.push(c),
            (KeyCode::Backspace, Some(field)) => drop(field.pop()),
            (KeyCode::Left | KeyCode::Right, None) => {
                form.option = next_option(&form.option, key == KeyCode::Right, true)
            }
            _ => {}
        }
        self.dialog = Some(Dialog::Pool(PoolForm::Resize(form)));
        vec![]
    }

    /// Growing is sent at once; shrinking asks, typed when a target goes down.
    fn submit_resize(&mut self, form: ResizeForm) -> Vec<Command> {
        let (Ok(dedicated), Ok(low)) = (form.dedicated.parse::<u32>(), form.low_priority.parse::<u32>()) else {
            self.say("both targets need a number of nodes (0 or more)");
            self.dialog = Some(Dialog::Pool(PoolForm::Resize(form)));
            return vec![];
        };
        let pool = form.pool.clone();
        let call = Call::Resize {
            pool: pool.clone(),
            request: ResizeRequest {
                target_dedicated_nodes: Some(dedicated),
                target_low_priority_nodes: Some(low),
                resize_timeout: None,
                node_deallocation_option: Some(form.option.clone()),
            },
        };
        let lowers = dedicated < form.targets.0 || low < form.targets.1;
        let shrinks = dedicated < form.current.0 || low < form.current.1;
        if !lowers && !shrinks {
            return self.send_call(call);
        }
        let lines = vec![
            format!("dedicated: target {} → {dedicated} (now {} node(s))", form.targets.0, form.current.0),
            format!("low-priority: target {} → {low} (now {} node(s))", form.targets.1, form.current.1),
            "Nodes leave the pool; what happens to their running tasks:".into(),
        ];
        let expected = if lowers { pool.clone() } else { String::new() };
        self.confirm(format!("Shrink {}", escape(&pool)), lines, expected, Command::Call(call));
        vec![]
    }

    fn on_autoscale_key(&mut self, mut form: AutoscaleForm, key: KeyEvent) -> Vec<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let mut commands = vec![];
        match key.code {
            KeyCode::Enter if form.formula.trim().is_empty() => self.say("type a formula first"),
            KeyCode::Enter => {
                let call = Call::EvaluateAutoscale { pool: form.pool.clone(), formula: form.formula.clone() };
                commands = self.send_call(call);
                form.waiting = !commands.is_empty();
            }
            KeyCode::Char('e') if ctrl => match form.not_ready() {
                Some(why) => self.say(format!("not enabled: {why}")),
                None => {
                    commands =
                        self.send_call(Call::EnableAutoscale { pool: form.pool.clone(), formula: form.formula.clone() })
                }
            },
            KeyCode::Char('d') if ctrl && !form.enabled => self.say("autoscale is already off on this pool"),
            KeyCode::Char('d') if ctrl => commands = self.send_call(Call::DisableAutoscale { pool: form.pool.clone() }),
            KeyCode::Char(c) if !ctrl => form.formula.push(c),
            KeyCode::Backspace => drop(form.formula.pop()),
            _ => {}
        }
        self.dialog = Some(Dialog::Pool(PoolForm::Autoscale(form)));
        commands
    }

    /// The service's evaluation, shown in the form if it is still open on this formula's pool.
    pub(super) fn on_evaluated(&mut self, pool: &str, formula: &str, result: Result<Answer, String>) {
        let Some(Dialog::Pool(PoolForm::Autoscale(form))) = self.dialog.as_mut() else { return };
        if !form.pool.eq_ignore_ascii_case(pool) {
            return;
        }
        form.waiting = false;
        let outcome = match result {
            Ok(Answer::Evaluated(run)) => Ok(run),
            Ok(_) => return,
            Err(e) => Err(e),
        };
        // A fixed pool: the refusal is expected; the form explains it, the log keeps its words.
        let refused = outcome.is_err() && !form.enabled;
        form.evaluated = Some((formula.to_string(), outcome));
        if refused {
            self.say(format!("{}: not evaluated (autoscale is off): ctrl-e enables it", crate::output::escape(pool)));
        }
    }

    /// Autoscale was enabled or disabled: its form (if open for that pool) has done its job.
    pub(super) fn on_autoscale_changed(&mut self, pool: &str) {
        if matches!(&self.dialog, Some(Dialog::Pool(PoolForm::Autoscale(f))) if f.pool.eq_ignore_ascii_case(pool)) {
            self.dialog = None;
        }
    }
}
