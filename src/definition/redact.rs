//! Secrets out of anything shown or logged: properties named like secrets, and values that came
//! from `env()` in a template.

use crate::secret::REDACTED;
use serde_json::Value;

/// Property names that hold secrets: passwords, keys, tokens.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("password") || n.contains("secret") || n.contains("token") || n.ends_with("key") || n.ends_with("sas")
}

pub fn redact(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if is_secret_name(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v, secrets)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, secrets)).collect()),
        Value::String(text) if secrets.iter().any(|s| !s.is_empty() && text.contains(s.as_str())) => {
            let mut shown = text.clone();
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                shown = shown.replace(secret.as_str(), REDACTED);
            }
            Value::String(shown)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hides_secret_properties_and_env_values() {
        let body = json!({
            "containerConfiguration": {"containerRegistries": [{"registryServer": "r", "username": "u", "password": "p@ss"}]},
            "mountConfiguration": [{"azureBlobFileSystemConfiguration": {"accountKey": "k", "sasKey": "s"}}],
            "startTask": {"commandLine": "login --token=abc123", "environmentSettings": [{"name": "X", "value": "abc123"}]},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"
        });
        let shown = redact(&body, &["abc123".to_string()]).to_string();
        for secret in ["p@ss", "\"k\"", "\"s\"", "abc123"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("batch.node.ubuntu 24.04") && shown.contains("\"username\":\"u\""));
    }
}
