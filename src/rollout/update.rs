//! The requests that bring a live pool to its definition without recreating it: a PATCH of the
//! properties that differ (lists the definition drops are emptied), updateproperties when the
//! start task must go (a PATCH cannot remove one), and the capacity the scale step sets.

use crate::batch::defaults::CAPACITY;
use crate::batch::{ApiVersion, BatchDuration, Pool};
use crate::definition::plan::{ChangeKind, PoolPlan};
use serde_json::{Map, Value, json};

#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// `PATCH /pools/{id}`: only what it names changes.
    Patch(Value),
    /// `POST /pools/{id}/updateproperties`: replaces the start task, packages and metadata.
    Properties(Value),
}

impl Update {
    pub fn body(&self) -> &Value {
        match self {
            Update::Patch(body) | Update::Properties(body) => body,
        }
    }
}

/// What `plan` (live against `desired`, the clear create body) asks of a PATCH, in order; empty
/// when only the capacity differs or nothing does. The PATCH comes first: it carries what only an
/// empty pool takes (sent with the drained pool's ETag), so after a crash between the two the
/// rest is a change the service takes at any time, and a resume finishes it.
pub fn requests(plan: &PoolPlan, desired: &Value, api_version: ApiVersion) -> Vec<Update> {
    let mut tops: Vec<&str> = plan
        .changes
        .iter()
        .map(|c| c.path.split(['.', '[']).next().unwrap_or_default())
        .filter(|top| !top.is_empty() && !CAPACITY.contains(top))
        .collect();
    tops.dedup();
    if tops.is_empty() {
        return Vec::new();
    }
    let start_task_goes = plan.changes.iter().any(|c| c.path == "startTask" && c.kind == ChangeKind::Removed);
    let mut properties = None;
    if start_task_goes {
        // updateproperties replaces all three (certificates too before 2025-06-01): what the
        // definition has, else nothing.
        let mut body = Map::new();
        let mut replaced = vec!["applicationPackageReferences", "metadata"];
        if api_version.updates_certificates() {
            replaced.push("certificateReferences");
        }
        for key in replaced {
            body.insert(key.into(), desired.get(key).cloned().unwrap_or_else(|| json!([])));
        }
        properties = Some(Update::Properties(Value::Object(body)));
        tops.retain(|t| {
            !matches!(*t, "startTask" | "applicationPackageReferences" | "metadata" | "certificateReferences")
        });
    }
    let mut patch = Map::new();
    for top in tops {
        // A list the definition drops is emptied; the strategy never patches a dropped object.
        let value = desired.get(top).cloned().unwrap_or_else(|| json!([]));
        patch.insert(top.to_string(), value);
    }
    let mut requests = Vec::new();
    if !patch.is_empty() {
        requests.push(Update::Patch(Value::Object(patch)));
    }
    requests.extend(properties);
    requests
}

/// The capacity a body asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Capacity {
    Fixed { dedicated: u32, low_priority: u32, resize_timeout: Option<BatchDuration> },
    Auto { formula: String, interval: Option<BatchDuration> },
}

impl Capacity {
    pub fn of(body: &Value) -> Capacity {
        let duration = |key: &str| body.get(key).and_then(Value::as_str).and_then(|s| BatchDuration::parse(s).ok());
        if body.get("enableAutoScale").and_then(Value::as_bool) == Some(true) {
            return Capacity::Auto {
                formula: body.get("autoScaleFormula").and_then(Value::as_str).unwrap_or_default().to_string(),
                interval: duration("autoScaleEvaluationInterval"),
            };
        }
        let count = |key: &str| body.get(key).and_then(Value::as_u64).unwrap_or(0) as u32;
        Capacity::Fixed {
            dedicated: count("targetDedicatedNodes"),
            low_priority: count("targetLowPriorityNodes"),
            resize_timeout: duration("resizeTimeout"),
        }
    }

    /// Whether `pool` has this capacity already (an autoscaled pool's formula and interval).
    pub fn is_met_by(&self, pool: &Pool) -> bool {
        match self {
            Capacity::Fixed { dedicated, low_priority, resize_timeout } => {
                !pool.autoscale()
                    && pool.target_dedicated_nodes.unwrap_or(0) == *dedicated
                    && pool.target_low_priority_nodes.unwrap_or(0) == *low_priority
                    && resize_timeout.is_none_or(|t| pool.resize_timeout == Some(t))
            }
            Capacity::Auto { formula, interval } => {
                pool.autoscale()
                    && pool.auto_scale_formula.as_deref().map(str::trim) == Some(formula.trim())
                    && interval.as_ref().is_none_or(|i| pool.auto_scale_evaluation_interval.as_ref() == Some(i))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Capacity::Fixed { dedicated, low_priority, .. } => {
                format!("{dedicated} dedicated, {low_priority} low-priority")
            }
            Capacity::Auto { .. } => "autoscale with the defined formula".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::plan::{Action, Apply, Change};

    fn change(path: &str, kind: ChangeKind) -> Change {
        Change { path: path.into(), kind, live: None, desired: None, apply: Apply::InPlace }
    }

    fn plan(changes: Vec<Change>) -> PoolPlan {
        PoolPlan { id: "p".into(), action: Action::UpdateInPlace, changes }
    }

    #[test]
    fn a_patch_names_only_what_differs_and_capacity_is_not_patched() {
        let desired = json!({"id": "p", "vmSize": "big", "metadata": [{"name": "a", "value": "1"}], "targetDedicatedNodes": 3,
            "virtualMachineConfiguration": {"imageReference": {"sku": "new"}, "nodeAgentSKUId": "x"}});
        let changes = vec![
            change("virtualMachineConfiguration.imageReference.sku", ChangeKind::Changed),
            change("vmSize", ChangeKind::Changed),
            change("targetDedicatedNodes", ChangeKind::Changed),
            change("userAccounts", ChangeKind::Removed),
        ];
        let requests = requests(&plan(changes), &desired, ApiVersion::V2025_06_01);
        assert_eq!(
            requests,
            [Update::Patch(
                json!({"virtualMachineConfiguration": desired["virtualMachineConfiguration"], "vmSize": "big", "userAccounts": []})
            )]
        );
        assert!(
            super::requests(
                &plan(vec![change("targetDedicatedNodes", ChangeKind::Changed)]),
                &desired,
                ApiVersion::V2025_06_01
            )
            .is_empty()
        );
    }

    #[test]
    fn removing_the_start_task_takes_updateproperties() {
        let desired = json!({"id": "p", "metadata": [{"name": "a", "value": "1"}], "vmSize": "big"});
        let changes = vec![change("startTask", ChangeKind::Removed), change("vmSize", ChangeKind::Changed)];
        let requests = requests(&plan(changes), &desired, ApiVersion::V2025_06_01);
        assert_eq!(
            requests,
            [
                Update::Patch(json!({"vmSize": "big"})),
                Update::Properties(json!({"applicationPackageReferences": [], "metadata": desired["metadata"]})),
            ]
        );
    }

    #[test]
    fn capacity_from_a_body() {
        assert_eq!(
            Capacity::of(&json!({"targetDedicatedNodes": 2})),
            Capacity::Fixed { dedicated: 2, low_priority: 0, resize_timeout: None }
        );
        let auto = Capacity::of(&json!({"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1;"}));
        assert!(matches!(auto, Capacity::Auto { ref formula, .. } if formula == "$TargetDedicatedNodes=1;"));
    }
}
