//! Pool bodies as repool keeps them: no secret in clear. A value a template read with
//! `env("VAR")` becomes `${env:VAR}` inside its string; any other secret (a password written into
//! a JSON definition, a secret-named start-task variable of a live pool) becomes `${secret}`,
//! resolved from the same pool and property of the definition in use (runs) or given with
//! `--secret` (restore). Live pools are sealed by place, with the run's sealed body as the map of
//! where secrets are, so a rotated or one-letter secret is hidden as well as any other.

use super::redact::is_secret_name;
use super::template::EnvSecret;
use serde_json::{Map, Value};

/// A secret repool does not keep.
pub const SECRET: &str = "${secret}";

/// `body` with secret-named properties (a password written into a JSON definition) and the values
/// of secret-named items as `${secret}`; references already there stay.
pub fn seal_names(body: &Value) -> Value {
    seal_value(body, &[], false)
}

/// `body` with every secret replaced by a reference, for a rendering whose references are not
/// known (env() used other than inside a string): a string that is a secret becomes `${env:VAR}`;
/// one that merely contains a secret becomes `${secret}` (text is never rewritten in part, so a
/// short secret cannot corrupt it).
pub fn seal(body: &Value, secrets: &[EnvSecret]) -> Value {
    let secrets: Vec<&EnvSecret> = secrets.iter().filter(|s| !s.value.is_empty()).collect();
    seal_value(body, &secrets, false)
}

fn seal_value(value: &Value, secrets: &[&EnvSecret], secret_property: bool) -> Value {
    match value {
        Value::Object(map) => {
            // `{"name": "DB_PASSWORD", "value": …}`: an environment setting or metadata item holding a secret.
            let secret_item = map.get("name").and_then(Value::as_str).is_some_and(is_secret_name);
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = is_secret_name(k) || (secret_item && k == "value");
                        (k.clone(), seal_value(v, secrets, secret))
                    })
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| seal_value(v, secrets, false)).collect()),
        Value::String(text) if is_reference(text) => value.clone(),
        Value::String(text) => match secrets.iter().find(|s| s.value == *text) {
            Some(secret) => Value::String(format!("${{env:{}}}", secret.var)),
            None if secret_property || secrets.iter().any(|s| text.contains(&s.value)) => Value::String(SECRET.into()),
            None => value.clone(),
        },
        other => other.clone(),
    }
}

/// Whether `text` holds a reference (`${env:…}` or `${secret}`).
pub fn is_reference(text: &str) -> bool {
    text.contains("${env:") || text.contains(SECRET)
}

/// `live` (a pool as the service returns it) with its secrets sealed: where `template` (the sealed
/// create body of the same pool) holds a reference, that reference; the value of an environment
/// setting or metadata item whose name looks secret, `${secret}`. Lists of named items (environment
/// settings, metadata) are matched by name, other lists by position.
pub fn seal_live(live: &Value, template: Option<&Value>) -> Value {
    match live {
        Value::Object(map) => {
            let secret_item = map.get("name").and_then(Value::as_str).is_some_and(is_secret_name);
            Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let inner = template.and_then(|t| t.get(key));
                        let sealed = match value {
                            Value::String(_) if key == "value" && secret_item => match inner {
                                Some(Value::String(t)) if is_reference(t) => Value::String(t.clone()),
                                _ => Value::String(SECRET.into()),
                            },
                            _ => seal_live(value, inner),
                        };
                        (key.clone(), sealed)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let by_name = item
                        .get("name")
                        .and_then(|name| template?.as_array()?.iter().find(|t| t.get("name") == Some(name)));
                    let inner = if item.get("name").is_some() { by_name } else { template.and_then(|t| t.get(i)) };
                    seal_live(item, inner)
                })
                .collect(),
        ),
        Value::String(_) => match template {
            Some(Value::String(t)) if is_reference(t) => Value::String(t.clone()),
            _ => live.clone(),
        },
        other => other.clone(),
    }
}

/// The body to send: references resolved from the environment and from `current` (the pool's
/// body in the definition in use, if it has the pool). Every unresolvable reference is named.
pub fn unseal(sealed: &Value, current: Option<&Value>) -> Result<Value, Vec<String>> {
    let mut missing = Vec::new();
    let body = unseal_value(sealed, current, "", &mut missing);
    if missing.is_empty() { Ok(body) } else { Err(missing) }
}

