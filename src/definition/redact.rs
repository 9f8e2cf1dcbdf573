//! Secrets out of anything shown or logged, by place, never by searching text (a one-letter
//! secret must not mangle an ETag): properties named like secrets, environment settings named like
//! secrets, and every place the pool's sealed create body marks (values that came from `env()`).

use super::sealed::{is_reference, seal_live};
use crate::secret::REDACTED;
use serde_json::Value;

/// Property names that hold secrets: passwords, keys, tokens.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("password") || n.contains("secret") || n.contains("token") || n.ends_with("key") || n.ends_with("sas")
}

/// `value` for showing; `template` is the pool's sealed create body, if the definition has the pool.
pub fn redact(value: &Value, template: Option<&Value>) -> Value {
    hide(&seal_live(value, template))
}

fn hide(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown =
                        if is_secret_name(k) && !v.is_null() { Value::String(REDACTED.into()) } else { hide(v) };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(hide).collect()),
        Value::String(text) if is_reference(text) => Value::String(REDACTED.into()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::sealed::seal;
    use crate::definition::template::EnvSecret;
    use serde_json::json;

    #[test]
    fn hides_secret_properties_and_env_values_by_place() {
        let definition = json!({
            "startTask": {"commandLine": "login --token=abc123", "environmentSettings": [{"name": "X", "value": "abc123"}]}
        });
        let template = seal(&definition, &[EnvSecret { var: "T".into(), value: "abc123".into() }]);
        // The live pool still has the value from before the secret was rotated.
        let live = json!({
            "eTag": "0x8DEabc123",
            "containerConfiguration": {"containerRegistries": [{"registryServer": "r", "username": "u", "password": "p@ss"}]},
            "mountConfiguration": [{"azureBlobFileSystemConfiguration": {"accountKey": "k", "sasKey": "s"}}],
            "startTask": {"commandLine": "login --token=old-value", "environmentSettings": [{"name": "X", "value": "old-value"}]},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"
        });
        let shown = redact(&live, Some(&template)).to_string();
        for secret in ["p@ss", "\"k\"", "\"s\"", "old-value"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("batch.node.ubuntu 24.04") && shown.contains("\"username\":\"u\""));
        assert!(shown.contains("0x8DEabc123"), "text is never searched and replaced: {shown}");
    }
}
