//! A simulated pool in the service's wire shape: properties in the service's order.

use super::*;

impl SimPool {
    /// The wire JSON at `now`, in the service's property order, without secrets the service
    /// never returns.
    pub fn to_wire(&self, base_url: &str) -> Map<String, Value> {
        let mut pool = self.wire.clone();
        pool.url = Some(format!("{base_url}/pools/{}", pool.id()));
        match serde_json::to_value(&pool) {
            Ok(Value::Object(map)) => order_properties(map),
            _ => Map::new(),
        }
    }
}

/// Puts the properties after `enableInterNodeCommunication` in the order the service uses.
fn order_properties(mut map: Map<String, Value>) -> Map<String, Value> {
    const TAIL: [&str; 16] = [
        "certificateReferences",
        "metadata",
        "userAccounts",
        "startTask",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "virtualMachineConfiguration",
        "networkConfiguration",
        "applicationPackageReferences",
        "mountConfiguration",
        "identity",
        "upgradePolicy",
        "resourceTags",
        "stats",
        "targetNodeCommunicationMode",
        "currentNodeCommunicationMode",
    ];
    let mut tail = Map::new();
    for key in TAIL {
        if let Some(value) = map.shift_remove(key) {
            tail.insert(key.to_string(), value);
        }
    }
    let mut others = Map::new();
    let head_keys: Vec<String> = map.keys().cloned().collect();
    for key in head_keys {
        if !is_typed_key(&key)
            && let Some(v) = map.shift_remove(&key)
        {
            others.insert(key, v);
        }
    }
    map.extend(tail);
    map.extend(others);
    map
}

fn is_typed_key(key: &str) -> bool {
    matches!(
        key,
        "id" | "displayName"
            | "url"
            | "eTag"
            | "lastModified"
            | "creationTime"
            | "state"
            | "stateTransitionTime"
            | "allocationState"
            | "allocationStateTransitionTime"
            | "vmSize"
            | "resizeTimeout"
            | "currentDedicatedNodes"
            | "targetDedicatedNodes"
            | "currentLowPriorityNodes"
            | "targetLowPriorityNodes"
            | "resizeErrors"
            | "enableAutoScale"
            | "autoScaleFormula"
            | "autoScaleEvaluationInterval"
            | "autoScaleRun"
            | "enableInterNodeCommunication"
    )
}
