//! A stand-in for the Entra ID token endpoint, served by `repool sim --tls` on the account's own
//! origin (`POST /{tenant}/oauth2/v2.0/token`, the client credentials grant with a secret or a
//! client assertion). The simulator accepts the bearer tokens it issued here, so repool's own
//! client-secret path and an official SDK holding a token can be tried end to end. Any client id
//! and secret are accepted: the simulator tests the flow, not an identity.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The scopes a Batch client asks for (repool and the SDKs write the resource with one slash or two).
const BATCH_SCOPES: [&str; 2] = ["https://batch.core.windows.net/.default", "https://batch.core.windows.net//.default"];

pub(super) async fn token(
    State(state): State<Arc<super::SimState>>,
    Path(_tenant): Path<String>,
    body: String,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let refuse =
        |code: &str, why: String| reply(StatusCode::BAD_REQUEST, json!({"error": code, "error_description": why}));
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse("unsupported_grant_type", "only the client_credentials grant is simulated".into());
    }
    if form.get("client_id").is_none_or(|id| id.trim().is_empty()) {
        return refuse("invalid_request", "client_id is missing".into());
    }
    if form.get("client_secret").or(form.get("client_assertion")).is_none_or(|s| s.trim().is_empty()) {
        return refuse("invalid_client", "neither client_secret nor client_assertion was given".into());
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    if !BATCH_SCOPES.contains(&scope) {
        return refuse("invalid_scope", format!("scope '{scope}' is not Azure Batch's ({})", BATCH_SCOPES[0]));
    }
    let token = format!("sim.{}", uuid::Uuid::new_v4().simple());
    state.verifier.issued(&token);
    reply(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}),
    )
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
