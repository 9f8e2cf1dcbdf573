//! Single Batch calls the dashboard makes on an operator's request — node actions, resize,
//! autoscale, reading a node's start task output. Not runs: no journal, no steps; each is logged
//! (activity log and log file) with pool, action and outcome, and the pool view refreshes after.

use super::app::{App, Screen};
use super::messages::Command;
use crate::batch::{
    AutoScaleRun, BatchClient, DisableSchedulingOption, EnableAutoScaleRequest, NodeDeallocationOption,
    RemoveNodesRequest, ResizeRequest,
};

/// One operator action, as sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Reboot {
        pool: String,
        nodes: Vec<String>,
        option: NodeDeallocationOption,
    },
    RemoveNodes {
        pool: String,
        nodes: Vec<String>,
        option: NodeDeallocationOption,
    },
    DisableScheduling {
        pool: String,
        nodes: Vec<String>,
        option: NodeDeallocationOption,
    },
    EnableScheduling {
        pool: String,
        nodes: Vec<String>,
    },
    Resize {
        pool: String,
        request: ResizeRequest,
    },
    EnableAutoscale {
        pool: String,
        formula: String,
    },
    DisableAutoscale {
        pool: String,
    },
    /// Changes nothing: the service computes the formula against the pool.
    EvaluateAutoscale {
        pool: String,
        formula: String,
    },
    /// Reads `startup/stdout.txt` and `stderr.txt` of a node.
    StartTaskOutput {
        pool: String,
        node: String,
    },
}

/// What a call brought back.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Done; for calls on several nodes, the nodes the service refused and why.
    Done {
        refused: Vec<(String, String)>,
    },
    Evaluated(AutoScaleRun),
    /// The start task's output; a file the node lacks is `Err` with the service's word.
    StartTask {
        stdout: Result<String, String>,
        stderr: Result<String, String>,
    },
}

/// The deallocation options a call may take, in the order ←/→ step through them.
const NODE_OPTIONS: [NodeDeallocationOption; 4] = [
    NodeDeallocationOption::TaskCompletion,
    NodeDeallocationOption::Requeue,
    NodeDeallocationOption::Terminate,
    NodeDeallocationOption::RetainedData,
];

impl Call {
    pub fn pool(&self) -> &str {
        match self {
            Call::Reboot { pool, .. }
            | Call::RemoveNodes { pool, .. }
            | Call::DisableScheduling { pool, .. }
            | Call::EnableScheduling { pool, .. }
            | Call::Resize { pool, .. }
            | Call::EnableAutoscale { pool, .. }
            | Call::DisableAutoscale { pool }
            | Call::EvaluateAutoscale { pool, .. }
            | Call::StartTaskOutput { pool, .. } => pool,
        }
    }

    /// What the log and the status line call it: `reboot of 2 node(s) (taskcompletion)`.
    pub fn describe(&self) -> String {
        let nodes = |nodes: &[String]| match nodes {
            [one] => crate::output::escape(one).into_owned(),
            many => format!("{} node(s)", many.len()),
        };
        match self {
            Call::Reboot { nodes: n, option, .. } => format!("reboot of {} ({option})", nodes(n)),
            Call::RemoveNodes { nodes: n, option, .. } => format!("removal of {} ({option})", nodes(n)),
            Call::DisableScheduling { nodes: n, option, .. } => {
                format!("disabling scheduling on {} ({option})", nodes(n))
            }
            Call::EnableScheduling { nodes: n, .. } => format!("enabling scheduling on {}", nodes(n)),
            Call::Resize { request, .. } => format!(
                "resize to {} dedicated, {} low-priority ({})",
                request.target_dedicated_nodes.unwrap_or(0),
                request.target_low_priority_nodes.unwrap_or(0),
                request.node_deallocation_option.as_ref().map(|o| o.as_str()).unwrap_or("requeue")
            ),
            Call::EnableAutoscale { .. } => "enabling autoscale".into(),
            Call::DisableAutoscale { .. } => "disabling autoscale".into(),
            Call::EvaluateAutoscale { .. } => "evaluating an autoscale formula".into(),
            Call::StartTaskOutput { node, .. } => {
                format!("reading the start task output of {}", nodes(std::slice::from_ref(node)))
            }
        }
    }

    /// Reading calls change nothing and are allowed read-only.
    pub fn reads(&self) -> bool {
        matches!(self, Call::StartTaskOutput { .. })
    }

