//! The simulator's answers: what a handler decided, and the service's error catalogue
//! (batch-api.md §3) as constructors, so every handler words an error the same way.

use axum::http::StatusCode;
use serde_json::Value;

/// What a handler decided; rendered with the common headers by `finish`.
pub(super) enum Reply {
    Ok {
        status: StatusCode,
        headers: Vec<(&'static str, String)>,
        body: Option<Value>,
    },
    Error {
        status: StatusCode,
        code: &'static str,
        message: String,
        values: Vec<(&'static str, String)>,
    },
    /// A node file's bytes (200, `application/octet-stream`) with its properties as headers.
    File {
        headers: Vec<(&'static str, String)>,
        content: String,
    },
}

impl Reply {
    /// `Code [Key: value]…`, for seed errors.
    pub(super) fn describe(&self) -> String {
        match self {
            Reply::Ok { status, .. } => status.to_string(),
            Reply::File { .. } => StatusCode::OK.to_string(),
            Reply::Error { code, values, .. } => {
                let details: Vec<String> = values.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{code} [{}]", details.join(", "))
            }
        }
    }
}

pub(super) fn error(status: u16, code: &'static str, message: &str, values: &[(&'static str, &str)]) -> Reply {
    Reply::Error {
        status: StatusCode::from_u16(status).expect("valid status"),
        code,
        message: message.to_string(),
        values: values.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

pub(super) fn not_found() -> Reply {
    error(404, "PoolNotFound", "The specified pool does not exist.", &[])
}

pub(super) fn node_not_found() -> Reply {
    error(404, "NodeNotFound", "The specified node does not exist.", &[])
}

pub(super) fn being_deleted() -> Reply {
    error(409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.", &[])
}

pub(super) fn invalid_value(property: &str, value: &str, reason: &str) -> Reply {
    error(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        &[("PropertyName", property), ("PropertyValue", value), ("Reason", reason)],
    )
}

pub(super) fn missing_property(property: &str) -> Reply {
    error(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        &[("PropertyName", property)],
    )
}

pub(super) fn bad_query(name: &str, value: &str, reason: &str) -> Reply {
    error(
        400,
        "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.",
        &[("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )
}

pub(super) fn condition_not_met() -> Reply {
    error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.", &[])
}

/// What cannot happen (the simulator failing to write its own state), in the service's words.
pub(super) fn internal() -> Reply {
    error(500, "InternalError", "Server encountered an internal error. Please try again after some time.", &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_status_code_and_values() {
        let Reply::Error { status, code, values, .. } = invalid_value("vmSize", "x", "bad") else { panic!() };
        assert_eq!((status.as_u16(), code), (400, "InvalidPropertyValue"));
        assert_eq!(values[0], ("PropertyName", "vmSize".to_string()));
        assert_eq!(condition_not_met().describe(), "ConditionNotMet []");
    }
}
