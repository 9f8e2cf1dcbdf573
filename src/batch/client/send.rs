//! One call to the service, retried as it allows: 429, 503, 500 OperationTimedOut/ServerBusy/
//! InternalError and connection failures, with exponential backoff and jitter, honouring
//! `Retry-After`, within a total time bound; a fresh `client-request-id` and signature per attempt;
//! answers bounded in size and time; every attempt observed.

use super::*;

impl BatchClient {
    pub(super) async fn send(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
        replay: Replay,
    ) -> Result<Answer, BatchError> {
        let template = request
            .build()
            .map_err(|e| BatchError::Transport { url: self.inner.endpoint.to_string(), detail: e.to_string() })?;
        let policy = &self.inner.retry;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = template.try_clone().expect("repool bodies are in memory, so requests clone");
            request
                .headers_mut()
                .insert("client-request-id", uuid::Uuid::new_v4().to_string().parse().expect("uuid header"));
            self.inner.credential.authorize(&mut request).await?;
            let (method, path) = (request.method().to_string(), request.url().path().to_string());
            let sent_at = Instant::now();
            let mut date = None;
            let outcome = self.attempt(request, operation, &mut date).await;
            if date.is_some() {
                *self.inner.last_date.lock().expect("date lock") = date;
            }
            let (status, error_text) = match &outcome {
                Ok(answer) => (Some(answer.status.as_u16()), None),
                Err(Failure::Service(e)) => (Some(e.status), Some(e.code.clone())),
                Err(Failure::Transport { detail, .. } | Failure::Certificate(detail) | Failure::Untrusted(detail)) => {
                    (None, Some(detail.clone()))
                }
            };
            self.observe(ApiEvent {
                operation,
                method,
                path,
                status,
                elapsed: sent_at.elapsed(),
                attempt,
                error: error_text,
                date,
            });
            if !matches!(outcome, Err(Failure::Transport { sent: false, .. })) {
                self.inner.reached.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let never_reached = !self.inner.reached.load(std::sync::atomic::Ordering::Relaxed);
            let (error, retry_after, may_replay) = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Failure::Service(e)) => {
                    let may = is_transient(&e) && (replay == Replay::Safe || matches!(e.status, 429 | 503));
                    let after = e.retry_after;
                    (BatchError::Service(e), after, may)
                }
                Err(Failure::Transport { detail, sent: false }) if never_reached => {
                    let url = self.inner.endpoint.to_string();
                    (BatchError::Unreachable { url, detail, waited: started.elapsed() }, None, true)
                }
                Err(Failure::Transport { detail, sent }) => {
                    let may = !sent || replay == Replay::Safe;
                    (BatchError::Transport { url: self.inner.endpoint.to_string(), detail }, None, may)
                }
                Err(Failure::Certificate(detail)) => {
                    (BatchError::Certificate { url: self.inner.endpoint.to_string(), detail }, None, false)
                }
                Err(Failure::Untrusted(detail)) => (BatchError::Untrusted { operation, detail }, None, false),
            };
            // Retry-After is honoured, but never below our own backoff: `0` must not become a storm.
            let delay = retry_after.unwrap_or_default().max(backoff(policy, attempt));
            let budget = if never_reached { policy.max_total.min(NEVER_REACHED) } else { policy.max_total };
            let out_of_time = started.elapsed() + delay > budget;
            if !may_replay || attempt >= policy.max_attempts || out_of_time {
                return Err(error);
            }
            tracing::debug!(operation, attempt, delay_ms = delay.as_millis() as u64, "retrying: {error}");
            tokio::time::sleep(delay).await;
        }
    }

    /// One call; `date` gets the answer's `Date` header, when one came.
    pub(super) async fn attempt(
        &self,
        request: reqwest::Request,
        operation: &'static str,
        date: &mut Option<jiff::Timestamp>,
    ) -> Result<Answer, Failure> {
        let transport = |e: reqwest::Error| match certificate_problem(&e) {
            Some(problem) => Failure::Certificate(problem),
            None => Failure::Transport { sent: !e.is_connect(), detail: describe_transport(&e) },
        };
        let limit = self.inner.response_timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let response = match tokio::time::timeout_at(deadline, self.inner.http.execute(request)).await {
            Ok(response) => response.map_err(transport)?,
            Err(_) => {
                let detail = format!("no answer within {} s (request_timeout_seconds)", limit.as_secs());
                return Err(Failure::Transport { sent: true, detail });
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        *date = headers
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| jiff::fmt::rfc2822::parse(v.trim()).ok())
            .map(|z| z.timestamp());
        let body = self.read_body(response, operation, deadline).await?;
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let request_id = header("request-id");
        let error = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(parsed) => ServiceError::from_body(status.as_u16(), parsed, request_id, retry_after),
            Err(_) if status == StatusCode::NOT_FOUND && body.is_empty() => ServiceError {
                status: 404,
                code: "PoolNotFound".into(),
                message: "The specified pool does not exist.".into(),
                values: vec![],
                request_id,
                retry_after,
            },
            Err(_) => ServiceError {
                status: status.as_u16(),
                code: status.canonical_reason().unwrap_or("Error").replace(' ', ""),
                message: format!("{operation} failed with HTTP {status} and no Batch error body"),
                values: vec![],
                request_id,
                retry_after,
            },
        };
        Err(Failure::Service(Box::new(error)))
    }

    /// The body, refused past the size limit or the answer's deadline: a server that sends
    /// without end or trickles cannot hold repool or fill its memory.
    pub(super) async fn read_body(
        &self,
        mut response: reqwest::Response,
        operation: &'static str,
        deadline: tokio::time::Instant,
    ) -> Result<bytes::Bytes, Failure> {
        let max = self.inner.max_response_bytes;
        if response.content_length().is_some_and(|n| n > max) {
            return Err(Failure::Untrusted(too_large(operation, max)));
        }
        let mut body = bytes::BytesMut::new();
        loop {
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => return Ok(body.freeze()),
                Ok(Err(e)) => {
                    return Err(Failure::Transport { sent: true, detail: describe_transport(&e) });
                }
                Err(_) => {
                    return Err(Failure::Untrusted(format!(
                        "the answer to {operation} took longer than {} s ({} bytes arrived); stopped reading \
                         (request_timeout_seconds)",
                        self.inner.response_timeout.as_secs(),
                        body.len()
                    )));
                }
            };
            if body.len() as u64 + chunk.len() as u64 > max {
                return Err(Failure::Untrusted(too_large(operation, max)));
            }
            body.extend_from_slice(&chunk);
        }
    }

    pub(super) fn observe(&self, event: ApiEvent) {
        tracing::debug!(op = event.operation, status = ?event.status, ms = event.elapsed.as_millis() as u64, attempt = event.attempt, error = ?event.error, "{} {}", event.method, event.path);
        if let Some(observer) = self.inner.observer.read().expect("observer lock").as_ref() {
            observer(&event);
        }
    }
}

