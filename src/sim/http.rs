//! The simulator's HTTP surface: the Batch REST paths for pools, node counts and nodes, with the
//! service's status codes, headers, error bodies and paging (batch-api.md §1–3).
//!
//! Assumptions where the service is undocumented (batch-api.md §3.2), also in docs/SIMULATOR.md:
//! resize while not steady → 409 `PoolBeingResized`; resize with autoscale on → 409
//! `OperationInvalidForCurrentState`; stopresize on a steady pool → 202, no change;
//! disableautoscale when already off → 200; TooManyEnableAutoScaleRequests → 409.

use super::SimState;
use super::auth::AuthOutcome;
use super::faults::Fault;
use super::filter;
use super::formula;
use super::world::{Phase, SimPool, World};
use crate::batch::defaults::strip_write_only;
use crate::batch::models::{AllocationState, EnableAutoScaleRequest, NodeDeallocationOption, ResizeRequest};
use crate::batch::{BatchDuration, Pool};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub const API_VERSIONS: [&str; 4] = ["2024-02-01.19.0", "2024-07-01.20.0", "2025-06-01", "2023-05-01.17.0"];

/// What a handler decided; rendered with the common headers by `finish`.
pub(super) enum Reply {
    Ok { status: StatusCode, headers: Vec<(&'static str, String)>, body: Option<Value> },
    Error { status: StatusCode, code: &'static str, message: String, values: Vec<(&'static str, String)> },
}

impl Reply {
    /// `Code [Key: value]…`, for seed errors.
    pub(super) fn describe(&self) -> String {
        match self {
            Reply::Ok { status, .. } => status.to_string(),
            Reply::Error { code, values, .. } => {
                let details: Vec<String> = values.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{code} [{}]", details.join(", "))
            }
        }
    }
}

fn error(status: u16, code: &'static str, message: &str, values: &[(&'static str, &str)]) -> Reply {
    Reply::Error {
        status: StatusCode::from_u16(status).expect("valid status"),
        code,
        message: message.to_string(),
        values: values.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

fn not_found() -> Reply {
    error(404, "PoolNotFound", "The specified pool does not exist.", &[])
}

fn being_deleted() -> Reply {
    error(409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.", &[])
}

fn invalid_value(property: &str, value: &str, reason: &str) -> Reply {
    error(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        &[("PropertyName", property), ("PropertyValue", value), ("Reason", reason)],
    )
}

fn missing_property(property: &str) -> Reply {
    error(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        &[("PropertyName", property)],
    )
}

fn bad_query(name: &str, value: &str, reason: &str) -> Reply {
    error(
        400,
        "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.",
        &[("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )
}

/// Everything a handler needs about the request.
struct Call<'a> {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: Bytes,
    base: String,
    api_version: String,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Reply> {
        let text = if self.body.is_empty() { &b"{}"[..] } else { &self.body[..] };
        serde_json::from_slice(text).map_err(|e| {
            error(
                400,
                "InvalidRequestBody",
                "The specified Request Body is not syntactically valid.",
                &[("Reason", &e.to_string())],
            )
        })
    }

    fn if_match_fails(&self, pool: &SimPool) -> bool {
        self.headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tag| tag != "*" && Some(tag) != pool.wire.e_tag.as_deref())
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
    let (fault, delay) = {
        let mut world = state.world.lock().expect("world lock");
        let World { faults, rng, .. } = &mut *world;
        faults.draw(rng)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let segments: Vec<String> =
        raw_path.trim_matches('/').split('/').map(percent_decode).filter(|s| !s.is_empty()).collect();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
    let operation = operation_name(&parts.method, &segments);
    let call = Call {
        method: parts.method.clone(),
        segments,
        api_version: query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.clone()).unwrap_or_default(),
        query,
        headers: &parts.headers,
        body,
        base: format!("http://{host}"),
    };
    let reply = match fault {
        Some(Fault::Drop) => {
            record(&state, &call.method, operation, "dropped");
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
        None => respond(&state, &call, &raw_path, &raw_query),
    };
    let retry_after = matches!(fault, Some(Fault::Busy503 | Fault::Throttle429))
        .then(|| state.world.lock().expect("world lock").faults.retry_after_secs);
    let response = finish(reply, &call, &request_id, retry_after);
    record(&state, &call.method, operation, response.status().as_str());
    response
}

fn record(state: &SimState, method: &Method, operation: &str, status: &str) {
    let mut world = state.world.lock().expect("world lock");
    *world.stats.requests.entry(format!("{method} {operation} {status}")).or_default() += 1;
}

fn respond(state: &SimState, call: &Call, raw_path: &str, raw_query: &str) -> Reply {
    if call.api_version.is_empty() {
        return error(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
            &[("QueryParameterName", "api-version")],
        );
    }
    if !API_VERSIONS.contains(&call.api_version.as_str()) {
        return error(
            400,
            "UnsupportedRequestVersion",
            "The specified Request Version is not supported.",
            &[("RequestVersion", &call.api_version)],
        );
    }
    match state.verifier.check(&call.method, raw_path, raw_query, call.headers) {
        AuthOutcome::Ok => {}
        AuthOutcome::Missing => {
            return error(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified.",
                &[("HeaderName", "Authorization")],
            );
        }
        AuthOutcome::Failed(detail) => {
            return error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
                &[("AuthenticationErrorDetail", &detail)],
            );
        }
    }
    let clock = state.clock.lock().expect("clock lock").clone();
    let now = clock.now();
    let segs: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let mut world = state.world.lock().expect("world lock");
    match (call.method.as_str(), segs.as_slice()) {
        (_, ["pools", id, ..]) => world.advance_one(id.to_lowercase(), now, &clock),
        ("POST", ["pools"]) => {}     // the new id only, once the body is read
        ("GET", ["nodecounts"]) => {} // the pools its filter selects only
        ("GET", ["supportedimages"]) => {}
        _ => world.advance(now, &clock),
    }
    let ctx = Ctx { world: &mut world, clock: &clock, now, call };
    match (call.method.as_str(), segs.as_slice()) {
        ("GET", ["pools"]) => ctx.list_pools(),
        ("POST", ["pools"]) => ctx.add_pool(),
        ("GET", ["pools", id]) => ctx.get_pool(id),
        ("HEAD", ["pools", id]) => ctx.pool_exists(id),
        ("DELETE", ["pools", id]) => ctx.delete_pool(id),
        ("PATCH", ["pools", id]) => ctx.patch_pool(id),
        ("POST", ["pools", id, "updateproperties"]) => ctx.update_properties(id),
        ("POST", ["pools", id, "resize"]) => ctx.resize(id),
        ("POST", ["pools", id, "stopresize"]) => ctx.stop_resize(id),
        ("POST", ["pools", id, "enableautoscale"]) => ctx.enable_autoscale(id),
        ("POST", ["pools", id, "disableautoscale"]) => ctx.disable_autoscale(id),
        ("POST", ["pools", id, "evaluateautoscale"]) => ctx.evaluate_autoscale(id),
        ("GET", ["pools", id, "nodes"]) => ctx.list_nodes(id),
        ("GET", ["nodecounts"]) => ctx.node_counts(),
        ("GET", ["supportedimages"]) => ctx.supported_images(),
        (_, ["pools", ..] | ["nodecounts"] | ["supportedimages"]) => {
            error(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.", &[])
        }
        _ => error(404, "ResourceNotFound", "The specified resource does not exist.", &[]),
    }
}

fn operation_name(method: &Method, segments: &[String]) -> &'static str {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["pools"]) => "list pools",
        ("POST", ["pools"]) => "add pool",
        ("GET", ["pools", _]) => "get pool",
        ("HEAD", ["pools", _]) => "pool exists",
        ("DELETE", ["pools", _]) => "delete pool",
        ("PATCH", ["pools", _]) => "patch pool",
        ("POST", ["pools", _, "updateproperties"]) => "update pool properties",
        ("POST", ["pools", _, "resize"]) => "resize pool",
        ("POST", ["pools", _, "stopresize"]) => "stop resize",
        ("POST", ["pools", _, "enableautoscale"]) => "enable autoscale",
        ("POST", ["pools", _, "disableautoscale"]) => "disable autoscale",
        ("POST", ["pools", _, "evaluateautoscale"]) => "evaluate autoscale",
        ("GET", ["pools", _, "nodes"]) => "list nodes",
        ("GET", ["nodecounts"]) => "list node counts",
        ("GET", ["supportedimages"]) => "list supported images",
        _ => "other",
    }
}

struct Ctx<'a> {
    world: &'a mut World,
    clock: &'a super::clock::SimClock,
    now: f64,
    call: &'a Call<'a>,
}

impl Ctx<'_> {
    fn pool_headers(&self, pool: &SimPool, with_service_id: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(suffix) = with_service_id {
            headers.push(("DataServiceId", format!("{}/pools/{}{suffix}", self.call.base, pool.wire.id())));
        }
        if let Some(tag) = &pool.wire.e_tag {
            headers.push(("ETag", tag.clone()));
        }
        if let Some(modified) = pool.wire.last_modified {
            headers.push(("Last-Modified", http_date(modified)));
        }
        headers
    }

    fn touch(&mut self, id: &str) {
        let tag = self.world.next_etag();
        let stamp = self.clock.timestamp(self.now);
        let pool = self.world.find_mut(id).expect("touching a known pool");
        pool.wire.e_tag = Some(tag);
        pool.wire.last_modified = Some(stamp);
    }

    /// The pool, or the reply for a missing or deleting one.
    fn live_pool(&self, id: &str) -> Result<&SimPool, Reply> {
        match self.world.find(id) {
            None => Err(not_found()),
            Some(pool) if pool.is_deleting() => Err(being_deleted()),
            Some(pool) if self.call.if_match_fails(pool) => Err(error(
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
                &[],
            )),
            Some(pool) => Ok(pool),
        }
    }

    fn max_results(&self, limit: u32, default: u32) -> Result<usize, Reply> {
        let Some(text) = self.call.param("maxresults") else { return Ok(default as usize) };
        let n: i64 = text.parse().map_err(|_| bad_query("maxresults", text, "MaxResults must be a number"))?;
        if n < 1 {
            return Err(bad_query("maxresults", text, "MaxResults cannot be less than 1"));
        }
        if n > limit as i64 {
            return Err(bad_query("maxresults", text, &format!("MaxResults cannot be greater than {limit}")));
        }
        Ok(n as usize)
    }

    /// One page of `items` after the `$skiptoken`, with an absolute nextLink. Items come in key
    /// order with a builder that returns None when `$filter` rejects the item; only items on this
    /// page (and the one after it) are built, so paging through N items costs O(N), not O(N²).
    fn page<F>(&self, items: impl Iterator<Item = (String, F)>, limit: u32, default: u32, metadata: &str) -> Reply
    where
        F: FnOnce() -> Option<Map<String, Value>>,
    {
        let max = match self.max_results(limit, default) {
            Ok(max) => max,
            Err(reply) => return reply,
        };
        let after = match self.call.param("$skiptoken") {
            Some(token) => match decode_skiptoken(token) {
                Some(key) => Some(key),
                None => return bad_query("$skiptoken", token, "The continuation token is not valid"),
            },
            None => None,
        };
        let select: Option<Vec<&str>> = self.call.param("$select").map(|s| s.split(',').map(str::trim).collect());
        let mut remaining = items
            .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
            .filter_map(|(key, build)| build().map(|object| (key, object)))
            .peekable();
        let mut value = Vec::new();
        let mut last = None;
        while value.len() < max {
            let Some((key, object)) = remaining.next() else { break };
            value.push(Value::Object(project(object, select.as_deref())));
            last = Some(key);
        }
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#{metadata}", self.call.base)));
        body.insert("value".into(), Value::Array(value));
        if remaining.peek().is_some() {
            let mut link = format!("{}/{}?", self.call.base, self.call.segments.join("/"));
            let mut pairs: Vec<String> = self
                .call
                .query
                .iter()
                .filter(|(k, _)| k != "$skiptoken")
                .map(|(k, v)| format!("{k}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
                .collect();
            pairs.push(format!("$skiptoken={}", encode_skiptoken(&last.expect("a page has items"))));
            link.push_str(&pairs.join("&"));
            body.insert("odata.nextLink".into(), json!(link));
        }
        Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(Value::Object(body)) }
    }

    /// The parsed `$filter`, or the reply refusing it.
    fn filter(&self) -> Result<Option<filter::Expr>, Reply> {
        match self.call.param("$filter") {
            Some(text) => filter::parse(text)
                .map(Some)
                .map_err(|reason| bad_query("$filter", text, &format!("The filter is invalid: {reason}"))),
            None => Ok(None),
        }
    }

    fn list_pools(&self) -> Reply {
        let filter = match self.filter() {
            Ok(filter) => filter,
            Err(reply) => return reply,
        };
        let items = self.world.pools.iter().map(|(key, pool)| {
            let filter = filter.as_ref();
            let build =
                move || Some(pool.to_wire(&self.call.base)).filter(|o| filter.is_none_or(|f| filter::matches(f, o)));
            (key.clone(), build)
        });
        self.page(items, 1000, 1000, "pools")
    }

    fn get_pool(&self, id: &str) -> Reply {
        let Some(pool) = self.world.find(id) else { return not_found() };
        let select: Option<Vec<&str>> = self.call.param("$select").map(|s| s.split(',').map(str::trim).collect());
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#pools/@Element", self.call.base)));
        body.extend(project(pool.to_wire(&self.call.base), select.as_deref()));
        Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, None), body: Some(Value::Object(body)) }
    }

    fn pool_exists(&self, id: &str) -> Reply {
        match self.world.find(id) {
            Some(pool) => Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, None), body: None },
            None => Reply::Ok { status: StatusCode::NOT_FOUND, headers: vec![], body: None },
        }
    }

    fn add_pool(mut self) -> Reply {
        let body: Map<String, Value> = match self.call.json_body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let pool = match validate_new_pool(body, &self.call.api_version) {
            Ok(pool) => pool,
            Err(reply) => return reply,
        };
        let id = pool.id().to_string();
        self.world.advance_one(id.to_lowercase(), self.now, self.clock);
        if let Some(existing) = self.world.find(&id) {
            return if existing.is_deleting() {
                being_deleted()
            } else {
                error(409, "PoolExists", "The specified pool already exists.", &[])
            };
        }
        let failure = self.alloc_failure();
        self.world.admit(pool, self.now, self.now, None, failure, self.clock);
        self.world.stats.pools_created += 1;
        let pool = self.world.find(&id).expect("just added");
        let mut headers = self.pool_headers(pool, Some(""));
        headers.push(("Location", format!("{}/pools/{id}", self.call.base)));
        Reply::Ok { status: StatusCode::CREATED, headers, body: None }
    }

    /// Draws the allocation-failure fault: (code, message) that will land in resizeErrors.
    fn alloc_failure(&mut self) -> Option<(String, String)> {
        let World { faults, rng, .. } = &mut *self.world;
        faults.alloc_failure.hit(rng).then(|| {
            if rng.bool() {
                (
                    "AccountCoreQuotaReached".to_string(),
                    "The specified account has reached VM core quota for the target VM size.".to_string(),
                )
            } else {
                (
                    "AllocationFailed".to_string(),
                    "Desired number of dedicated nodes could not be allocated due to an internal error.".to_string(),
                )
            }
        })
    }

    fn delete_pool(mut self, id: &str) -> Reply {
        if let Err(reply) = self.live_pool(id) {
            return reply;
        }
        self.touch(id);
        let timings = self.world.timings.clone();
        let (now, clock) = (self.now, self.clock);
        let pool = self.world.find_mut(id).expect("checked");
        let killed = pool.start_delete(now, &timings, clock);
        pool.wire.state_transition_time = pool.wire.last_modified;
        self.world.stats.tasks_killed_by_delete += killed;
        Reply::Ok { status: StatusCode::ACCEPTED, headers: vec![], body: None }
    }

    fn patch_pool(mut self, id: &str) -> Reply {
        let body: Map<String, Value> = match self.call.json_body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        if let Err(reply) = self.live_pool(id) {
            return reply;
        }
        self.touch(id);
        let pool = self.world.find_mut(id).expect("checked");
        let mut wire = serde_json::to_value(&pool.wire).expect("pool serialises");
        for (key, value) in body {
            wire[key] = value;
        }
        strip_write_only(&mut wire);
        if let Ok(updated) = serde_json::from_value(wire) {
            pool.wire = updated;
        }
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, Some("")), body: None }
    }

    fn update_properties(mut self, id: &str) -> Reply {
        let body: Map<String, Value> = match self.call.json_body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let mut required = vec!["applicationPackageReferences", "metadata"];
        if self.call.api_version.starts_with("2024") || self.call.api_version.starts_with("2023") {
            required.insert(0, "certificateReferences");
        }
        if let Some(missing) = required.iter().find(|k| !body.contains_key(**k)) {
            return missing_property(missing);
        }
        if let Err(reply) = self.live_pool(id) {
            return reply;
        }
        self.touch(id);
        let pool = self.world.find_mut(id).expect("checked");
        pool.wire.rest.shift_remove("startTask");
        for (key, mut value) in body {
            strip_write_only(&mut value);
            pool.wire.rest.insert(key, value);
        }
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::NO_CONTENT, headers: self.pool_headers(pool, Some("")), body: None }
    }

    fn resize(mut self, id: &str) -> Reply {
        let request: ResizeRequest = match self.call.json_body() {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        if request.target_dedicated_nodes.is_none() && request.target_low_priority_nodes.is_none() {
            return missing_property("targetDedicatedNodes and/or targetLowPriorityNodes");
        }
        if let Some(timeout) = request.resize_timeout
            && timeout < BatchDuration::from_mins(5)
        {
            return invalid_value(
                "resizeTimeout",
                &timeout.to_string(),
                "The specified resize timeout is less than the minimum of 5 minutes",
            );
        }
        let pool = match self.live_pool(id) {
            Ok(pool) => pool,
            Err(reply) => return reply,
        };
        if pool.wire.autoscale() {
            return error(
                409,
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
                &[("Reason", "Resize is not allowed while autoscale is enabled")],
            );
        }
        if pool.phase != Phase::Steady {
            return error(409, "PoolBeingResized", "The specified pool is being resized.", &[]);
        }
        let targets = (
            request.target_dedicated_nodes.unwrap_or(pool.wire.target_dedicated_nodes.unwrap_or(0)),
            request.target_low_priority_nodes.unwrap_or(pool.wire.target_low_priority_nodes.unwrap_or(0)),
        );
        let timeout = request.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        let dealloc = request.node_deallocation_option.unwrap_or(NodeDeallocationOption::Requeue);
        let grows = targets.0 > pool.wire.current_dedicated_nodes.unwrap_or(0)
            || targets.1 > pool.wire.current_low_priority_nodes.unwrap_or(0);
        let failure = if grows { self.alloc_failure() } else { None };
        self.touch(id);
        let timings = self.world.timings.clone();
        let (now, clock) = (self.now, self.clock);
        let World { pools, rng, stats, .. } = &mut *self.world;
        let pool = pools.get_mut(&id.to_lowercase()).expect("checked");
        if let Some(timeout) = request.resize_timeout {
            pool.wire.resize_timeout = Some(timeout);
        }
        stats.tasks_killed_by_resize +=
            pool.start_resize(targets, dealloc, now, timeout, failure, &timings, rng, clock);
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::ACCEPTED, headers: self.pool_headers(pool, Some("/resize")), body: None }
    }

    fn stop_resize(self, id: &str) -> Reply {
        if let Err(reply) = self.live_pool(id) {
            return reply;
        }
        let (now, clock, settle) = (self.now, self.clock, self.world.timings.stop_settle);
        let pool = self.world.find_mut(id).expect("checked");
        if matches!(pool.phase, Phase::Resizing { .. } | Phase::Settling { .. }) {
            pool.cancel_pending_changes(now);
            pool.enter(Phase::Stopping { until: now + settle }, now);
            pool.set_allocation(AllocationState::Stopping, now, clock);
        }
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::ACCEPTED, headers: self.pool_headers(pool, Some("/stopresize")), body: None }
    }

    fn enable_autoscale(mut self, id: &str) -> Reply {
        let request: EnableAutoScaleRequest = match self.call.json_body() {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        let pool = match self.live_pool(id) {
            Ok(pool) => pool,
            Err(reply) => return reply,
        };
        if pool.last_enable_autoscale.is_some_and(|t| self.now - t < 30.0) {
            return error(
                409,
                "TooManyEnableAutoScaleRequests",
                "Too many Enable Pool AutoScale requests are issued on the pool.",
                &[],
            );
        }
        if pool.phase != Phase::Steady {
            return error(409, "PoolBeingResized", "The specified pool is being resized.", &[]);
        }
        let formula = request.auto_scale_formula.clone().or_else(|| pool.wire.auto_scale_formula.clone());
        let Some(formula) = formula else { return missing_property("autoScaleFormula") };
        if let Err(reply) = check_formula(&formula).and(check_interval(request.auto_scale_evaluation_interval)) {
            return reply;
        }
        self.touch(id);
        let (key, now, clock) = (id.to_lowercase(), self.now, self.clock);
        let pool = self.world.find_mut(id).expect("checked");
        pool.wire.enable_auto_scale = Some(true);
        pool.wire.auto_scale_formula = Some(formula);
        pool.wire.auto_scale_evaluation_interval = request
            .auto_scale_evaluation_interval
            .or(pool.wire.auto_scale_evaluation_interval)
            .or(Some(BatchDuration::from_mins(15)));
        pool.last_enable_autoscale = Some(now);
        self.world.evaluate_and_apply_autoscale(&key, now, clock);
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, Some("/enableautoscale")), body: None }
    }

    fn disable_autoscale(mut self, id: &str) -> Reply {
        if let Err(reply) = self.live_pool(id) {
            return reply;
        }
        self.touch(id);
        let (now, clock, settle) = (self.now, self.clock, self.world.timings.disable_autoscale_settle);
        let pool = self.world.find_mut(id).expect("checked");
        if pool.wire.autoscale() && pool.phase == Phase::Steady {
            pool.enter(Phase::Settling { until: now + settle }, now);
            pool.set_allocation(AllocationState::Resizing, now, clock);
        }
        pool.wire.enable_auto_scale = Some(false);
        pool.wire.auto_scale_formula = None;
        pool.wire.auto_scale_evaluation_interval = None;
        pool.wire.auto_scale_run = None;
        pool.next_autoscale_eval = None;
        let pool = self.world.find(id).expect("checked");
        Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, Some("/disableautoscale")), body: None }
    }

    fn evaluate_autoscale(&self, id: &str) -> Reply {
        let request: EnableAutoScaleRequest = match self.call.json_body() {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        let Some(formula) = request.auto_scale_formula else { return missing_property("autoScaleFormula") };
        let pool = match self.live_pool(id) {
            Ok(pool) => pool,
            Err(reply) => return reply,
        };
        if !pool.wire.autoscale() {
            return error(
                409,
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
                &[("Reason", "Autoscale is not enabled on the pool")],
            );
        }
        if let Err(reply) = check_formula(&formula) {
            return reply;
        }
        let run = formula::evaluate(&formula);
        let mut body = Map::new();
        body.insert(
            "odata.metadata".into(),
            json!(format!("{}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun", self.call.base)),
        );
        body.insert("timestamp".into(), json!(self.clock.timestamp(self.now)));
        if let Some(results) = run.results {
            body.insert("results".into(), json!(results));
        }
        if let Some(err) = run.error {
            body.insert("error".into(), serde_json::to_value(err).expect("error serialises"));
        }
        let headers = vec![("DataServiceId", format!("{}/pools/{}/evaluateautoscale", self.call.base, pool.wire.id()))];
        Reply::Ok { status: StatusCode::OK, headers, body: Some(Value::Object(body)) }
    }

    fn list_nodes(&self, id: &str) -> Reply {
        let Some(pool) = self.world.find(id) else { return not_found() };
        let mut nodes: Vec<_> = pool.visible_nodes(self.now).collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let items = nodes.into_iter().map(|node| {
            let build = move || {
                let state = pool.node_state(node, self.now);
                let object = json!({
                    "id": node.id,
                    "url": format!("{}/pools/{}/nodes/{}", self.call.base, pool.wire.id(), node.id),
                    "state": state,
                    "schedulingState": "enabled",
                    "stateTransitionTime": self.clock.timestamp(node.ready_at.min(self.now)),
                    "allocationTime": self.clock.timestamp(node.appears_at),
                    "vmSize": pool.wire.vm_size,
                    "totalTasksRun": node.tasks_started,
                    "runningTasksCount": u32::from(state == crate::batch::NodeState::Running),
                    "runningTaskSlotsCount": u32::from(state == crate::batch::NodeState::Running),
                    "isDedicated": node.dedicated,
                });
                let mut object = object.as_object().cloned()?;
                if let Some((code, _)) = pool.start_task().filter(|_| self.now >= node.ready_at) {
                    let mut info = json!({
                        "state": "completed",
                        "startTime": self.clock.timestamp((node.ready_at - 5.0).max(node.appears_at)),
                        "endTime": self.clock.timestamp(node.ready_at),
                        "exitCode": code,
                        "retryCount": 0,
                        "result": if code == 0 { "success" } else { "failure" },
                    });
                    if code != 0 {
                        info["failureInfo"] = json!({
                            "category": "usererror",
                            "code": "FailureExitCode",
                            "message": "The task process exited with an unexpected exit code",
                            "details": [{"name": "Message", "value": format!("The task exited with an exit code representing a failure: {code}")}]
                        });
                    }
                    object.insert("startTaskInfo".into(), info);
                }
                Some(object)
            };
            (node.id.clone(), build)
        });
        self.page(items, 1000, 1000, "nodes")
    }

    fn node_counts(self) -> Reply {
        let filter = match self.filter() {
            Ok(filter) => filter,
            Err(reply) => return reply,
        };
        // Filter on the id first: only pools that pass are brought up to date and counted.
        let passes = |pool: &SimPool| {
            let id = json!({ "poolId": pool.wire.id() });
            filter.as_ref().is_none_or(|f| filter::matches(f, id.as_object().expect("object")))
        };
        let matching: Vec<String> =
            self.world.pools.iter().filter(|(_, pool)| passes(pool)).map(|(key, _)| key.clone()).collect();
        for key in &matching {
            self.world.advance_one(key.clone(), self.now, self.clock);
        }
        let items = matching.into_iter().filter_map(|key| {
            let pool = self.world.pools.get(&key)?;
            let build = move || {
                let (dedicated, low) = pool.node_counts(self.now);
                json!({ "poolId": pool.wire.id(), "dedicated": dedicated, "lowPriority": low }).as_object().cloned()
            };
            Some((key, build))
        });
        self.page(items, 10, 10, "poolnodecounts")
    }
}

