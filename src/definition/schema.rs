//! The Batch pool-add schema as data (assets/schema, read from the official SDK models): every
//! property, type and enum. Validation walks a body against it, so a typo in a property name is
//! caught and named instead of silently vanishing from the new pool.

use crate::batch::{ApiVersion, BatchDuration};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SCHEMA_2024: &str = include_str!("../../assets/schema/pool-add-schema-2024-02-01.json");
const SCHEMA_2025: &str = include_str!("../../assets/schema/pool-add-schema-2025-06-01.json");
/// What a required property that is missing is told.
pub const REQUIRED: &str = "is required";

#[derive(Debug, Deserialize)]
pub struct Schema {
    /// Which shipped model this is, by its newest api-version.
    #[serde(skip)]
    pub version: ApiVersion,
    pub root: String,
    pub types: BTreeMap<String, TypeDef>,
    pub enums: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct TypeDef {
    pub properties: BTreeMap<String, PropertyDef>,
}

#[derive(Debug, Deserialize)]
pub struct PropertyDef {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub required: bool,
}

/// One problem found in a body: where (JSON path below the pool) and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

impl Schema {
    /// The schema of `api_version`: the 2025-06-01 model, or the 2024 one for every older version.
    pub fn for_api_version(api_version: ApiVersion) -> &'static Schema {
        static V2024: OnceLock<Schema> = OnceLock::new();
        static V2025: OnceLock<Schema> = OnceLock::new();
        let (cell, text, version) = if api_version.has_2025_model() {
            (&V2025, SCHEMA_2025, ApiVersion::V2025_06_01)
        } else {
            (&V2024, SCHEMA_2024, ApiVersion::V2024_07_01)
        };
        cell.get_or_init(|| {
            let schema: Schema = serde_json::from_str(text).expect("the embedded schema is valid JSON");
            Schema { version, ..schema }
        })
    }

