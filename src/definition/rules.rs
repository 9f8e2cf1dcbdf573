//! Batch's own rules, checked before anything is sent (the schema alone does not know them).

use crate::batch::BatchDuration;
use serde_json::Value;

const MAX_FORMULA: usize = 8192;

/// (path, message) for every rule `body` breaks.
pub(super) fn check(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut fail = |path: &str, message: &str| out.push((path.to_string(), message.to_string()));
    let id = body["id"].as_str().unwrap_or_default();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        fail("id", "a pool id has 1 to 64 letters, digits, '-' or '_'");
    }
    if !body["vmSize"].is_string() {
        fail("vmSize", "is required, e.g. \"standard_d2s_v3\"");
    }
    let vm = &body["virtualMachineConfiguration"];
    if !vm.is_object() {
        fail("virtualMachineConfiguration", "is required: imageReference and nodeAgentSKUId");
    } else {
        if !vm["imageReference"].is_object() {
            fail(
                "virtualMachineConfiguration.imageReference",
                "is required: publisher/offer/sku, or virtualMachineImageId",
            );
        }
        if !vm["nodeAgentSKUId"].is_string() {
            fail("virtualMachineConfiguration.nodeAgentSKUId", "is required, e.g. \"batch.node.ubuntu 24.04\"");
        }
    }
    let autoscale = body["enableAutoScale"].as_bool().unwrap_or(false);
    let has_targets = body.get("targetDedicatedNodes").is_some() || body.get("targetLowPriorityNodes").is_some();
    if autoscale {
        match body["autoScaleFormula"].as_str() {
            None => fail("autoScaleFormula", "is required when enableAutoScale is true"),
            Some(f) if f.trim().is_empty() => {
                fail("autoScaleFormula", "is empty; give the formula or turn enableAutoScale off")
            }
            Some(f) if f.len() > MAX_FORMULA => fail("autoScaleFormula", "is longer than Batch's 8192 characters"),
            _ => {}
        }
        for target in ["targetDedicatedNodes", "targetLowPriorityNodes"] {
            if body.get(target).is_some() {
                fail(
                    target,
                    "must not be set with enableAutoScale: the formula sets the targets (set it to null in this pool to drop a common-config value)",
                );
            }
        }
    } else {
        if !has_targets {
            fail(
                "targetDedicatedNodes",
                "set targetDedicatedNodes and/or targetLowPriorityNodes (0 is allowed), or enableAutoScale with autoScaleFormula",
            );
        }
        if body.get("autoScaleFormula").is_some() || body.get("autoScaleEvaluationInterval").is_some() {
            fail("autoScaleFormula", "is ignored unless enableAutoScale is true; set enableAutoScale or remove it");
        }
    }
    for (key, min, max) in [("resizeTimeout", 300, None), ("autoScaleEvaluationInterval", 300, Some(168 * 3600))] {
        if let Some(d) = body[key].as_str().and_then(|t| BatchDuration::parse(t).ok()) {
            let secs = d.as_std().as_secs();
            if secs < min {
                fail(key, "must be at least PT5M");
            } else if max.is_some_and(|m| secs > m) {
                fail(key, "must be at most P7D (168 hours)");
            }
        }
    }
    if body["taskSlotsPerNode"].as_i64().is_some_and(|n| n < 1) {
        fail("taskSlotsPerNode", "must be at least 1");
    }
    out
}

/// Ids that differ only by case are the same pool to Batch.
pub(super) fn duplicate_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, &str> = Default::default();
    let mut out = Vec::new();
    for id in ids {
        if let Some(first) = seen.insert(id.to_lowercase(), id) {
            out.push(format!("pools '{first}' and '{id}' are the same pool to Batch (ids ignore case); rename one"));
        }
    }
    out
}
