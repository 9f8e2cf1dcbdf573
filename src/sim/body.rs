//! Reading a request body as the service does: JSON first; integer properties sent as JSON strings
//! (`"targetDedicatedNodes":"1"`, how the Azure CLI sends values given as flags) read as numbers;
//! a value of the wrong type refused with the service's `InvalidRequestBody` naming the property.
//! The parser's own words (serde's "invalid type: string, expected u32") never reach a client.

use super::errors::{Reply, error};
use crate::batch::defaults::INTEGERS;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// 400 `InvalidRequestBody` in the service's words (batch-api.md §3), with the property when known.
pub(super) fn invalid_body(property: Option<&str>, reason: &str) -> Reply {
    let mut values = Vec::new();
    if let Some(property) = property {
        values.push(("PropertyName", property));
    }
    values.push(("Reason", reason));
    error(400, "InvalidRequestBody", "The specified Request Body is not syntactically valid.", &values)
}

/// The body as a JSON object (an empty body is `{}`).
pub(super) fn object(bytes: &[u8]) -> Result<Map<String, Value>, Reply> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_body(None, "The request body must be a JSON object.")),
        Err(e) => Err(invalid_body(
            None,
            &format!("The request body is not valid JSON (line {}, column {}).", e.line(), e.column()),
        )),
    }
}

/// Reads `body` as `T`; on a type error, names the first property without which it reads.
pub(super) fn read<T: DeserializeOwned>(body: Map<String, Value>) -> Result<T, Reply> {
    let parses = |map: &Map<String, Value>| serde_json::from_value::<T>(Value::Object(map.clone())).is_ok();
    if let Ok(value) = serde_json::from_value(Value::Object(body.clone())) {
        return Ok(value);
    }
    let culprit = body.keys().find(|key| {
        let mut without = body.clone();
        without.shift_remove(key.as_str());
        parses(&without)
    });
    Err(match culprit {
        Some(key) => wrong_type(key, &body[key]),
        None => invalid_body(None, "A property of the request body has a value of the wrong type."),
    })
}

fn wrong_type(property: &str, value: &Value) -> Reply {
    invalid_body(Some(property), &format!("Cannot convert the value {value} of '{property}' to the expected type."))
}

/// Turns integer properties sent as strings into numbers; refuses a value that is no integer.
pub(super) fn read_integers(body: &mut Map<String, Value>) -> Result<(), Reply> {
    for path in INTEGERS {
        let segments: Vec<&str> = path.split('.').collect();
        visit(body, &segments, String::new())?;
    }
    Ok(())
}

fn visit(map: &mut Map<String, Value>, segments: &[&str], shown: String) -> Result<(), Reply> {
    let Some((first, rest)) = segments.split_first() else { return Ok(()) };
    let (name, list) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*first, false),
    };
    let shown = if shown.is_empty() { name.to_string() } else { format!("{shown}.{name}") };
    let Some(value) = map.get_mut(name) else { return Ok(()) };
    match (list, value) {
        (false, value) if rest.is_empty() => integer(value, &shown),
        (false, Value::Object(child)) => visit(child, rest, shown),
        (true, Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(child) = item {
                    visit(child, rest, format!("{shown}[{i}]"))?;
                }
            }
            Ok(())
        }
        // A wrong shape higher up is the typed reading's to refuse.
        _ => Ok(()),
    }
}

fn integer(value: &mut Value, shown: &str) -> Result<(), Reply> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
        Value::String(text) => match text.trim().parse::<i64>() {
            Ok(n) => {
                *value = Value::from(n);
                Ok(())
            }
            Err(_) => Err(invalid_body(
                Some(shown),
                &format!("Cannot convert the literal '{text}' of '{shown}' to the expected type 'Edm.Int32'."),
            )),
        },
        Value::Null => Ok(()),
        other => Err(invalid_body(
            Some(shown),
            &format!("Cannot convert the value {other} of '{shown}' to the expected type 'Edm.Int32'."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn values(reply: Reply) -> Vec<(&'static str, String)> {
        let Reply::Error { code, values, .. } = reply else { panic!("not an error") };
        assert_eq!(code, "InvalidRequestBody");
        values
    }

    #[test]
    fn integers_sent_as_strings_read_as_numbers_at_every_depth() {
        let mut body = map(
            json!({"targetDedicatedNodes": "1", "taskSlotsPerNode": " 2 ", "startTask": {"maxTaskRetryCount": "-1"},
            "userAccounts": [{"name": "a", "linuxUserConfiguration": {"uid": "1000", "gid": 1000}}],
            "virtualMachineConfiguration": {"dataDisks": [{"lun": "0", "diskSizeGB": "64"}]}, "displayName": "7"}),
        );
        read_integers(&mut body).ok().unwrap();
        assert_eq!(body["targetDedicatedNodes"], 1);
        assert_eq!(body["taskSlotsPerNode"], 2);
        assert_eq!(body["startTask"]["maxTaskRetryCount"], -1);
        assert_eq!(body["userAccounts"][0]["linuxUserConfiguration"]["uid"], 1000);
        assert_eq!(body["virtualMachineConfiguration"]["dataDisks"][0]["diskSizeGB"], 64);
        assert_eq!(body["displayName"], "7", "a string property stays a string");
    }

    #[test]
    fn a_value_that_is_no_integer_is_refused_naming_the_property() {
        let mut body = map(json!({"userAccounts": [{"linuxUserConfiguration": {"uid": "root"}}]}));
        let values = values(read_integers(&mut body).err().unwrap());
        assert_eq!(values[0], ("PropertyName", "userAccounts[0].linuxUserConfiguration.uid".to_string()));
        let mut body = map(json!({"targetDedicatedNodes": 1.5}));
        assert!(values_of(read_integers(&mut body)).contains("targetDedicatedNodes"));
    }

    fn values_of(result: Result<(), Reply>) -> String {
        format!("{:?}", values(result.err().unwrap()))
    }

    #[test]
    fn typed_reading_names_the_property_and_never_shows_parser_text() {
        let body = map(json!({"targetDedicatedNodes": 1, "enableAutoScale": "yes"}));
        let values = values(read::<crate::batch::Pool>(body).err().unwrap());
        assert_eq!(values[0], ("PropertyName", "enableAutoScale".to_string()));
        assert!(!values[1].1.contains("invalid type"), "serde's words stay inside: {values:?}");
        let bad = values_of(object(b"{\"id\": ").map(drop));
        assert!(bad.contains("not valid JSON (line 1"), "{bad}");
        assert!(values_of(object(b"[1]").map(drop)).contains("JSON object"));
        assert!(object(b" ").ok().unwrap().is_empty());
    }
}
