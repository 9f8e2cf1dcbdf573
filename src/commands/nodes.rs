//! `repool nodes --pool ID [--json]`: one pool's nodes with state, scheduling, running tasks,
//! the start task's result and errors, changing nothing. The JSON carries the same summary
//! (never the node's start task itself: its command line and environment may hold secrets).

use crate::batch::Node;
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::setup::connect;
use serde_json::json;

pub async fn nodes(settings: &Settings, pool: &str, json: bool) -> color_eyre::Result<Exit> {
    let client = connect(settings)?;
    let nodes = match client.list_nodes(pool, None).await {
        Err(e) if e.code() == Some("PoolNotFound") => {
            let shown = crate::output::escape(pool);
            return Err(BadInput::new(format!(
                "--pool {shown}: the account has no such pool (`repool pools` lists them)"
            ))
            .into());
        }
        nodes => nodes?,
    };
    if json {
        for node in &nodes {
            crate::outln!("{}", summary(node));
        }
    } else {
        crate::out!("{}", node_table(&nodes));
    }
    Ok(Exit::Done)
}

fn summary(node: &Node) -> serde_json::Value {
    json!({
        "id": node.id,
        "state": node.state.as_ref().map(|s| s.to_string()),
        "schedulingState": node.scheduling_state,
        "dedicated": node.is_dedicated,
        "runningTasks": node.running_tasks_count.unwrap_or(0),
        "startTask": {"exitCode": node.start_task_exit(), "failure": node.start_task_failure()},
        "errors": node.errors(),
    })
}

fn node_table(nodes: &[Node]) -> String {
    let header = ["ID", "STATE", "SCHEDULING", "KIND", "TASKS", "START TASK", "ERRORS"];
    let rows = nodes
        .iter()
        .map(|n| {
            [
                n.id.clone().unwrap_or_default(),
                n.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                n.scheduling_state.clone().unwrap_or_default(),
                match n.is_dedicated {
                    Some(false) => "spot",
                    _ => "dedicated",
                }
                .into(),
                n.running_tasks_count.unwrap_or(0).to_string(),
                n.start_task_result().unwrap_or_else(|| "-".into()),
                n.errors().join("; "),
            ]
        })
        .collect();
    let mut out = super::inspect::table(header, rows);
    if nodes.is_empty() {
        out.push_str("(no nodes in this pool)\n");
    }
    out
}
