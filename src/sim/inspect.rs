//! `/_sim/…`: inspection and control outside the Batch paths, for tests and benchmarks.
//! `GET /_sim/stats`, `POST /_sim/advance?seconds=N`, `POST /_sim/faults?spec=…`.

use super::SimState;
use super::faults::Faults;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;

pub(super) fn handle(state: &SimState, method: &Method, path: &str, query: &str) -> Response {
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    };
    let (status, body) = match (method.as_str(), path) {
        ("GET", "stats") => {
            let clock = state.clock.lock().expect("clock lock").clone();
            let world = state.world.lock().expect("world lock");
            (
                StatusCode::OK,
                json!({"stats": world.stats, "pools": world.pools.len(), "simSeconds": clock.now(), "speed": clock.speed()}),
            )
        }
        ("POST", "advance") => match param("seconds").and_then(|s| s.parse::<f64>().ok()) {
            Some(secs) => {
                state.clock.lock().expect("clock lock").advance(secs);
                (StatusCode::OK, json!({"advanced": secs}))
            }
            None => (StatusCode::BAD_REQUEST, json!({"error": "give ?seconds=N"})),
        },
        ("POST", "faults") => match Faults::parse(&param("spec").unwrap_or_default()) {
            Ok(faults) => {
                state.world.lock().expect("world lock").faults = faults;
                (StatusCode::OK, json!({"faults": "set"}))
            }
            Err(e) => (StatusCode::BAD_REQUEST, json!({"error": e})),
        },
        _ => (
            StatusCode::NOT_FOUND,
            json!({"error": "known: GET /_sim/stats, POST /_sim/advance?seconds=N, POST /_sim/faults?spec=…"}),
        ),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().expect("static header"));
    response
}
