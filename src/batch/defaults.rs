//! What the service fills in or normalises when a pool is created (batch-api.md §2.2). Shared by
//! the simulator (which applies them) and `plan` (so server defaults never show as changes).

use super::api_version::ApiVersion;
use serde_json::{Map, Value, json};

/// What api-version 2025-06-01's PATCH changes only while the pool has no nodes (the azure-batch
/// 15.x `BatchPoolUpdateOptions` model, batch-api.md §9): the simulator refuses them on a pool with
/// nodes, and `plan` marks them "in place when empty".
pub const PATCH_WHEN_EMPTY: [&str; 10] = [
    "displayName",
    "vmSize",
    "enableInterNodeCommunication",
    "virtualMachineConfiguration",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "networkConfiguration",
    "userAccounts",
    "mountConfiguration",
    "upgradePolicy",
];

/// What a pool's capacity is made of: set by resize and enable/disable autoscale, not by a PATCH.
pub const CAPACITY: [&str; 6] = [
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "enableAutoScale",
    "autoScaleFormula",
    "autoScaleEvaluationInterval",
    "resizeTimeout",
];

/// What a PATCH (or updateproperties) changes at any time, pool with nodes or not.
pub const PATCH_ANY_TIME: [&str; 5] =
    ["startTask", "applicationPackageReferences", "metadata", "certificateReferences", "targetNodeCommunicationMode"];

/// Every integer property of a pool-add body under either shipped schema (a test holds this to
/// them), `[]` marking a list's items. The service also reads each from a JSON string holding the
/// number, which is how the Azure CLI sends values given as flags (`"targetDedicatedNodes":"1"`).
pub const INTEGERS: [&str; 16] = [
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "taskSlotsPerNode",
    "startTask.maxTaskRetryCount",
    "userAccounts[].linuxUserConfiguration.uid",
    "userAccounts[].linuxUserConfiguration.gid",
    "virtualMachineConfiguration.dataDisks[].lun",
    "virtualMachineConfiguration.dataDisks[].diskSizeGB",
    "virtualMachineConfiguration.osDisk.diskSizeGB",
    "networkConfiguration.endpointConfiguration.inboundNATPools[].backendPort",
    "networkConfiguration.endpointConfiguration.inboundNATPools[].frontendPortRangeStart",
    "networkConfiguration.endpointConfiguration.inboundNATPools[].frontendPortRangeEnd",
    "networkConfiguration.endpointConfiguration.inboundNATPools[].networkSecurityGroupRules[].priority",
    "upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent",
    "upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent",
    "upgradePolicy.rollingUpgradePolicy.maxUnhealthyUpgradedInstancePercent",
];

/// Applies the service's defaults to a pool-add body, in place.
pub fn apply(body: &mut Map<String, Value>, api_version: ApiVersion) {
    let autoscale = body.get("enableAutoScale").and_then(Value::as_bool).unwrap_or(false);
    body.entry("resizeTimeout").or_insert(json!("PT15M"));
    body.entry("enableAutoScale").or_insert(json!(false));
    if autoscale {
        body.entry("autoScaleEvaluationInterval").or_insert(json!("PT15M"));
    } else {
        body.entry("targetDedicatedNodes").or_insert(json!(0));
        body.entry("targetLowPriorityNodes").or_insert(json!(0));
    }
    body.entry("enableInterNodeCommunication").or_insert(json!(false));
    body.entry("taskSlotsPerNode").or_insert(json!(1));
    if let Some(policy) = body.entry("taskSchedulingPolicy").or_insert(json!({})).as_object_mut() {
        policy.entry("nodeFillType").or_insert(json!("spread"));
        if api_version.has_job_default_order() {
            policy.entry("jobDefaultOrder").or_insert(json!("none"));
        }
    }
    if let Some(vm) = body.get_mut("virtualMachineConfiguration").and_then(Value::as_object_mut) {
        if let Some(image) = vm.get_mut("imageReference").and_then(Value::as_object_mut)
            && !image.contains_key("virtualMachineImageId")
        {
            image.entry("version").or_insert(json!("latest"));
        }
        if let Some(Value::Array(disks)) = vm.get_mut("dataDisks") {
            for disk in disks.iter_mut().filter_map(Value::as_object_mut) {
                disk.entry("caching").or_insert(json!("none"));
                disk.entry("storageAccountType").or_insert(json!("standard_lrs"));
            }
        }
    }
    if let Some(network) = body.get_mut("networkConfiguration").and_then(Value::as_object_mut) {
        network.entry("dynamicVNetAssignmentScope").or_insert(json!("none"));
        network.entry("enableAcceleratedNetworking").or_insert(json!(false));
    }
    super::case::normalize(body);
    let mut value = Value::Object(std::mem::take(body));
    strip_write_only(&mut value);
    if let Value::Object(map) = value {
        *body = map;
    }
}

/// Properties the service accepts but never returns: passwords and keys.
pub fn is_write_only(name: &str) -> bool {
    matches!(name, "password" | "accountKey" | "sasKey" | "sshPrivateKey")
}

/// Removes write-only properties everywhere in `value`.
pub fn strip_write_only(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_write_only(k));
            map.values_mut().for_each(strip_write_only);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_write_only),
        _ => {}
    }
}