    /// The deallocation option the confirmation shows and ←/→ change, for calls that take one.
    pub fn option_mut(&mut self) -> Option<&mut NodeDeallocationOption> {
        match self {
            Call::Reboot { option, .. } | Call::RemoveNodes { option, .. } | Call::DisableScheduling { option, .. } => {
                Some(option)
            }
            Call::Resize { request, .. } => request.node_deallocation_option.as_mut(),
            _ => None,
        }
    }

    pub fn option(&self) -> Option<&NodeDeallocationOption> {
        match self {
            Call::Reboot { option, .. } | Call::RemoveNodes { option, .. } | Call::DisableScheduling { option, .. } => {
                Some(option)
            }
            Call::Resize { request, .. } => request.node_deallocation_option.as_ref(),
            _ => None,
        }
    }

    /// The next (or previous) option this call takes; disabling scheduling has no `retaineddata`.
    pub fn step_option(&mut self, forward: bool) {
        let retained = !matches!(self, Call::DisableScheduling { .. });
        if let Some(option) = self.option_mut() {
            *option = next_option(option, forward, retained);
        }
    }
}

/// The option after (or before) `option`, `retaineddata` only where it applies.
pub fn next_option(option: &NodeDeallocationOption, forward: bool, retained: bool) -> NodeDeallocationOption {
    let choices: Vec<&NodeDeallocationOption> =
        NODE_OPTIONS.iter().filter(|o| retained || **o != NodeDeallocationOption::RetainedData).collect();
    let at = choices.iter().position(|o| *o == option).unwrap_or(0);
    let n = choices.len();
    choices[if forward { (at + 1) % n } else { (at + n - 1) % n }].clone()
}

/// What each option does to a running task, for the confirmation.
pub fn option_meaning(option: &NodeDeallocationOption) -> &'static str {
    match option {
        NodeDeallocationOption::TaskCompletion => "finish first",
        NodeDeallocationOption::Requeue => "stop and are queued again",
        NodeDeallocationOption::Terminate => "stop and fail",
        NodeDeallocationOption::RetainedData => "finish; their data is kept",
        NodeDeallocationOption::Other(_) => "",
    }
}

/// Makes the call; the service's refusal comes back worded, never as a panic.
pub async fn perform(client: &BatchClient, call: &Call) -> Result<Answer, String> {
    let text = |e: crate::batch::BatchError| e.to_string();
    let done = Answer::Done { refused: Vec::new() };
    match call {
        Call::Reboot { pool, nodes, option } => {
            each(nodes, |node| async move { client.reboot_node(pool, &node, option.clone()).await.map_err(text) }).await
        }
        Call::DisableScheduling { pool, nodes, option } => {
            let option = match option {
                NodeDeallocationOption::Requeue => DisableSchedulingOption::Requeue,
                NodeDeallocationOption::Terminate => DisableSchedulingOption::Terminate,
                _ => DisableSchedulingOption::TaskCompletion,
            };
            each(nodes, |node| async move { client.disable_node_scheduling(pool, &node, option).await.map_err(text) })
                .await
        }
        Call::EnableScheduling { pool, nodes } => {
            each(nodes, |node| async move { client.enable_node_scheduling(pool, &node).await.map_err(text) }).await
        }
        Call::RemoveNodes { pool, nodes, option } => {
            // At most 100 nodes a request; the pool resizes after the first, so one request is all.
            let request = RemoveNodesRequest {
                node_list: Some(nodes.clone()),
                resize_timeout: None,
                node_deallocation_option: Some(option.clone()),
            };
            client.remove_nodes(pool, &request).await.map_err(text)?;
            Ok(done)
        }
        Call::Resize { pool, request } => client.resize_pool(pool, request).await.map(|_| done).map_err(text),
        Call::EnableAutoscale { pool, formula } => {
            let request = EnableAutoScaleRequest { auto_scale_formula: Some(formula.clone()), ..Default::default() };
            client.enable_autoscale(pool, &request).await.map(|_| done).map_err(text)
        }
        Call::DisableAutoscale { pool } => client.disable_autoscale(pool).await.map(|_| done).map_err(text),
        Call::EvaluateAutoscale { pool, formula } => {
            client.evaluate_autoscale(pool, formula).await.map(Answer::Evaluated).map_err(text)
        }
        Call::StartTaskOutput { pool, node } => {
            let read = |file: &'static str| async move { client.node_file(pool, node, file).await.map_err(text) };
            let (stdout, stderr) = tokio::join!(read("startup/stdout.txt"), read("startup/stderr.txt"));
            if let (Err(e), Err(_)) = (&stdout, &stderr) {
                return Err(e.clone());
            }
            Ok(Answer::StartTask { stdout, stderr })
        }
    }
}