fn unseal_value(value: &Value, current: Option<&Value>, path: &str, missing: &mut Vec<String>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    (k.clone(), unseal_value(v, current.and_then(|c| c.get(k)), &at, missing))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| unseal_value(v, current.and_then(|c| c.get(i)), &format!("{path}[{i}]"), missing))
                .collect(),
        ),
        Value::String(text) if text == SECRET => match current {
            // The definition in use holds a reference there too when its env() variable is unset.
            Some(Value::String(clear)) if !is_reference(clear) => Value::String(clear.clone()),
            _ => {
                missing.push(format!("{path} (a secret repool does not keep; the definition in use has none there)"));
                value.clone()
            }
        },
        Value::String(text) => Value::String(resolve_env(text, path, missing)),
        other => other.clone(),
    }
}

fn resolve_env(text: &str, path: &str, missing: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        let Some(end) = rest[start..].find('}') else { break };
        let var = &rest[start + 6..start + end];
        out.push_str(&rest[..start]);
        match std::env::var(var) {
            Ok(value) => out.push_str(&value),
            Err(_) => {
                missing.push(format!("{path} (environment variable {var} is not set)"));
                out.push_str(&rest[start..start + end + 1]);
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_become_references_and_come_back() {
        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("REPOOL_TEST_SEALED_TOKEN", "tok-1") };
        let secrets = [EnvSecret { var: "REPOOL_TEST_SEALED_TOKEN".into(), value: "tok-1".into() }];
        let body = json!({
            "id": "p",
            "startTask": {"commandLine": "login --token=tok-1", "environmentSettings": [{"name": "T", "value": "tok-1"}]},
            "containerRegistries": [{"username": "u", "password": "written-in-json"}]
        });
        let sealed = seal(&body, &secrets);
        let text = sealed.to_string();
        assert!(!text.contains("tok-1") && !text.contains("written-in-json"), "{text}");
        assert_eq!(sealed["startTask"]["environmentSettings"][0]["value"], "${env:REPOOL_TEST_SEALED_TOKEN}");
        assert_eq!(sealed["startTask"]["commandLine"], SECRET, "a string holding a secret is sealed whole");
        assert_eq!(unseal(&sealed, Some(&body)).unwrap(), body);
        let missing = unseal(&sealed, None).unwrap_err();
        assert_eq!(missing.len(), 2);
        assert!(missing.iter().any(|m| m.starts_with("startTask.commandLine")), "{missing:?}");
        assert!(missing.iter().any(|m| m.starts_with("containerRegistries[0].password")), "{missing:?}");
    }

    #[test]
    fn live_pools_are_sealed_by_place_whatever_the_secret_looks_like() {
        let template = json!({"startTask": {"environmentSettings": [
            {"name": "A", "value": "${env:TOKEN_A}"}, {"name": "PLAIN", "value": "x"}
        ]}});
        // The service returns the values in clear, in another order; one is a rotated secret of one letter.
        let live = json!({"eTag": "0x8DE1", "startTask": {"environmentSettings": [
            {"name": "PLAIN", "value": "x"}, {"name": "A", "value": "x"}, {"name": "DB_PASSWORD", "value": "hunter2"}
        ]}});
        let sealed = seal_live(&live, Some(&template));
        assert_eq!(
            sealed,
            json!({"eTag": "0x8DE1", "startTask": {"environmentSettings": [
                {"name": "PLAIN", "value": "x"}, {"name": "A", "value": "${env:TOKEN_A}"}, {"name": "DB_PASSWORD", "value": SECRET}
            ]}})
        );
    }

    #[test]
    fn an_unset_variable_is_named() {
        let sealed = json!({"startTask": {"commandLine": "run ${env:REPOOL_SURELY_UNSET_SEALED}"}});
        let missing = unseal(&sealed, None).unwrap_err();
        assert!(missing[0].contains("REPOOL_SURELY_UNSET_SEALED is not set"), "{missing:?}");
    }
}
