//! The simulator's HTTP surface: the Batch REST paths for pools, node counts, nodes, jobs and tasks, with the
//! service's status codes, headers, error bodies and paging (batch-api.md §1–3). A request is
//! parsed once into a `Route` (route.rs), which decides which pools the clock advances, whether
//! conditional headers apply (conditional.rs), which handler answers (pools.rs) and the name its
//! statistics use. Every time the simulator writes (bodies, Last-Modified, Date, an error's
//! `Time:`) comes from the one simulated clock.

use super::SimState;
use super::auth::AuthOutcome;
use super::conditional::{self, Verdict};
use super::errors::{Reply, condition_not_met, error};
use super::faults::Fault;
use super::pools::Ctx;
use super::route::{Advance, Route};
use super::world::World;
use crate::batch::ApiVersion;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Every version the service still accepts (learn.microsoft.com "Batch API status": all newer than
/// September 2017 are available; 2017-09-01.6.0 and older were removed), and the two the spec
/// repository has past 2025-06-01 (batch-api.md §10; whether the service answers them is
/// unverified: accepted so their breaking change — no `retaineddata` — can be tried). Others get
/// 400 `UnsupportedRequestVersion`.
pub const API_VERSIONS: [ApiVersion; 17] = [
    ApiVersion::numbered(2018, 3, 1, 6, 1),
    ApiVersion::numbered(2018, 8, 1, 7, 0),
    ApiVersion::numbered(2018, 12, 1, 8, 0),
    ApiVersion::numbered(2019, 6, 1, 9, 0),
    ApiVersion::numbered(2019, 8, 1, 10, 0),
    ApiVersion::numbered(2020, 3, 1, 11, 0),
    ApiVersion::numbered(2020, 9, 1, 12, 0),
    ApiVersion::numbered(2021, 6, 1, 14, 0),
    ApiVersion::numbered(2022, 1, 1, 15, 0),
    ApiVersion::numbered(2022, 10, 1, 16, 0),
    ApiVersion::numbered(2023, 5, 1, 17, 0),
    ApiVersion::numbered(2023, 11, 1, 18, 0),
    ApiVersion::numbered(2024, 2, 1, 19, 0),
    ApiVersion::numbered(2024, 7, 1, 20, 0),
    ApiVersion::dated(2025, 6, 1),
    ApiVersion::dated(2026, 8, 1),
    ApiVersion::dated(2026, 10, 1),
];

/// Everything a handler needs about the request.
pub(super) struct Call<'a> {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    pub base: String,
    pub api_version: String,
}

impl Call<'_> {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `$select` as a list of keys.
    pub(super) fn select(&self) -> Option<Vec<&str>> {
        self.param("$select").map(|s| s.split(',').map(str::trim).collect())
    }

    /// The body as `T`, refused as the service refuses it (sim/body.rs).
    pub(super) fn json_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Reply> {
        super::body::read(self.json_object()?)
    }

    /// The body as a JSON object.
    pub(super) fn json_object(&self) -> Result<Map<String, Value>, Reply> {
        super::body::object(&self.body)
    }
}