impl Ctx<'_> {
    /// The account's image catalog (assets/demo/supported-images.json), paged like the service.
    fn supported_images(&self) -> Reply {
        let items = super::images::catalog().iter().enumerate().map(|(i, image)| {
            let object = serde_json::to_value(image).ok().and_then(|v| v.as_object().cloned());
            (format!("{i:06}"), move || object)
        });
        self.page(items, 1000, 1000, "supportedimages")
    }
}

fn check_formula(formula: &str) -> Result<(), Reply> {
    if formula.len() > super::world::MAX_FORMULA_CHARS {
        return Err(error(
            400,
            "AutoScaleFormulaTooLong",
            "The specified autoscale formula is too long. The maximum length is 8192 characters.",
            &[],
        ));
    }
    if let Some((line, column, message)) = formula::syntax_error(formula) {
        return Err(error(
            400,
            "AutoScalingFormulaSyntaxError",
            "The specified autoscale formula has a syntax error.",
            &[("Line", &line.to_string()), ("Column", &column.to_string()), ("Message", &message)],
        ));
    }
    Ok(())
}

fn check_interval(interval: Option<BatchDuration>) -> Result<(), Reply> {
    match interval {
        Some(d) if d < BatchDuration::from_mins(5) || d > BatchDuration::from_secs(168 * 3600) => Err(invalid_value(
            "autoScaleEvaluationInterval",
            &d.to_string(),
            "The evaluation interval must be between 5 minutes and 168 hours",
        )),
        _ => Ok(()),
    }
}

