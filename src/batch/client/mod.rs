//! `BatchClient`: typed calls to the Batch data plane with paging, retries and observation.
//!
//! Retries: 429, 503, 500 `OperationTimedOut`/`ServerBusy`/`InternalError` and connection
//! failures, with exponential backoff and jitter, honouring `Retry-After`, within a total time
//! bound. Each attempt gets a fresh `client-request-id` and signature.

use super::api_version::ApiVersion;
mod jobs;
mod nodes;
mod send;

use super::auth::Credential;
use super::error::{BatchError, ServiceError};
use super::http::{HttpSettings, build_client};
use super::models::{
    AutoScaleRun, EnableAutoScaleRequest, ErrorBody, Node, Page, Pool, PoolNodeCounts, PoolSummary, ResizeRequest,
    SupportedImage,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const CONTENT_TYPE: &str = "application/json; odata=minimalmetadata";

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(120),
        }
    }
}

/// One HTTP attempt, as the API log and benchmarks see it.
#[derive(Clone, Debug)]
pub struct ApiEvent {
    pub operation: &'static str,
    pub method: String,
    pub path: String,
    /// None when no response came back.
    pub status: Option<u16>,
    pub elapsed: Duration,
    pub attempt: u32,
    /// Error code or transport failure, if any.
    pub error: Option<String>,
    /// The answer's `Date`: the account's clock, which ages of its pools and tasks are measured on.
    pub date: Option<jiff::Timestamp>,
}

pub type ApiObserver = Arc<dyn Fn(&ApiEvent) + Send + Sync>;

/// Whether a call may be sent again after an outcome that leaves its effect unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads, and writes whose repetition leaves the same state (resize to absolute targets,
    /// disable autoscale, delete: a second delete answers PoolBeingDeleted/404, which callers
    /// treat as done).
    Safe,
    /// Pool add: once the service may have acted (500, timeout, dropped answer) a resend could
    /// report PoolExists for our own pool. Only retried when the request surely was not applied
    /// (connection refused, 429/503 throttling); otherwise the error goes to the caller, whose
    /// create step re-reads the pool.
    OnlyIfNotApplied,
}

#[derive(Clone)]
pub struct BatchClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// How long one answer may take, and how large it may be.
    response_timeout: Duration,
    max_response_bytes: u64,
    endpoint: url::Url,
    api_version: ApiVersion,
    credential: Credential,
    retry: RetryPolicy,
    observer: RwLock<Option<ApiObserver>>,
    /// Whether the account ever answered this client: until it has, a refused connection is
    /// most likely a wrong URL, so it is retried for `NEVER_REACHED` only.
    reached: std::sync::atomic::AtomicBool,
    /// The `Date` of the latest answer (see `account_now`).
    last_date: std::sync::Mutex<Option<jiff::Timestamp>>,
}

/// How long a client that never reached its account keeps trying to connect.
pub const NEVER_REACHED: Duration = Duration::from_secs(10);

struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
}

/// One page of a listing as the service sent it, parsed only when its items are needed: a
/// poller that saw the same bytes last time need not parse them again (`fingerprint`).
pub struct ListedPage {
    operation: &'static str,
    body: bytes::Bytes,
}

impl ListedPage {
    /// A 64-bit hash of the page's bytes: the same bytes, the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.body.hash(&mut hasher);
        hasher.finish()
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<Page<T>, BatchError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| BatchError::Decode { operation: self.operation, detail: e.to_string() })
    }
}