pub async fn handle(State(state): State<Arc<SimState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = axum::body::to_bytes(body, 4 << 20).await.unwrap_or_default();
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    if let Some(rest) = raw_path.strip_prefix("/_sim/") {
        return super::inspect::handle(&state, &parts.method, rest, &raw_query);
    }
    let segments: Vec<String> =
        raw_path.trim_matches('/').split('/').map(percent_decode).filter(|s| !s.is_empty()).collect();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
    let route = Route::parse(&parts.method, &segments);
    let (fault, delay) = {
        let mut world = state.world.lock().expect("world lock");
        let World { faults, rng, .. } = &mut *world;
        faults.draw(rng, route.name())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let call = Call {
        method: parts.method.clone(),
        segments,
        api_version: query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.clone()).unwrap_or_default(),
        query,
        headers: &parts.headers,
        body,
        base: format!("{}://{host}", state.scheme),
    };
    let reply = match fault {
        Some(Fault::Drop) => {
            record(&state, &call.method, route.name(), "dropped");
            return dropped_connection();
        }
        Some(Fault::Busy503) => error(
            503,
            "ServerBusy",
            "The server is currently unable to receive requests. Please retry your request.",
            &[],
        ),
        Some(Fault::Throttle429) => {
            error(429, "TooManyRequests", "The request rate is too high. Please retry after some time.", &[])
        }
        Some(Fault::Timeout500) => {
            error(500, "OperationTimedOut", "Operation could not be completed within the specified time.", &[])
        }
        Some(Fault::Unauthorized401) => error(
            401,
            "InvalidAuthenticationInfo",
            "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
            &[],
        ),
        None => {
            let reply = respond(&state, &call, &route, &raw_path, &raw_query).unwrap_or_else(|refused| refused);
            match after_effects(&state, &call.method, &route, reply) {
                Some(reply) => reply,
                None => {
                    record(&state, &call.method, route.name(), "lost");
                    return dropped_connection();
                }
            }
        }
    };
    let retry_after = matches!(fault, Some(Fault::Busy503 | Fault::Throttle429))
        .then(|| state.world.lock().expect("world lock").faults.retry_after_secs);
    let clock = state.clock.lock().expect("clock lock").clone();
    let response = finish(reply, &call, &request_id, retry_after, clock.timestamp(clock.now()));
    record(&state, &call.method, route.name(), response.status().as_str());
    response
}

/// The faults that strike after the service acted: a change whose answer is lost (None: drop the
/// connection), a list answer that leaves a pool out.
fn after_effects(state: &SimState, method: &Method, route: &Route, mut reply: Reply) -> Option<Reply> {
    let mut world = state.world.lock().expect("world lock");
    let World { faults, rng, stats, .. } = &mut *world;
    let changed = !matches!(*method, Method::GET | Method::HEAD) && matches!(reply, Reply::Ok { .. });
    if changed && faults.lost.hit(rng, route.name()) {
        return None;
    }
    if let (Route::ListPools, Reply::Ok { body: Some(body), .. }) = (route, &mut reply)
        && let Some(pools) = body.get_mut("value").and_then(Value::as_array_mut)
        && !pools.is_empty()
    {
        let at = match faults.omit_pool.as_deref() {
            Some(id) => pools.iter().position(|p| p["id"].as_str().is_some_and(|p| p.eq_ignore_ascii_case(id))),
            None => Some(rng.usize(..pools.len())),
        };
        if let Some(at) = at
            && faults.omit.hit(rng, route.name())
        {
            pools.remove(at);
            *stats.requests.entry("GET list pools omitted a pool".into()).or_default() += 1;
        }
    }
    Some(reply)
}

fn record(state: &SimState, method: &Method, operation: &str, status: &str) {
    let mut world = state.world.lock().expect("world lock");
    *world.stats.requests.entry(format!("{method} {operation} {status}")).or_default() += 1;
}

