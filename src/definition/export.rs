//! `repool export`: a pool definition written from live pools, so a newcomer starts from what the
//! account has. Each pool becomes its add body (read-only properties and the service's defaults
//! left out); `common-config` holds what every exported pool shares, each pool only its
//! differences. Secrets the service never returns become named `env()` placeholders, which makes
//! the file a template (`.j2`).

use crate::batch::ApiVersion;
use crate::batch::Pool;
use crate::batch::defaults;
use crate::definition::add_body::{body_from_backup, set_path};
use serde_json::{Map, Value};

/// An exported definition, and the environment variables it reads.
pub struct Exported {
    pub text: String,
    /// (variable, pool, property path) for each secret placeholder; non-empty means a template.
    pub secrets: Vec<(String, String, String)>,
    /// Pools whose live properties no definition can carry (a managed identity), and what.
    pub uncarried: Vec<(String, String)>,
}

pub fn export(pools: &[&Pool], api_version: ApiVersion) -> Result<Exported, String> {
    let mut bodies: Vec<(String, Value)> = Vec::new();
    let mut secrets = Vec::new();
    let mut uncarried = Vec::new();
    for pool in pools {
        let live = serde_json::to_value(pool).map_err(|e| e.to_string())?;
        if live.get("identity").is_some_and(|i| !i.is_null()) {
            uncarried.push((pool.id().to_string(), "identity".to_string()));
        }
        let (mut body, missing) = body_from_backup(&live, api_version)?;
        for path in missing {
            let variable = variable_name(pool.id(), &path);
            set_path(&mut body, &path, Value::String(placeholder(secrets.len())))?;
            secrets.push((variable, pool.id().to_string(), path));
        }
        if let Some(map) = body.as_object_mut() {
            map.remove("id");
        }
        without_defaults(&mut body, api_version);
        bodies.push((pool.id().to_string(), body));
    }
    let shared = if bodies.len() > 1 {
        let all: Vec<&Value> = bodies.iter().map(|(_, b)| b).collect();
        common(&all).unwrap_or_else(|| Value::Object(Map::new()))
    } else {
        Value::Object(Map::new())
    };
    let mut out = Map::new();
    out.insert("common-config".into(), shared.clone());
    for (id, body) in &bodies {
        out.insert(id.clone(), difference(body, &shared).unwrap_or_else(|| Value::Object(Map::new())));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(out)).map_err(|e| e.to_string())?;
    for (n, (variable, _, _)) in secrets.iter().enumerate() {
        text = text.replace(&format!("\"{}\"", placeholder(n)), &format!("\"{{{{ env(\"{variable}\") }}}}\""));
    }
    text.push('\n');
    Ok(Exported { text, secrets, uncarried })
}

fn placeholder(n: usize) -> String {
    format!("__repool_secret_{n}__")
}

/// `P_RENDER_CONTAINERREGISTRIES_0_PASSWORD` for pool `p-render`, path `….containerRegistries[0].password`.
fn variable_name(pool: &str, path: &str) -> String {
    let tail: Vec<&str> = path.rsplit('.').take(2).collect();
    let raw = format!("{pool}_{}", tail.into_iter().rev().collect::<Vec<_>>().join("_"));
    let mut name: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    name.trim_matches('_').to_string()
}

/// Removes every property the service would fill in with the same value anyway.
fn without_defaults(body: &mut Value, api_version: ApiVersion) {
    let normal = |b: &Value| {
        let mut map = b.as_object().cloned().unwrap_or_default();
        defaults::apply(&mut map, api_version);
        Value::Object(map)
    };
    let target = normal(body);
    let mut paths = Vec::new();
    leaf_first_paths(body, &mut Vec::new(), &mut paths);
    // Capacity is said outright, even where it is the default (and validation wants it said).
    let capacity =
        |path: &[String]| matches!(path, [key] if key == "targetDedicatedNodes" || key == "targetLowPriorityNodes");
    for path in paths.into_iter().filter(|p| !capacity(p)) {
        let mut candidate = body.clone();
        if remove_at(&mut candidate, &path) && normal(&candidate) == target {
            *body = candidate;
        }
    }
}

/// Every object key's path, children before their parent.
fn leaf_first_paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            at.push(key.clone());
            leaf_first_paths(child, at, out);
            out.push(at.clone());
            at.pop();
        }
    }
}

fn remove_at(value: &mut Value, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => value.as_object_mut().is_some_and(|m| m.remove(last).is_some()),
        [first, rest @ ..] => value.get_mut(first).is_some_and(|child| remove_at(child, rest)),
    }
}

/// What every value shares: objects key by key (deep), anything else only when all are equal.
fn common(values: &[&Value]) -> Option<Value> {
    let first = values.first()?;
    if let Value::Object(map) = first
        && values.iter().all(|v| v.is_object())
    {
        let mut shared = Map::new();
        for key in map.keys() {
            let children: Option<Vec<&Value>> = values.iter().map(|v| v.get(key)).collect();
            if let Some(value) = children.and_then(|c| common(&c)) {
                shared.insert(key.clone(), value);
            }
        }
        return (!shared.is_empty()).then_some(Value::Object(shared));
    }
    values.iter().all(|v| v == first).then(|| (*first).clone())
}

/// What `body` has beyond `shared` (deep-merging the result over `shared` gives `body` back).
fn difference(body: &Value, shared: &Value) -> Option<Value> {
    match (body, shared) {
        (Value::Object(own), Value::Object(base)) => {
            let mut rest = Map::new();
            for (key, value) in own {
                let differs = match base.get(key) {
                    Some(base_value) => difference(value, base_value),
                    None => Some(value.clone()),
                };
                if let Some(value) = differs {
                    rest.insert(key.clone(), value);
                }
            }
            (!rest.is_empty()).then_some(Value::Object(rest))
        }
        _ if body == shared => None,
        _ => Some(body.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn common_is_deep_and_differences_merge_back() {
        let a = json!({"vmSize": "x", "vm": {"image": "u", "agent": "a"}, "n": 1});
        let b = json!({"vmSize": "x", "vm": {"image": "u", "agent": "b"}, "n": 2});
        let shared = common(&[&a, &b]).unwrap();
        assert_eq!(shared, json!({"vmSize": "x", "vm": {"image": "u"}}));
        let only_a = difference(&a, &shared).unwrap();
        assert_eq!(only_a, json!({"vm": {"agent": "a"}, "n": 1}));
        assert_eq!(crate::definition::merge(&shared, &only_a), a);
    }

    #[test]
    fn defaults_the_service_fills_in_are_left_out() {
        let mut body = json!({"vmSize": "standard_d2s_v3", "resizeTimeout": "PT15M", "taskSlotsPerNode": 1,
            "enableAutoScale": false, "targetDedicatedNodes": 2, "targetLowPriorityNodes": 0,
            "taskSchedulingPolicy": {"nodeFillType": "Spread", "jobDefaultOrder": "none"}});
        without_defaults(&mut body, ApiVersion::V2025_06_01);
        assert_eq!(body, json!({"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 2, "targetLowPriorityNodes": 0}));
    }

    #[test]
    fn secret_variables_are_named_after_pool_and_property() {
        let path = "virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password";
        assert_eq!(variable_name("p-render", path), "P_RENDER_CONTAINERREGISTRIES_0_PASSWORD");
    }
}