/// One call per node, one after the other; the nodes refused are named with the service's word.
async fn each<F, Fut>(nodes: &[String], call: F) -> Result<Answer, String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut refused = Vec::new();
    for node in nodes {
        if let Err(e) = call(node.clone()).await {
            refused.push((node.clone(), e));
        }
    }
    match refused.as_slice() {
        [(_, e)] if nodes.len() == 1 => Err(e.clone()),
        _ if refused.len() == nodes.len() && !nodes.is_empty() => {
            Err(format!("refused for every node, first: {}", refused[0].1))
        }
        _ => Ok(Answer::Done { refused }),
    }
}

impl App {
    /// Why a single call on pool `id` may not be made now, if it may not.
    pub(super) fn refuse_call(&self, id: &str) -> Option<String> {
        if self.identity.readonly {
            return Some(
                "READ-ONLY: started with --readonly (or readonly = true); node and pool actions are off".into(),
            );
        }
        let ids = [id.to_string()];
        let ours = self.run_active && self.run_pools.contains(&id.to_lowercase());
        if ours || self.runs.iter().any(|r| r.holds_any(&ids)) {
            return Some(format!("a repool run holds {id}: finish, cancel or abandon it first (U lists runs)"));
        }
        None
    }

    /// Sends `call` (confirmed, or needing no confirmation), logged with its pool.
    pub(super) fn send_call(&mut self, call: Call) -> Vec<Command> {
        if !call.reads() {
            if let Some(why) = self.refuse_call(call.pool()) {
                self.say(why);
                return vec![];
            }
            self.log(format!("{}: {} requested", crate::output::escape(call.pool()), call.describe()), false);
        }
        self.say(format!("{}: {}…", crate::output::escape(call.pool()), call.describe()));
        vec![Command::Call(call)]
    }

    /// A call's answer: logged with pool, action and outcome; the pool view refreshes.
    pub(super) fn on_called(&mut self, call: Call, result: Result<Answer, String>) -> Vec<Command> {
        let (pool, what) = (call.pool().to_string(), call.describe());
        let shown = crate::output::escape(&pool).into_owned();
        let text = match &result {
            Err(e) => format!("{shown}: {what} failed: {}", crate::output::escape(e)),
            Ok(Answer::Done { refused }) if !refused.is_empty() => {
                let named: Vec<String> = refused
                    .iter()
                    .map(|(n, e)| format!("{} ({})", crate::output::escape(n), crate::output::escape(e)))
                    .collect();
                format!("{shown}: {what}: done, but refused for {}", named.join("; "))
            }
            Ok(Answer::Evaluated(run)) => match &run.error {
                Some(e) => format!("{shown}: formula evaluated with an error: {}", crate::output::escape(&e.message)),
                None => format!("{shown}: formula evaluated"),
            },
            Ok(_) => format!("{shown}: {what}: done"),
        };
        let failed = match &result {
            Err(_) => true,
            Ok(Answer::Done { refused }) => !refused.is_empty(),
            Ok(Answer::Evaluated(run)) => run.error.is_some(),
            Ok(_) => false,
        };
        if !call.reads() || failed {
            self.log(text.clone(), failed);
        }
        self.say(text);
        match (&call, result) {
            (Call::StartTaskOutput { node, .. }, result) => self.on_start_task_output(&pool, node, result),
            (Call::EvaluateAutoscale { formula, .. }, result) => self.on_evaluated(&pool, formula, result),
            (Call::EnableAutoscale { .. } | Call::DisableAutoscale { .. }, Ok(_)) => self.on_autoscale_changed(&pool),
            // Done with: the next action starts from the cursor again, not from nodes now leaving.
            (Call::Reboot { .. } | Call::RemoveNodes { .. }, Ok(_)) => {
                if let Some(view) = self.nodes.as_mut().filter(|v| v.pool.eq_ignore_ascii_case(&pool)) {
                    view.marks.clear();
                }
            }
            _ => {}
        }
        if call.reads() || matches!(call, Call::EvaluateAutoscale { .. }) {
            return vec![];
        }
        // The pool changed: its row with the next listing, its full body read on its own.
        let mut commands = vec![Command::Refresh, Command::FullPool(pool.clone())];
        if matches!(&self.screen, Screen::Detail(id) if id.eq_ignore_ascii_case(&pool)) {
            commands.extend(self.nodes_command());
        }
        commands
    }
}