/// Batch's checks on a pool-add body, and the defaults it fills in (batch-api.md §2.1, §2.2).
pub(super) fn validate_new_pool(mut body: Map<String, Value>, api_version: &str) -> Result<Pool, Reply> {
    for required in ["id", "vmSize"] {
        if !body.get(required).is_some_and(Value::is_string) {
            return Err(missing_property(required));
        }
    }
    if !body.contains_key("virtualMachineConfiguration") && !body.contains_key("cloudServiceConfiguration") {
        return Err(missing_property("virtualMachineConfiguration"));
    }
    let id = body["id"].as_str().unwrap_or_default().to_string();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid_value("id", &id, "The id may contain up to 64 letters, digits, hyphens and underscores"));
    }
    let autoscale = body.get("enableAutoScale").and_then(Value::as_bool).unwrap_or(false);
    if autoscale {
        let Some(formula) = body.get("autoScaleFormula").and_then(Value::as_str) else {
            return Err(missing_property("autoScaleFormula"));
        };
        check_formula(formula)?;
        for target in ["targetDedicatedNodes", "targetLowPriorityNodes"] {
            if body.contains_key(target) {
                return Err(invalid_value(
                    target,
                    &body[target].to_string(),
                    "Target node counts cannot be specified when autoscale is enabled",
                ));
            }
        }
    }
    if let Some(slots) = body.get("taskSlotsPerNode")
        && slots.as_i64().is_none_or(|n| n < 1)
    {
        return Err(invalid_value("taskSlotsPerNode", &slots.to_string(), "taskSlotsPerNode must be at least 1"));
    }
    let duration = |key: &str, body: &Map<String, Value>| -> Result<Option<BatchDuration>, Reply> {
        match body.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => BatchDuration::parse(text).map(Some).map_err(|e| invalid_value(key, text, &e)),
            Some(other) => Err(invalid_value(key, &other.to_string(), "A duration string is expected")),
        }
    };
    if let Some(timeout) = duration("resizeTimeout", &body)?
        && timeout < BatchDuration::from_mins(5)
    {
        return Err(invalid_value(
            "resizeTimeout",
            &timeout.to_string(),
            "The specified resize timeout is less than the minimum of 5 minutes",
        ));
    }
    check_interval(duration("autoScaleEvaluationInterval", &body)?)?;
    super::images::check_offered(&body).map_err(|(value, reason)| invalid_value("imageReference", &value, &reason))?;
    crate::batch::defaults::apply(&mut body, api_version);
    let value = Value::Object(body);
    serde_json::from_value(value).map_err(|e| {
        error(
            400,
            "InvalidRequestBody",
            "The specified Request Body is not syntactically valid.",
            &[("Reason", &e.to_string())],
        )
    })
}

fn project(object: Map<String, Value>, select: Option<&[&str]>) -> Map<String, Value> {
    match select {
        None => object,
        Some(keys) => object.into_iter().filter(|(k, _)| keys.contains(&k.as_str())).collect(),
    }
}

/// Opaque continuation tokens shaped like the service's (`WATV2:…:1$1`).
fn encode_skiptoken(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("WATV2:{hex}:1$1")
}

fn decode_skiptoken(token: &str) -> Option<String> {
    let hex = token.strip_prefix("WATV2:")?.strip_suffix(":1$1")?;
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn http_date(t: jiff::Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Adds the headers every Batch response carries, and renders errors in the service's shape.
fn finish(reply: Reply, call: &Call, request_id: &str, retry_after: Option<u64>) -> Response {
    let mut builder = Response::builder()
        .header("request-id", request_id)
        .header("DataServiceVersion", "3.0")
        .header("Server", "Microsoft-HTTPAPI/2.0")
        .header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        .header("X-Content-Type-Options", "nosniff")
        .header("Date", http_date(jiff::Timestamp::now()));
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
        Reply::Error { status, code, message, values } => {
            let time = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%7fZ");
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
