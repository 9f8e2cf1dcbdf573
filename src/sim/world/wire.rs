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

/// Puts the properties after `enableInterNodeCommunication` in the order the service uses: the
/// typed ones as they come, then `TAIL`'s in its order, then any other. One pass (every pool of
/// every listing comes through here).
fn order_properties(map: Map<String, Value>) -> Map<String, Value> {
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
    let mut ordered = Map::with_capacity(map.len());
    let mut tail: [Option<(String, Value)>; TAIL.len()] = Default::default();
    let mut others = Vec::new();
    for (key, value) in map {
        match TAIL.iter().position(|t| *t == key) {
            Some(i) => tail[i] = Some((key, value)),
            None if is_typed_key(&key) => drop(ordered.insert(key, value)),
            None => others.push((key, value)),
        }
    }
    ordered.extend(tail.into_iter().flatten());
    ordered.extend(others);
    ordered
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
