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
    let (shared, own) = factor(&bodies.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>());
    let mut out = Map::new();
    out.insert("common-config".into(), shared);
    for ((id, _), own) in bodies.iter().zip(own) {
        out.insert(id.clone(), own);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(out)).map_err(|e| e.to_string())?;
    for (n, (variable, _, _)) in secrets.iter().enumerate() {
        text = text.replace(&format!("\"{}\"", placeholder(n)), &format!("\"{{{{ env(\"{variable}\") }}}}\""));
    }
    text.push('\n');
    Ok(Exported { text, secrets, uncarried })
}

/// What every secret's placeholder starts with (until the text names its `env()` variable).
const SECRET_MARK: &str = "__repool_secret_";

fn placeholder(n: usize) -> String {
    format!("{SECRET_MARK}{n}__")
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

/// An image is one thing: a pool that runs another image names its own whole, never patches a
/// shared image's sku.
const WHOLE: [&str; 1] = ["imageReference"];

/// `common-config` and each pool's own object, the way a person writes them: every property all
/// pools have goes into `common-config` with its most frequent value (objects key by key, as the
/// definition merges them), and each pool says only where it differs. Merging a pool's object
/// over `common-config` gives its body back. One pool shares with nobody: all of it is its own.
pub fn factor(bodies: &[Value]) -> (Value, Vec<Value>) {
    let empty = || Value::Object(Map::new());
    let shared =
        if bodies.len() > 1 { common(&bodies.iter().collect::<Vec<_>>(), "").unwrap_or_else(empty) } else { empty() };
    let own = bodies.iter().map(|body| difference(body, &shared, "").unwrap_or_else(empty)).collect();
    (shared, own)
}

/// What the values under `key` share. Objects (but for `WHOLE` ones) merge key by key: a key all of
/// them have, with what its values share; anything else is one value, the most frequent.
fn common(values: &[&Value], key: &str) -> Option<Value> {
    if !WHOLE.contains(&key) && values.iter().all(|v| v.is_object()) {
        let mut shared = Map::new();
        for child in values[0].as_object().into_iter().flat_map(Map::keys) {
            let children: Option<Vec<&Value>> = values.iter().map(|v| v.get(child)).collect();
            if let Some(value) = children.and_then(|c| common(&c, child)) {
                shared.insert(child.clone(), value);
            }
        }
        if !shared.is_empty() {
            return Some(Value::Object(shared));
        }
    }
    most_frequent(values)
}

/// The value most of `values` have (the earliest on a tie). A secret stays with its pool.
fn most_frequent(values: &[&Value]) -> Option<Value> {
    let mut counts: Vec<(&Value, usize)> = Vec::new();
    for value in values.iter().filter(|v| !v.to_string().contains(SECRET_MARK)) {
        match counts.iter_mut().find(|(seen, _)| seen == value) {
            Some((_, n)) => *n += 1,
            None => counts.push((value, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(value, _)| value.clone())
}

/// What a pool's own object says so that merging it over `shared` gives `body`: where it differs,
/// and `null` for what `shared` has and it has not. `key` names where both are.
fn difference(body: &Value, shared: &Value, key: &str) -> Option<Value> {
    if body == shared {
        return None;
    }
    let (Value::Object(own), Value::Object(base)) = (body, shared) else { return Some(body.clone()) };
    if WHOLE.contains(&key) {
        return Some(replacing(body, shared));
    }
    let mut rest = Map::new();
    for (child, value) in own {
        let differs = match base.get(child) {
            Some(base_value) => difference(value, base_value, child),
            None => Some(value.clone()),
        };
        if let Some(value) = differs {
            rest.insert(child.clone(), value);
        }
    }
    for child in base.keys().filter(|k| !own.contains_key(*k)) {
        rest.insert(child.clone(), Value::Null);
    }
    Some(Value::Object(rest))
}

/// `body` written whole over `shared`: since objects merge, what `shared` has and `body` lacks
/// is removed (`null`) at every depth.
fn replacing(body: &Value, shared: &Value) -> Value {
    let (Value::Object(own), Value::Object(base)) = (body, shared) else { return body.clone() };
    let mut whole: Map<String, Value> =
        own.iter().map(|(k, v)| (k.clone(), base.get(k).map_or_else(|| v.clone(), |b| replacing(v, b)))).collect();
    for child in base.keys().filter(|k| !own.contains_key(*k)) {
        whole.insert(child.clone(), Value::Null);
    }
    Value::Object(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use proptest::prelude::*;

    #[test]
    fn common_config_takes_the_most_frequent_value_and_pools_override_it() {
        let linux = |size: &str| {
            json!({"vmSize": size, "startTask": {"commandLine": "echo", "waitForSuccess": true},
                "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu", "sku": "server"},
                    "nodeAgentSKUId": "batch.node.ubuntu 24.04"}})
        };
        let windows = json!({"vmSize": "d4", "startTask": {"commandLine": "cmd /c echo"},
            "virtualMachineConfiguration": {"imageReference": {"publisher": "microsoftwindowsserver", "offer": "windowsserver"},
                "nodeAgentSKUId": "batch.node.windows amd64", "windowsConfiguration": {"enableAutomaticUpdates": false}}});
        let bodies = [linux("d2"), linux("d4"), linux("d2"), windows.clone()];
        let (shared, own) = factor(&bodies);
        assert_eq!(
            shared,
            json!({"vmSize": "d2", "startTask": {"commandLine": "echo"},
                "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu", "sku": "server"},
                    "nodeAgentSKUId": "batch.node.ubuntu 24.04"}})
        );
        assert_eq!(own[0], json!({"startTask": {"waitForSuccess": true}}));
        assert_eq!(own[1], json!({"vmSize": "d4", "startTask": {"waitForSuccess": true}}));
        // The image whole, the shared sku it lacks removed; what only it has, its own.
        assert_eq!(
            own[3],
            json!({"vmSize": "d4", "startTask": {"commandLine": "cmd /c echo"},
                "virtualMachineConfiguration": {"imageReference": {"publisher": "microsoftwindowsserver", "offer": "windowsserver", "sku": null},
                    "nodeAgentSKUId": "batch.node.windows amd64", "windowsConfiguration": {"enableAutomaticUpdates": false}}})
        );
        for (body, own) in bodies.iter().zip(&own) {
            assert_eq!(&crate::definition::merge(&shared, own), body);
        }
        // Written whole, at every depth: what the shared one has below is removed too.
        let nested = |inner: Value| json!({"imageReference": {"b": inner}});
        let bodies = [nested(json!({"c": 1})), nested(json!({"c": 1})), nested(json!({}))];
        let (shared, own) = factor(&bodies);
        assert_eq!(own[2], json!({"imageReference": {"b": {"c": null}}}));
        assert_eq!(crate::definition::merge(&shared, &own[2]), bodies[2]);
    }

    #[test]
    fn a_secret_stays_with_its_pool_and_one_pool_shares_nothing() {
        let secret = |n| json!({"vmSize": "d2", "registries": [{"password": placeholder(n)}]});
        let (shared, own) = factor(&[secret(0), secret(1)]);
        assert_eq!(shared, json!({"vmSize": "d2"}));
        assert_eq!(own[1], json!({"registries": [{"password": placeholder(1)}]}));
        let (shared, own) = factor(&[secret(0)]);
        assert_eq!((shared, own), (json!({}), vec![secret(0)]));
    }

    /// A pool body from a small vocabulary: nested objects some pools lack, whole images, lists.
    fn body() -> impl Strategy<Value = Value> {
        let leaf =
            prop_oneof![Just(json!(1)), Just(json!("a")), Just(json!(true)), Just(json!(["x"])), Just(json!([]))];
        let object = |inner: BoxedStrategy<Value>| {
            prop::collection::btree_map(prop::sample::select(vec!["a", "b", "imageReference", "c"]), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        };
        let level2 = object(leaf.clone().boxed());
        let level1 = object(prop_oneof![leaf.clone(), level2].boxed());
        object(prop_oneof![leaf, level1].boxed())
    }

    /// Every key all of `values` have is in `shared`, down through the objects merged key by key.
    fn holds_what_all_have(values: &[&Value], shared: &Value, key: &str) -> bool {
        if WHOLE.contains(&key) || !values.iter().all(|v| v.is_object()) || !shared.is_object() {
            return true;
        }
        values[0].as_object().unwrap().keys().all(|child| {
            let children: Option<Vec<&Value>> = values.iter().map(|v| v.get(child)).collect();
            children.is_none_or(|c| shared.get(child).is_some_and(|s| holds_what_all_have(&c, s, child)))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn factoring_merges_back_and_shares_what_all_pools_have(bodies in prop::collection::vec(body(), 2..6)) {
            let (shared, own) = factor(&bodies);
            for (body, own) in bodies.iter().zip(&own) {
                prop_assert_eq!(&crate::definition::merge(&shared, own), body);
            }
            prop_assert!(holds_what_all_have(&bodies.iter().collect::<Vec<_>>(), &shared, ""), "{}", shared);
        }
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
