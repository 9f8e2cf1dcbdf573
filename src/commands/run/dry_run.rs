//! `recreate --dry-run` and `apply --dry-run`: every call a run would make, per pool, with the
//! body each would send (secrets hidden by place). Text for people, one JSON object with --json.

use crate::batch::Pool;
use crate::rollout::batches::max_unavailable_nodes;
use crate::rollout::run::Proposal;
use crate::rollout::strategy::Strategy;
use crate::rollout::update::{self, Update};
use serde::Serialize;
use serde_json::{Value, json};

/// The calls of a run that is not made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub pools: Vec<PoolCalls>,
    /// How often the waits poll `GET /pools?$select=…` (one call for all pools).
    pub poll_seconds: f64,
    /// With --probe: each new pool's body is first created under a throwaway id, then deleted.
    pub probe: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCalls {
    pub id: String,
    pub strategy: Strategy,
    pub calls: Vec<Call>,
}

/// One request: what it is for, and the body it sends (redacted), if any.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    pub why: String,
}

fn call(method: &'static str, path: String, body: Option<Value>, why: &str) -> Call {
    Call { method, path, body, why: why.to_string() }
}

impl DryRun {
    /// The calls of the proposed run: its targets as its strategies change them, from the
    /// definition and the pools as the proposal read them.
    pub fn new(proposal: &Proposal) -> DryRun {
        let Proposal { definition, plan, live, ids, strategies, .. } = proposal;
        let (policy, api_version) = (&proposal.workspace.policy, proposal.workspace.api_version);
        let drain = json!({
            "targetDedicatedNodes": 0,
            "targetLowPriorityNodes": 0,
            "nodeDeallocationOption": policy.node_deallocation_option.to_string(),
            "resizeTimeout": policy.drain_resize_timeout().to_string(),
        });
        let mut pools = Vec::new();
        for id in ids {
            let Some(pool) = definition.pool(id) else { continue };
            let shown = |body: &Value| definition.redacted(id, body);
            let live = live.iter().find(|p| p.id().eq_ignore_ascii_case(id));
            let strategy = strategies.get(id).copied().unwrap_or_default();
            let mut calls = Vec::new();
            if strategy == Strategy::Recreate {
                if let Some(live) = live {
                    calls.push(call("GET", "/pools".into(), None, "pre-run backup: what `repool restore` gives back"));
                    if live.autoscale() {
                        calls.push(call("POST", format!("/pools/{id}/disableautoscale"), None, "autoscale is on"));
                    }
                    if !live.is_steady() {
                        calls.push(call("POST", format!("/pools/{id}/stopresize"), None, "a resize is in flight"));
                    }
                    if live.target_nodes() > 0 || live.current_nodes() > 0 {
                        let why = "drain: running tasks finish first";
                        calls.push(call("POST", format!("/pools/{id}/resize"), Some(drain.clone()), why));
                    }
                    calls.push(call(
                        "GET",
                        format!("/pools/{id}"),
                        None,
                        "pre-delete snapshot: its ETag guards the delete",
                    ));
                    calls.push(call("DELETE", format!("/pools/{id}"), None, "If-Match: the drained pool's ETag"));
                }
                let why = if live.is_some() {
                    "the definition's body"
                } else {
                    "not in the account: created from the definition"
                };
                calls.push(call("POST", "/pools".into(), Some(shown(&pool.body)), why));
            } else {
                if strategy == Strategy::Rebuild {
                    let why = "drain: running tasks finish first; then a backup";
                    calls.push(call("POST", format!("/pools/{id}/resize"), Some(drain.clone()), why));
                }
                if strategy == Strategy::Roll && live.is_some_and(Pool::autoscale) {
                    let why = "autoscale held while nodes reboot (its targets kept); the formula back at the end";
                    calls.push(call("POST", format!("/pools/{id}/disableautoscale"), None, why));
                }
                let requests = plan
                    .pools
                    .iter()
                    .find(|p| p.id.eq_ignore_ascii_case(id))
                    .map(|p| update::requests(p, &pool.body, api_version))
                    .unwrap_or_default();
                for request in requests {
                    calls.push(match request {
                        Update::Patch(body) => call(
                            "PATCH",
                            format!("/pools/{id}"),
                            Some(shown(&body)),
                            "only the properties that differ; If-Match: the pool's ETag",
                        ),
                        Update::Properties(body) => call(
                            "POST",
                            format!("/pools/{id}/updateproperties"),
                            Some(shown(&body)),
                            "drops the start task (a PATCH cannot)",
                        ),
                    });
                }
                let why = "the defined capacity, when it differs";
                // A roll sets it after the reboots (an autoscale pool's formula comes back last).
                let capacity = call("POST", format!("/pools/{id}/resize or /enableautoscale"), None, why);
                if strategy == Strategy::Roll {
                    let max = max_unavailable_nodes(policy.max_unavailable_nodes, live.map_or(0, |p| p.target_nodes()));
                    let why = format!(
                        "each of its {} node(s), at most {max} at once, taskcompletion: the new start task runs",
                        live.map_or(0, |p| p.current_nodes())
                    );
                    calls.push(call("POST", format!("/pools/{id}/nodes/NODE/reboot"), None, &why));
                }
                calls.push(capacity);
            }
            pools.push(PoolCalls { id: pool.id.clone(), strategy, calls });
        }
        DryRun { pools, poll_seconds: policy.poll_interval.as_secs_f64(), probe: policy.probe }
    }

    /// The text `--dry-run` prints without --json.
    pub fn text(&self) -> String {
        let mut out =
            String::from("Dry run: these calls would be made (nothing is changed now; secrets show as <redacted>):\n");
        if self.probe {
            out.push_str(
                "--probe: first each new pool's body is created under a throwaway id with 0 nodes, then deleted\n",
            );
        }
        for pool in &self.pools {
            out.push_str(&format!("{}:\n", pool.id));
            if pool.strategy != Strategy::Recreate {
                let steps: Vec<&str> = pool.strategy.chain().iter().map(|s| s.name()).collect();
                out.push_str(&format!("  {}: {}\n", pool.strategy.name(), steps.join(" → ")));
            }
            for call in &pool.calls {
                out.push_str(&format!("  {} {}  ({})\n", call.method, call.path, call.why));
                if let Some(body) = &call.body {
                    let text = serde_json::to_string_pretty(body).unwrap_or_default();
                    for line in text.lines() {
                        out.push_str(&format!("      {line}\n"));
                    }
                }
            }
        }
        out.push_str(&format!(
            "Waits poll GET /pools?$select=… every {}s, one call for all pools.\n",
            self.poll_seconds
        ));
        out
    }
}