    /// Checks `body` against the root type; findings carry paths like `startTask.userIdentity`.
    pub fn check(&self, body: &Value) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.check_type(body, &self.root, "", &mut findings);
        findings
    }

    /// The type name of the property at `path` below the root, if the schema knows it.
    pub fn type_at(&self, path: &[&str]) -> Option<&str> {
        let mut ty = self.root.as_str();
        for segment in path {
            ty = element_type(ty);
            ty = self.types.get(ty)?.properties.get(*segment)?.ty.as_str();
        }
        Some(ty)
    }

    pub fn is_enum(&self, ty: &str) -> bool {
        self.enums.contains_key(element_type(ty))
    }

    /// The other shipped model (2024 ↔ 2025), whose enums also bind this one's plain strings.
    pub fn other(api_version: ApiVersion) -> &'static Schema {
        Schema::for_api_version(if api_version.has_2025_model() {
            ApiVersion::V2024_07_01
        } else {
            ApiVersion::V2025_06_01
        })
    }

    /// Strings this model only calls strings where `other` knows the allowed values: the service
    /// checks them whatever the model says (`containerConfiguration.type` is `dockerCompatible`
    /// or `criCompatible`, never `docker`).
    pub fn check_enums_of(&self, body: &Value, other: &Schema) -> Vec<Finding> {
        let mut out = Vec::new();
        self.walk_enums(body, &mut Vec::new(), other, &mut out);
        out
    }

    fn walk_enums<'a>(&self, value: &'a Value, path: &mut Vec<&'a str>, other: &Schema, out: &mut Vec<Finding>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    path.push(key);
                    self.walk_enums(item, path, other, out);
                    path.pop();
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.walk_enums(item, path, other, out)),
            Value::String(text) if self.type_at(path).map(element_type) == Some("str") => {
                let values = other.type_at(path).and_then(|ty| other.enums.get(element_type(ty)));
                if let Some(values) = values.filter(|v| !v.iter().any(|v| v.eq_ignore_ascii_case(text))) {
                    out.push(Finding {
                        path: path.join("."),
                        message: format!(
                            "'{text}' is not one of {}{}: the service accepts only these (the other api-version's model lists them)",
                            values.join(", "),
                            suggest(text, values)
                        ),
                    });
                }
            }
            _ => {}
        }
    }

    fn check_type(&self, value: &Value, ty: &str, path: &str, out: &mut Vec<Finding>) {
        let mut fail = |message: String| out.push(Finding { path: path.to_string(), message });
        if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_type(item, inner, &format!("{path}[{i}]"), out);
                    }
                }
                other => fail(format!("must be a list, not {}", kind(other))),
            }
            return;
        }
        if let Some(inner) = ty.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            match value {
                Value::Object(map) => {
                    for (key, item) in map {
                        self.check_type(item, inner, &join(path, key), out);
                    }
                }
                other => fail(format!("must be an object of names to values, not {}", kind(other))),
            }
            return;
        }
        match ty {
            "str" if !value.is_string() => fail(format!("must be a string, not {}", kind(value))),
            "int" if !(value.is_i64() || value.is_u64()) => {
                fail(format!("must be a whole number, not {}", kind(value)))
            }
            "bool" if !value.is_boolean() => fail(format!("must be true or false, not {}", kind(value))),
            "duration" => match value.as_str() {
                Some(text) => {
                    if let Err(e) = BatchDuration::parse(text) {
                        fail(e);
                    }
                }
                None => fail(format!("must be an ISO-8601 duration string such as \"PT15M\", not {}", kind(value))),
            },
            "iso-8601" => {
                if value.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()).is_none() {
                    fail("must be a UTC timestamp such as \"2025-01-31T12:00:00Z\"".into());
                }
            }
            "str" | "int" | "bool" | "object" => {}
            named => {
                if let Some(values) = self.enums.get(named) {
                    match value.as_str() {
                        Some(text) if values.iter().any(|v| v.eq_ignore_ascii_case(text)) => {}
                        Some(text) => {
                            fail(format!("'{text}' is not one of {}{}", values.join(", "), suggest(text, values)))
                        }
                        None => fail(format!("must be one of {}", values.join(", "))),
                    }
                } else if let Some(def) = self.types.get(named) {
                    self.check_object(value, def, path, out);
                }
            }
        }
    }

    fn check_object(&self, value: &Value, def: &TypeDef, path: &str, out: &mut Vec<Finding>) {
        let Value::Object(map) = value else {
            out.push(Finding { path: path.to_string(), message: format!("must be an object, not {}", kind(value)) });
            return;
        };
        for (key, item) in map {
            match def.properties.get(key) {
                Some(prop) => self.check_type(item, &prop.ty, &join(path, key), out),
                None => {
                    let known: Vec<&String> = def.properties.keys().collect();
                    let at = join(path, key);
                    // A property of the other api-version's model: say which version can express it.
                    let segments: Vec<&str> = at.split('.').map(|s| s.split('[').next().unwrap_or(s)).collect();
                    let other = Schema::other(self.version);
                    let message = if other.type_at(&segments).is_some() {
                        let that = other.version;
                        let this = if self.version.has_2025_model() {
                            self.version.to_string()
                        } else {
                            format!("{} and older", self.version)
                        };
                        format!(
                            "'{key}' cannot be expressed in api-version {this}; Batch would drop it silently \
                             (use --api-version {that}, or remove it)"
                        )
                    } else {
                        format!("unknown property '{key}'{}; Batch would drop it silently", suggest(key, &known))
                    };
                    out.push(Finding { path: at, message });
                }
            }
        }
        for (key, prop) in &def.properties {
            if prop.required && !map.contains_key(key) {
                out.push(Finding { path: join(path, key), message: REQUIRED.into() });
            }
        }
    }
}

