//! Batch's checks on what a client sends: a pool-add body (also what the simulator seeds from),
//! autoscale formulas and evaluation intervals.

use super::errors::{Reply, error, invalid_value, missing_property};
use super::formula;
use crate::batch::{ApiVersion, BatchDuration, Pool};
use serde_json::{Map, Value};

pub(super) fn check_formula(formula: &str) -> Result<(), Reply> {
    if formula.len() > super::world::MAX_FORMULA_CHARS {
        return Err(error(
            400,
            "AutoScaleFormulaTooLong",
            "The specified autoscale formula is too long. The maximum length is 8192 characters.",
            &[],
        ));
    }
    if let Some((line, column, message)) = formula::syntax_error(formula) {
        return Err(error(
            400,
            "AutoScalingFormulaSyntaxError",
            "The specified autoscale formula has a syntax error.",
            &[("Line", &line.to_string()), ("Column", &column.to_string()), ("Message", &message)],
        ));
    }
    Ok(())
}

pub(super) fn check_interval(interval: Option<BatchDuration>) -> Result<(), Reply> {
    match interval {
        Some(d) if d < BatchDuration::from_mins(5) || d > BatchDuration::from_secs(168 * 3600) => Err(invalid_value(
            "autoScaleEvaluationInterval",
            &d.to_string(),
            "The evaluation interval must be between 5 minutes and 168 hours",
        )),
        _ => Ok(()),
    }
}

/// A start task needs a command line: missing or empty (blank), it is 400 `MissingRequiredProperty`
/// `commandLine` (the service names a property by its own name, rec:14; the code for an empty one is
/// the simulator's choice, docs/SIMULATOR.md). Applies to add, PATCH and updateproperties bodies.
pub(super) fn check_start_task(body: &Map<String, Value>) -> Result<(), Reply> {
    match body.get("startTask") {
        Some(Value::Object(task))
            if task.get("commandLine").and_then(Value::as_str).is_none_or(|l| l.trim().is_empty()) =>
        {
            Err(missing_property("commandLine"))
        }
        _ => Ok(()),
    }
}

/// Batch's checks on a pool-add body, and the defaults it fills in (batch-api.md §2.1, §2.2).
pub(super) fn validate_new_pool(mut body: Map<String, Value>, api_version: ApiVersion) -> Result<Pool, Reply> {
    super::body::read_integers(&mut body)?;
    for required in ["id", "vmSize"] {
        if !body.get(required).is_some_and(Value::is_string) {
            return Err(missing_property(required));
        }
    }
    check_start_task(&body)?;
    if !body.contains_key("virtualMachineConfiguration") && !body.contains_key("cloudServiceConfiguration") {
        return Err(missing_property("virtualMachineConfiguration"));
    }
    let id = body["id"].as_str().unwrap_or_default().to_string();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid_value("id", &id, "The id may contain up to 64 letters, digits, hyphens and underscores"));
    }
    let autoscale = body.get("enableAutoScale").and_then(Value::as_bool).unwrap_or(false);
    if autoscale {
        let Some(formula) = body.get("autoScaleFormula").and_then(Value::as_str) else {
            return Err(missing_property("autoScaleFormula"));
        };
        check_formula(formula)?;
        for target in ["targetDedicatedNodes", "targetLowPriorityNodes"] {
            if body.contains_key(target) {
                return Err(invalid_value(
                    target,
                    &body[target].to_string(),
                    "Target node counts cannot be specified when autoscale is enabled",
                ));
            }
        }
    }
    if let Some(slots) = body.get("taskSlotsPerNode")
        && slots.as_i64().is_none_or(|n| n < 1)
    {
        return Err(invalid_value("taskSlotsPerNode", &slots.to_string(), "taskSlotsPerNode must be at least 1"));
    }
    let duration = |key: &str, body: &Map<String, Value>| -> Result<Option<BatchDuration>, Reply> {
        match body.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => BatchDuration::parse(text).map(Some).map_err(|e| invalid_value(key, text, &e)),
            Some(other) => Err(invalid_value(key, &other.to_string(), "A duration string is expected")),
        }
    };
    if let Some(timeout) = duration("resizeTimeout", &body)?
        && timeout < BatchDuration::from_mins(5)
    {
        return Err(invalid_value(
            "resizeTimeout",
            &timeout.to_string(),
            "The specified resize timeout is less than the minimum of 5 minutes",
        ));
    }
    check_interval(duration("autoScaleEvaluationInterval", &body)?)?;
    super::images::check_offered(&body).map_err(|(value, reason)| invalid_value("imageReference", &value, &reason))?;
    crate::batch::defaults::apply(&mut body, api_version);
    super::body::read(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_valid_body_gets_the_service_defaults_and_bad_ones_name_the_property() {
        let image = serde_json::json!({"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"});
        let good =
            body(serde_json::json!({"id": "p", "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": image}));
        let pool = validate_new_pool(good.clone(), ApiVersion::V2025_06_01).ok().unwrap();
        assert_eq!(pool.id(), "p");
        let mut short = good.clone();
        short.insert("resizeTimeout".into(), "PT2M".into());
        assert!(validate_new_pool(short, ApiVersion::V2025_06_01).err().unwrap().describe().contains("resizeTimeout"));
        let mut no_size = good;
        no_size.remove("vmSize");
        assert!(validate_new_pool(no_size, ApiVersion::V2025_06_01).err().unwrap().describe().contains("vmSize"));
    }

    #[test]
    fn a_start_task_without_a_command_line_is_refused() {
        for task in
            [serde_json::json!({"commandLine": ""}), serde_json::json!({"commandLine": "  "}), serde_json::json!({})]
        {
            let refused = check_start_task(&body(serde_json::json!({"startTask": task}))).err().unwrap();
            assert_eq!(refused.describe(), "MissingRequiredProperty [PropertyName: commandLine]");
        }
        assert!(check_start_task(&body(serde_json::json!({"startTask": {"commandLine": "true"}}))).is_ok());
        assert!(check_start_task(&body(serde_json::json!({"metadata": []}))).is_ok());
    }

    #[test]
    fn formulas_too_long_or_broken_are_refused_but_undefined_symbols_are_not_syntax() {
        assert!(check_formula("$TargetDedicatedNodes = 2;").is_ok());
        assert!(check_formula("$something_useless").is_ok(), "an evaluation error, not a syntax error");
        assert!(check_formula("$TargetDedicatedNodes = (3;").err().unwrap().describe().contains("SyntaxError"));
        assert!(check_formula(&"x".repeat(9000)).err().unwrap().describe().contains("TooLong"));
        assert!(check_interval(Some(BatchDuration::from_mins(1))).is_err());
    }
}