pub(super) enum Failure {
    Service(Box<ServiceError>),
    /// `sent`: the request may have reached the service.
    Transport {
        detail: String,
        sent: bool,
    },
    /// The server's certificate did not verify.
    Certificate(String),
    /// An answer that breaks the limits (size, time): never retried.
    Untrusted(String),
}

pub(super) fn too_large(operation: &str, max: u64) -> String {
    format!(
        "the answer to {operation} is larger than {} MiB; stopped reading (raise max_response_mb if that is right)",
        max / (1024 * 1024)
    )
}

pub(super) fn is_transient(e: &ServiceError) -> bool {
    match e.status {
        429 | 503 => true,
        500 => matches!(e.code.as_str(), "OperationTimedOut" | "ServerBusy" | "InternalError"),
        _ => false,
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, so many clients spread out.
pub(super) fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_delay.saturating_mul(1u32 << (attempt - 1).min(16)).min(policy.max_delay);
    exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
}

/// `Retry-After` as seconds or an HTTP date.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when = jiff::fmt::rfc2822::parse(value.trim()).ok()?.timestamp();
    let wait = when.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(wait.clamp(0, 3600) as u64))
}

pub(super) fn describe_transport(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "no answer in time".to_string()
    } else {
        "the connection broke".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The TLS certificate error behind a failed connection, if that is what it was.
pub(super) fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // rustls reports through io::Error, whose source() skips the error it wraps.
        let inner = s.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|e| e as &dyn std::error::Error);
        for candidate in [Some(s), inner].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(reason)) = candidate.downcast_ref::<rustls::Error>() {
                return Some(format!("{reason:?}"));
            }
        }
        // Without a proxy, hyper-util hands the rustls error on as text only.
        if let Some((_, reason)) = s.to_string().split_once("invalid peer certificate: ") {
            return Some(reason.to_string());
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_as_seconds_or_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy { max_delay: Duration::from_secs(4), ..Default::default() };
        for attempt in 1..12 {
            let d = backoff(&policy, attempt);
            let cap = policy.base_delay.saturating_mul(1 << (attempt - 1)).min(policy.max_delay);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
    }
}