fn element_type(ty: &str) -> &str {
    ty.trim_start_matches(['[', '{']).trim_end_matches([']', '}'])
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// " (did you mean 'x'?)" for the closest known name (a property, a value, a pool id), if it is close.
pub fn suggest<S: AsRef<str>>(given: &str, known: &[S]) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&given.to_lowercase(), &k.as_ref().to_lowercase()), k.as_ref()))
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((distance, name)) if distance <= 3.max(given.len() / 4) => format!(" (did you mean '{name}'?)"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "id": "p", "vmSize": "standard_d2s_v3",
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "canonical", "offer": "ubuntu", "sku": "server"},
                "nodeAgentSKUId": "batch.node.ubuntu 24.04"
            },
            "networkConfiguration": {"subnetId": "/subscriptions/x", "dynamicVNetAssignmentScope": "job"}
        })
    }

    /// The paths of every `int` property under `ty`, `[]` marking a list's items.
    fn integer_paths(schema: &Schema, ty: &str, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        let Some(def) = schema.types.get(element_type(ty)) else { return };
        for (name, property) in &def.properties {
            let path = format!("{prefix}{name}");
            match property.ty.as_str() {
                "int" => {
                    out.insert(path);
                }
                list if list.starts_with('[') => integer_paths(schema, list, &format!("{path}[]."), out),
                other => integer_paths(schema, other, &format!("{path}."), out),
            }
        }
    }

    #[test]
    fn the_integer_list_the_simulator_reads_strings_by_is_every_int_of_both_schemas() {
        let mut paths = std::collections::BTreeSet::new();
        for version in [ApiVersion::V2024_07_01, ApiVersion::V2025_06_01] {
            let schema = Schema::for_api_version(version);
            integer_paths(schema, &schema.root, "", &mut paths);
        }
        let listed: std::collections::BTreeSet<String> =
            crate::batch::defaults::INTEGERS.iter().map(|p| p.to_string()).collect();
        assert_eq!(listed, paths);
    }

    #[test]
    fn a_valid_body_passes_both_versions() {
        for version in [ApiVersion::V2024_07_01, ApiVersion::V2025_06_01] {
            assert_eq!(Schema::for_api_version(version).check(&body()), vec![], "{version}");
        }
    }

    #[test]
    fn typos_are_caught_and_the_right_name_suggested() {
        let mut b = body();
        let net = b["networkConfiguration"].as_object_mut().unwrap();
        let scope = net.remove("dynamicVNetAssignmentScope").unwrap();
        net.insert("dynamicVNetAsignmentScope".into(), scope);
        b["virtualMachineConfiguration"]["nodeAgentSkuId"] = b["virtualMachineConfiguration"]["nodeAgentSKUId"].take();
        let findings = Schema::for_api_version(ApiVersion::V2024_07_01).check(&b);
        let messages: Vec<String> = findings.iter().map(|f| format!("{}: {}", f.path, f.message)).collect();
        assert!(
            messages.iter().any(|m| m.starts_with("networkConfiguration.dynamicVNetAsignmentScope: unknown property")
                && m.contains("did you mean 'dynamicVNetAssignmentScope'")),
            "{messages:?}"
        );
        assert!(messages.iter().any(|m| m.contains("did you mean 'nodeAgentSKUId'")), "{messages:?}");
    }

    #[test]
    fn types_and_enums_are_checked() {
        let mut b = body();
        b["targetDedicatedNodes"] = json!("2");
        b["resizeTimeout"] = json!("15 minutes");
        b["networkConfiguration"]["dynamicVNetAssignmentScope"] = json!("jobs");
        b["taskSchedulingPolicy"] = json!({"nodeFillType": "Spread"});
        let findings = Schema::for_api_version(ApiVersion::V2025_06_01).check(&b);
        let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["networkConfiguration.dynamicVNetAssignmentScope", "targetDedicatedNodes", "resizeTimeout"],
            "{findings:?}"
        );
        assert!(findings[0].message.contains("did you mean 'job'"), "{findings:?}");
    }

    #[test]
    fn knows_types_by_path() {
        let schema = Schema::for_api_version(ApiVersion::V2024_07_01);
        assert_eq!(schema.type_at(&["resizeTimeout"]), Some("duration"));
        assert!(schema.is_enum(schema.type_at(&["taskSchedulingPolicy", "nodeFillType"]).unwrap()));
        assert_eq!(schema.type_at(&["nope"]), None);
    }

    #[test]
    fn a_property_only_the_other_api_version_has_names_the_version_that_can() {
        let body = serde_json::json!({"id": "p", "vmSize": "x", "resourceTags": {"a": "b"}});
        let findings = Schema::for_api_version(ApiVersion::V2025_06_01).check(&body);
        let tags = findings.iter().find(|f| f.path == "resourceTags").expect("named");
        assert!(tags.message.contains("cannot be expressed in api-version 2025-06-01"), "{}", tags.message);
        assert!(tags.message.contains("--api-version 2024-07-01.20.0"), "{}", tags.message);
        assert!(Schema::for_api_version(ApiVersion::V2024_07_01).check(&body).iter().all(|f| f.path != "resourceTags"));
    }
}
