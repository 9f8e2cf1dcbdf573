//! Turning a backup (the live pool as the service returned it) back into a pool-add body:
//! read-only properties dropped, and the write-only secrets the service never returned named,
//! so the operator can supply them.

use crate::batch::ApiVersion;
use crate::definition::plan::prune_to_schema;
use crate::definition::schema::Schema;
use serde_json::Value;

/// The add body and the paths of secrets it lacks.
pub fn body_from_backup(backup: &Value, api_version: ApiVersion) -> Result<(Value, Vec<String>), String> {
    let Value::Object(map) = backup else { return Err("a backup is a JSON object (a pool)".into()) };
    let mut map = map.clone();
    prune_to_schema(&mut map, Schema::for_api_version(api_version), &[]);
    if map.get("enableAutoScale").and_then(Value::as_bool) == Some(true) {
        map.remove("targetDedicatedNodes");
        map.remove("targetLowPriorityNodes");
    }
    let body = Value::Object(map);
    let mut missing = Vec::new();
    missing_secrets(&body, "", &mut missing);
    Ok((body, missing))
}

/// Where a password or key must be, is required, and the service did not return it.
fn missing_secrets(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let at = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
            let has = |key: &str| map.contains_key(key);
            let needs_password =
                (path.contains("containerRegistries[") && has("username") && !has("identityReference"))
                    || (path.contains("userAccounts[") && has("name"))
                    || path.ends_with("cifsMountConfiguration");
            if needs_password && !has("password") {
                out.push(at("password"));
            }
            if path.ends_with("azureFileShareConfiguration") && !has("accountKey") {
                out.push(at("accountKey"));
            }
            if path.ends_with("azureBlobFileSystemConfiguration")
                && !has("accountKey")
                && !has("sasKey")
                && !has("identityReference")
            {
                out.push(at("accountKey"));
            }
            for (key, child) in map {
                missing_secrets(child, &at(key), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                missing_secrets(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Sets `value` at a path like `a.b[0].c`, creating nothing: the path must exist up to its parent.
pub fn set_path(body: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut target = body;
    let segments: Vec<&str> = path.split('.').collect();
    for (n, segment) in segments.iter().enumerate() {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (
                name,
                Some(rest.trim_end_matches(']').parse::<usize>().map_err(|_| format!("'{segment}' has a bad index"))?),
            ),
            None => (*segment, None),
        };
        let last = n + 1 == segments.len() && index.is_none();
        if last {
            let object = target.as_object_mut().ok_or_else(|| format!("{path}: the parent is not an object"))?;
            object.insert(name.to_string(), value);
            return Ok(());
        }
        target = target.get_mut(name).ok_or_else(|| format!("{path}: '{name}' is not in the backup"))?;
        if let Some(i) = index {
            target = target.get_mut(i).ok_or_else(|| format!("{path}: '{name}' has no element {i}"))?;
            if n + 1 == segments.len() {
                *target = value;
                return Ok(());
            }
        }
    }
    Err(format!("{path}: empty path"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_read_only_state_and_names_missing_secrets() {
        let backup = json!({
            "id": "p", "url": "u", "eTag": "0x1", "state": "active", "allocationState": "steady",
            "currentDedicatedNodes": 2, "targetDedicatedNodes": 2, "vmSize": "standard_d2s_v3",
            "resizeErrors": [{"code": "x", "message": "y"}],
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "p", "offer": "o", "sku": "s", "version": "latest", "exactVersion": "1.2"},
                "nodeAgentSKUId": "n",
                "containerConfiguration": {"type": "dockerCompatible", "containerRegistries": [{"registryServer": "r", "username": "u"}]}
            },
            "userAccounts": [{"name": "admin", "elevationLevel": "admin"}]
        });
        let (mut body, missing) = body_from_backup(&backup, ApiVersion::V2024_07_01).unwrap();
        for gone in ["url", "eTag", "state", "allocationState", "currentDedicatedNodes", "resizeErrors"] {
            assert!(body.get(gone).is_none(), "{gone}");
        }
        assert_eq!(
            missing,
            [
                "virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password",
                "userAccounts[0].password"
            ]
        );
        set_path(&mut body, &missing[0], json!("pw")).unwrap();
        assert_eq!(
            body["virtualMachineConfiguration"]["containerConfiguration"]["containerRegistries"][0]["password"],
            "pw"
        );
        assert!(set_path(&mut body, "nope.x", json!(1)).is_err());
    }
}
