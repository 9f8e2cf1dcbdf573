//! Create bodies as a run records them: no secret in clear. A value a template read with
//! `env("VAR")` becomes `${env:VAR}` inside its string; any other secret-named property (a
//! password written into a JSON definition) becomes `${definition}`, resolved from the same pool
//! and property of the definition in use. Unsealing reverses both or names what is missing.

use super::redact::is_secret_name;
use super::template::EnvSecret;
use serde_json::{Map, Value};

const FROM_DEFINITION: &str = "${definition}";

/// `body` with every secret replaced by its reference.
pub fn seal(body: &Value, secrets: &[EnvSecret]) -> Value {
    // Longer values first, so a secret that contains another is replaced whole.
    let mut secrets: Vec<&EnvSecret> = secrets.iter().filter(|s| !s.value.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
    seal_value(body, &secrets, false)
}

fn seal_value(value: &Value, secrets: &[&EnvSecret], secret_property: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (k.clone(), seal_value(v, secrets, is_secret_name(k)))).collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| seal_value(v, secrets, false)).collect()),
        Value::String(text) => {
            let mut sealed = text.clone();
            for secret in secrets {
                sealed = sealed.replace(&secret.value, &format!("${{env:{}}}", secret.var));
            }
            if secret_property && sealed == *text {
                Value::String(FROM_DEFINITION.into())
            } else {
                Value::String(sealed)
            }
        }
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
        Value::String(text) if text == FROM_DEFINITION => match current {
            Some(Value::String(clear)) if clear != FROM_DEFINITION => Value::String(clear.clone()),
            _ => {
                missing.push(format!("{path} (a secret written in the definition, which no longer has it there)"));
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
        assert!(text.contains("${env:REPOOL_TEST_SEALED_TOKEN}") && text.contains(FROM_DEFINITION), "{text}");
        assert_eq!(unseal(&sealed, Some(&body)).unwrap(), body);
        let missing = unseal(&sealed, None).unwrap_err();
        assert_eq!(missing.len(), 1);
        assert!(missing[0].starts_with("containerRegistries[0].password"), "{missing:?}");
    }

    #[test]
    fn an_unset_variable_is_named() {
        let sealed = json!({"startTask": {"commandLine": "run ${env:REPOOL_SURELY_UNSET_SEALED}"}});
        let missing = unseal(&sealed, None).unwrap_err();
        assert!(missing[0].contains("REPOOL_SURELY_UNSET_SEALED is not set"), "{missing:?}");
    }
}