fn respond(state: &SimState, call: &Call, route: &Route, raw_path: &str, raw_query: &str) -> Result<Reply, Reply> {
    if call.api_version.is_empty() {
        return Err(error(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
            &[("QueryParameterName", "api-version")],
        ));
    }
    let Some(version) = call.api_version.parse().ok().filter(|v| API_VERSIONS.contains(v)) else {
        return Err(error(
            400,
            "UnsupportedRequestVersion",
            "The specified Request Version is not supported.",
            &[("RequestVersion", &call.api_version)],
        ));
    };
    match state.verifier.check(&call.method, raw_path, raw_query, call.headers) {
        AuthOutcome::Ok => {}
        AuthOutcome::Missing => {
            return Err(error(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified.",
                &[("HeaderName", "Authorization")],
            ));
        }
        AuthOutcome::Failed(detail) => {
            return Err(error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
                &[("AuthenticationErrorDetail", &detail)],
            ));
        }
    }
    let clock = state.clock.lock().expect("clock lock").clone();
    let now = clock.now();
    let mut world = state.world.lock().expect("world lock");
    match route.advance() {
        Advance::One(id) => world.advance_one(id.to_lowercase(), now, &clock),
        Advance::Handler => {}
        Advance::Job(id) => {
            if let Some(pool) = world.jobs.get(&id.to_lowercase()).map(|j| j.pool_id.to_lowercase()) {
                world.advance_one(pool, now, &clock);
            }
        }
        Advance::All => world.advance(now, &clock),
    }
    let ctx = Ctx { world: &mut world, clock: &clock, now, call, version };
    if let (Some(access), Some(pool)) = (route.conditional(), route.pool().and_then(|id| ctx.world.find(id))) {
        match conditional::check(call.headers, access, pool.wire.e_tag.as_deref(), pool.wire.last_modified) {
            Verdict::Proceed => {}
            Verdict::NotModified => {
                let headers = ctx.pool_headers(pool, None);
                return Ok(Reply::Ok { status: StatusCode::NOT_MODIFIED, headers, body: None });
            }
            Verdict::Failed => return Err(condition_not_met()),
        }
    }
    ctx.dispatch(route)
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub(super) fn http_date(t: jiff::Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Adds the headers every Batch response carries (`Date` from the simulated clock, like every
/// time the simulator writes), and renders errors in the service's shape.
fn finish(reply: Reply, call: &Call, request_id: &str, retry_after: Option<u64>, now: jiff::Timestamp) -> Response {
    let mut builder = Response::builder()
        .header("request-id", request_id)
        .header("DataServiceVersion", "3.0")
        .header("Server", "Microsoft-HTTPAPI/2.0")
        .header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        .header("X-Content-Type-Options", "nosniff")
        .header("Date", http_date(now));
    let echo = call
        .headers
        .get("return-client-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if let (true, Some(id)) = (echo, call.headers.get("client-request-id")) {
        builder = builder.header("client-request-id", id.clone());
    }
    if let Some(secs) = retry_after {
        builder = builder.header("Retry-After", secs.to_string());
    }
    let content_type = "application/json; odata=minimalmetadata";
    let response = match reply {
        Reply::Ok { status, headers, body } => {
            let mut builder = builder.status(status);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            match body {
                Some(body) if call.method != Method::HEAD => {
                    builder.header(header::CONTENT_TYPE, content_type).body(Body::from(body.to_string()))
                }
                _ => builder.body(Body::empty()),
            }
        }
        Reply::File { headers, content } => {
            let mut builder = builder.status(StatusCode::OK).header(header::CONTENT_TYPE, "application/octet-stream");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            // A HEAD answer keeps the Content-Length of the body hyper leaves out.
            builder.body(Body::from(content))
        }
        Reply::Error { status, code, message, values } => {
            let time = now.strftime("%Y-%m-%dT%H:%M:%S.%7fZ");
            let mut body = Map::new();
            body.insert(
                "odata.metadata".into(),
                json!(format!(
                    "{}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
                    call.base
                )),
            );
            body.insert("code".into(), json!(code));
            body.insert(
                "message".into(),
                json!({"lang": "en-US", "value": format!("{message}\nRequestId:{request_id}\nTime:{time}")}),
            );
            if !values.is_empty() {
                body.insert(
                    "values".into(),
                    Value::Array(values.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect()),
                );
            }
            let builder = builder.status(status);
            if call.method == Method::HEAD {
                builder.body(Body::empty())
            } else {
                builder.header(header::CONTENT_TYPE, content_type).body(Body::from(Value::Object(body).to_string()))
            }
        }
    };
    response.unwrap_or_else(|_| {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r.headers_mut().insert("request-id", HeaderValue::from_static("invalid-response"));
        r
    })
}

/// A response whose body breaks off: the client sees the connection drop mid-answer.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault: dropped connection"))
    });
    Response::new(Body::from_stream(stream))
}