impl BatchClient {
    pub fn new(
        endpoint: &str,
        api_version: ApiVersion,
        credential: Credential,
        http: &HttpSettings,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let endpoint = parse_endpoint(endpoint)?;
        let client = build_client(http, &endpoint)?;
        Ok(BatchClient {
            inner: Arc::new(Inner {
                http: client,
                response_timeout: http.response_timeout(),
                max_response_bytes: http.max_response_bytes(),
                endpoint,
                api_version,
                credential,
                retry,
                observer: RwLock::new(None),
                reached: std::sync::atomic::AtomicBool::new(false),
                last_date: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Now on the account's clock: the `Date` of its latest answer (this machine's clock before
    /// any). A simulated account runs faster than this machine; a real one may be skewed.
    pub fn account_now(&self) -> jiff::Timestamp {
        self.inner.last_date.lock().expect("date lock").unwrap_or_else(jiff::Timestamp::now)
    }

    pub fn endpoint(&self) -> &url::Url {
        &self.inner.endpoint
    }

    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    /// Every attempt of every call is reported to `observer`.
    pub fn set_observer(&self, observer: ApiObserver) {
        *self.inner.observer.write().expect("observer lock") = Some(observer);
    }

    /// All pools, following `odata.nextLink` exactly as given.
    pub async fn list_pools(
        &self,
        select: Option<&str>,
        filter: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<Vec<Pool>, BatchError> {
        let mut pools = Vec::new();
        self.list_pool_pages(select, filter, max_results, |page| pools.extend(page)).await?;
        Ok(pools)
    }

    /// The same one paged listing, each page handed to `on_page` as it arrives: a large account
    /// is shown (or reduced) page by page, never held whole twice.
    pub async fn list_pool_pages(
        &self,
        select: Option<&str>,
        filter: Option<&str>,
        max_results: Option<u32>,
        on_page: impl FnMut(Vec<Pool>),
    ) -> Result<(), BatchError> {
        let mut query = Vec::new();
        if let Some(max) = max_results {
            query.push(("maxresults", max.to_string()));
        }
        if let Some(filter) = filter {
            query.push(("$filter", filter.to_string()));
        }
        if let Some(select) = select {
            query.push(("$select", select.to_string()));
        }
        self.list_pages("list pools", self.url("/pools", &query), on_page).await
    }

    /// Every pool's summary (`PoolSummary::SELECT`), each page to `on_page` as it arrives: what
    /// the dashboard and the waits poll.
    pub async fn list_pool_summary_pages(&self, on_page: impl FnMut(Vec<PoolSummary>)) -> Result<(), BatchError> {
        let query = [("$select", PoolSummary::SELECT.to_string())];
        self.list_pages("list pools", self.url("/pools", &query), on_page).await
    }

    /// The same listing, each page as sent (`ListedPage`): the snapshots poller parses only
    /// the pages that differ from its last refresh's.
    pub async fn list_pool_summary_raw_pages(
        &self,
        on_page: impl FnMut(ListedPage) -> Result<Option<String>, BatchError>,
    ) -> Result<(), BatchError> {
        let query = [("$select", PoolSummary::SELECT.to_string())];
        self.list_raw_pages("list pools", self.url("/pools", &query), on_page).await
    }

    /// Every pool's summary.
    pub async fn list_pool_summaries(&self) -> Result<Vec<PoolSummary>, BatchError> {
        let mut pools = Vec::new();
        self.list_pool_summary_pages(|page| pools.extend(page)).await?;
        Ok(pools)
    }

    /// Pool `id`'s summary, read directly.
    pub async fn get_pool_summary(&self, id: &str) -> Result<PoolSummary, BatchError> {
        let url = self.url(&pool_path(id, ""), &[("$select", PoolSummary::SELECT.to_string())]);
        self.call_json("get pool", Method::GET, url, None, Replay::Safe).await
    }

    /// Every pool, with the absence of each of `ids` confirmed by a direct read: a list answer
    /// can leave a pool out (pages shift while pools come and go), and what is absent gets created.
    pub async fn list_pools_confirming(&self, ids: &[String]) -> Result<Vec<Pool>, BatchError> {
        let mut pools = self.list_pools(None, None, None).await?;
        for id in ids {
            if pools.iter().any(|p| p.id().eq_ignore_ascii_case(id)) {
                continue;
            }
            match self.get_pool(id, None).await {
                Ok(pool) => {
                    tracing::warn!(pool = %id, "the pool list left out a pool that exists; using a direct read");
                    pools.push(pool);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(pools)
    }

    pub async fn get_pool(&self, id: &str, select: Option<&str>) -> Result<Pool, BatchError> {
        let query: Vec<_> = select.map(|s| ("$select", s.to_string())).into_iter().collect();
        let url = self.url(&pool_path(id, ""), &query);
        self.call_json("get pool", Method::GET, url, None, Replay::Safe).await
    }

    /// HEAD: true on 200, false on 404.
    pub async fn pool_exists(&self, id: &str) -> Result<bool, BatchError> {
        let url = self.url(&pool_path(id, ""), &[]);
        match self.call("pool exists", Method::HEAD, url, None, Replay::Safe).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `body` is a complete pool-add body (camelCase wire names).
    pub async fn add_pool(&self, body: &serde_json::Value) -> Result<(), BatchError> {
        let url = self.url("/pools", &[]);
        self.call("add pool", Method::POST, url, Some(body.to_string()), Replay::OnlyIfNotApplied).await.map(drop)
    }

    /// `if_match` (an ETag) makes the delete fail with 412 if the pool changed meanwhile.
    pub async fn delete_pool(&self, id: &str, if_match: Option<&str>) -> Result<(), BatchError> {
        let url = self.url(&pool_path(id, ""), &[]);
        let request = Self::if_match(self.request(Method::DELETE, url, None), if_match);
        self.send("delete pool", request, Replay::Safe).await.map(drop)
    }

    /// PATCH the pool; `if_match`: only if its ETag is still this one (412 otherwise).
    pub async fn patch_pool(
        &self,
        id: &str,
        body: &serde_json::Value,
        if_match: Option<&str>,
    ) -> Result<(), BatchError> {
        let url = self.url(&pool_path(id, ""), &[]);
        let request = Self::if_match(self.request(Method::PATCH, url, Some(body.to_string())), if_match);
        self.send("patch pool", request, Replay::Safe).await.map(drop)
    }

    fn if_match(request: reqwest::RequestBuilder, tag: Option<&str>) -> reqwest::RequestBuilder {
        match tag {
            Some(tag) => request.header(reqwest::header::IF_MATCH, tag),
            None => request,
        }
    }

    /// Replaces the start task, packages and metadata; `if_match` as for `patch_pool`.
    pub async fn update_pool_properties(
        &self,
        id: &str,
        body: &serde_json::Value,
        if_match: Option<&str>,
    ) -> Result<(), BatchError> {
        let url = self.url(&pool_path(id, "/updateproperties"), &[]);
        let request = Self::if_match(self.request(Method::POST, url, Some(body.to_string())), if_match);
        self.send("update pool properties", request, Replay::Safe).await.map(drop)
    }

    pub async fn resize_pool(&self, id: &str, resize: &ResizeRequest) -> Result<(), BatchError> {
        self.post_action("resize pool", id, "/resize", resize).await
    }

    pub async fn stop_resize(&self, id: &str) -> Result<(), BatchError> {
        let url = self.url(&pool_path(id, "/stopresize"), &[]);
        self.call("stop resize", Method::POST, url, None, Replay::Safe).await.map(drop)
    }

    pub async fn enable_autoscale(&self, id: &str, request: &EnableAutoScaleRequest) -> Result<(), BatchError> {
        self.post_action("enable autoscale", id, "/enableautoscale", request).await
    }

    pub async fn disable_autoscale(&self, id: &str) -> Result<(), BatchError> {
        let url = self.url(&pool_path(id, "/disableautoscale"), &[]);
        self.call("disable autoscale", Method::POST, url, None, Replay::Safe).await.map(drop)
    }

    pub async fn evaluate_autoscale(&self, id: &str, formula: &str) -> Result<AutoScaleRun, BatchError> {
        let url = self.url(&pool_path(id, "/evaluateautoscale"), &[]);
        let body = serde_json::json!({ "autoScaleFormula": formula }).to_string();
        self.call_json("evaluate autoscale", Method::POST, url, Some(body), Replay::Safe).await
    }

    /// Node counts of every pool (`GET /nodecounts`), all pages.
    pub async fn list_node_counts(&self) -> Result<Vec<PoolNodeCounts>, BatchError> {
        self.list_all("list node counts", self.url("/nodecounts", &[])).await
    }

    /// Node counts of just these pools: the service pages node counts ten at a time, so a
    /// dashboard asks only for the rows it shows. A few calls go at once: a thousand pools in a
    /// health gate are a hundred calls, which one after another would hold up every poll.
    pub async fn list_node_counts_for(&self, pool_ids: &[String]) -> Result<Vec<PoolNodeCounts>, BatchError> {
        use futures::{StreamExt, TryStreamExt};
        let calls: Vec<_> = pool_ids
            .chunks(10)
            .map(|chunk| {
                let filter: Vec<String> =
                    chunk.iter().map(|id| format!("poolId eq '{}'", id.replace('\'', "''"))).collect();
                let url = self.url("/nodecounts", &[("$filter", filter.join(" or "))]);
                self.list_all::<PoolNodeCounts>("list node counts", url)
            })
            .collect();
        let pages: Vec<Vec<PoolNodeCounts>> =
            futures::stream::iter(calls).buffered(CALLS_AT_ONCE).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Every image and node agent the account offers (`GET /supportedimages`, all pages).
    pub async fn list_supported_images(&self) -> Result<Vec<SupportedImage>, BatchError> {
        self.list_all("list supported images", self.url("/supportedimages", &[])).await
    }

    pub async fn list_nodes(&self, pool_id: &str, select: Option<&str>) -> Result<Vec<Node>, BatchError> {
        let query: Vec<_> = select.map(|s| ("$select", s.to_string())).into_iter().collect();
        self.list_all("list nodes", self.url(&pool_path(pool_id, "/nodes"), &query)).await
    }

    /// POST `body` to a pool action (`/resize`, `/enableautoscale`); these are safe to repeat.
    async fn post_action(
        &self,
        operation: &'static str,
        id: &str,
        action: &str,
        body: &impl serde::Serialize,
    ) -> Result<(), BatchError> {
        self.post_json(operation, &pool_path(id, action), body, Replay::Safe).await
    }

    /// POSTs `body` as JSON to `path`, answered without a body (the pool and node actions).
    async fn post_json(
        &self,
        operation: &'static str,
        path: &str,
        body: &impl serde::Serialize,
        replay: Replay,
    ) -> Result<(), BatchError> {
        let url = self.url(path, &[]);
        let body = serde_json::to_string(body).expect("request bodies serialise");
        self.call(operation, Method::POST, url, Some(body), replay).await.map(drop)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> url::Url {
        let mut url = self.inner.endpoint.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}{path}"));
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("api-version", &self.inner.api_version.to_string());
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
        }
        url
    }

    async fn list_all<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        first: url::Url,
    ) -> Result<Vec<T>, BatchError> {
        let mut items = Vec::new();
        self.list_pages(operation, first, |page| items.extend(page)).await?;
        Ok(items)
    }

    /// Every page of a listing, each to `on_page` as it arrives.
    async fn list_pages<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        first: url::Url,
        mut on_page: impl FnMut(Vec<T>),
    ) -> Result<(), BatchError> {
        self.list_raw_pages(operation, first, |page| {
            let page: Page<T> = page.parse()?;
            on_page(page.value);
            Ok(page.next_link)
        })
        .await
    }

    /// Every page of a listing as sent, each to `on_page`, which answers the page's
    /// `odata.nextLink` (parsing the page, or knowing it from the same bytes seen before).
    async fn list_raw_pages(
        &self,
        operation: &'static str,
        first: url::Url,
        mut on_page: impl FnMut(ListedPage) -> Result<Option<String>, BatchError>,
    ) -> Result<(), BatchError> {
        let mut seen = std::collections::HashSet::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let answer = self.call(operation, Method::GET, url, None, Replay::Safe).await?;
            if let Some(link) = on_page(ListedPage { operation, body: answer.body })? {
                let untrusted = |detail: String| BatchError::Untrusted { operation, detail };
                let shown = crate::output::escape(&link).into_owned();
                let url = url::Url::parse(&link)
                    .map_err(|e| untrusted(format!("its odata.nextLink '{shown}' is not a URL ({e})")))?;
                if !same_origin(&url, &self.inner.endpoint) {
                    return Err(untrusted(format!(
                        "its odata.nextLink points to another origin ({shown}, not {}); repool sends credentials \
                         only to the account itself, so it did not follow it",
                        self.inner.endpoint.origin().ascii_serialization()
                    )));
                }
                if !seen.insert(url.clone()) {
                    return Err(untrusted(format!(
                        "it sent the same odata.nextLink twice ({shown}): paging would never end"
                    )));
                }
                if seen.len() >= MAX_PAGES {
                    return Err(untrusted(format!(
                        "it sent more than {MAX_PAGES} pages, far beyond what the service sends"
                    )));
                }
                next = Some(url);
            }
        }
        Ok(())
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        url: url::Url,
        body: Option<String>,
        replay: Replay,
    ) -> Result<T, BatchError> {
        let answer = self.call(operation, method, url, body, replay).await?;
        serde_json::from_slice(&answer.body).map_err(|e| BatchError::Decode { operation, detail: e.to_string() })
    }

    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: url::Url,
        body: Option<String>,
        replay: Replay,
    ) -> Result<Answer, BatchError> {
        self.send(operation, self.request(method, url, body), replay).await
    }

    fn request(&self, method: Method, url: url::Url, body: Option<String>) -> reqwest::RequestBuilder {
        let has_body = body.is_some();
        let bodyless_write = method != Method::GET && method != Method::HEAD;
        let mut request = self.inner.http.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            // Content-Length is set explicitly because Shared Key signs it.
            request = request
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body);
        } else if bodyless_write && !has_body {
            request = request.header(reqwest::header::CONTENT_LENGTH, 0);
        }
        request
    }
}

/// Calls one listing of many parts sends at once.
const CALLS_AT_ONCE: usize = 8;

/// Pages one listing may take: a million pools at the service's 1,000 a page, ten thousand pools'
/// node counts at its ten a page.
const MAX_PAGES: usize = 2_000;

/// Same scheme, host and port: where credentials may go.
fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

fn pool_path(id: &str, suffix: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/pools/{}{suffix}", encoded.replace('+', "%20"))
}

/// Accepts `https://acct.region.batch.azure.com` or a plain `http://127.0.0.1:PORT` simulator.
pub fn parse_endpoint(text: &str) -> Result<url::Url, String> {
    let shown = text.trim();
    let url = url::Url::parse(shown).map_err(|e| {
        format!("account URL '{shown}' is not a URL ({e}); write it as https://ACCOUNT.REGION.batch.azure.com")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if super::http::is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "account URL '{shown}' uses plain http; only a local simulator (127.0.0.1/localhost) may, use https"
            ));
        }
        other => return Err(format!("account URL '{shown}' has scheme '{other}'; use https://")),
    }
    if url.host().is_none() || url.query().is_some() {
        return Err(format!(
            "account URL '{shown}' must be just scheme and host, e.g. https://ACCOUNT.REGION.batch.azure.com"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(parse_endpoint("https://a.westus.batch.azure.com").is_ok());
        assert!(parse_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(parse_endpoint("http://a.westus.batch.azure.com").unwrap_err().contains("plain http"));
        assert!(parse_endpoint("a.westus").unwrap_err().contains("not a URL"));
        assert!(parse_endpoint("ftp://x").unwrap_err().contains("scheme"));
    }

    #[test]
    fn pool_ids_are_escaped_in_paths() {
        assert_eq!(pool_path("a b", "/resize"), "/pools/a%20b/resize");
    }
}
