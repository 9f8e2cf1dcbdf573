//! Errors from the Batch client, written for an operator: what happened and what to do.

use super::models::ErrorBody;
use std::fmt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The service answered with an error status.
    #[error("{0}")]
    Service(Box<ServiceError>),
    /// No usable answer: connection refused, dropped, timed out.
    #[error(
        "cannot reach the Batch account at {url}: {detail}. Check the account URL, the network or proxy (HTTPS_PROXY), and try again"
    )]
    Transport { url: String, detail: String },
    /// The account never answered this process at all: most likely a wrong URL or a network
    /// that does not lead there. Configuration, so exit 2.
    #[error(
        "cannot reach the Batch account at {url} (no answer since the first try, {:.0} s ago): {detail}. Check the \
         account URL (`repool info` shows it), that this machine's network or proxy (HTTPS_PROXY) leads there, \
         and try again",
        waited.as_secs_f64()
    )]
    Unreachable { url: String, detail: String, waited: Duration },
    /// The account's TLS certificate did not verify: permanent, so never retried.
    #[error(
        "the Batch account at {url} presented a TLS certificate that cannot be verified ({detail}). If a proxy \
         inspects TLS, add its CA certificate to the system trust store or SSL_CERT_FILE; repool never turns \
         verification off"
    )]
    Certificate { url: String, detail: String },
    /// Getting a token or signing the request failed.
    #[error("sign-in with {method} failed: {detail}")]
    Auth { method: &'static str, detail: String },
    /// The answer was not what the Batch API returns.
    #[error(
        "the Batch account answered {operation} with a body repool cannot read ({detail}); is the account URL really a Batch endpoint?"
    )]
    Decode { operation: &'static str, detail: String },
    /// An answer repool refuses to act on: a link to another origin, endless paging, a body too
    /// large or too slow. Never retried.
    #[error(
        "the Batch account's answer to {operation} was refused: {detail}. Nothing was changed because of it; \
         check that the account URL really is your Batch endpoint"
    )]
    Untrusted { operation: &'static str, detail: String },
}

impl BatchError {
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            BatchError::Service(e) => Some(e),
            _ => None,
        }
    }

    /// The Batch error code, if the service sent one.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|e| e.code.as_str())
    }

    pub fn status(&self) -> Option<u16> {
        self.service().map(|e| e.status)
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A Batch error response: status, `code`, message, `values` and the request id to quote to support.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceError {
    pub status: u16,
    pub code: String,
    /// The message without the service's `RequestId:`/`Time:` trailer.
    pub message: String,
    pub values: Vec<(String, String)>,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    pub fn from_body(status: u16, body: ErrorBody, request_id: Option<String>, retry_after: Option<Duration>) -> Self {
        let message = body.message.value.split("\nRequestId:").next().unwrap_or_default().trim().to_string();
        if body.code == "AuthenticationFailed" {
            // The service's detail (the string it signed, line by line) helps to debug a wrong
            // key but buries the advice: it goes to the log only.
            let detail: Vec<String> = body.values.iter().map(|d| format!("{}: {}", d.key, d.value)).collect();
            tracing::warn!(detail = %crate::output::escape(&detail.join(" | ")), "AuthenticationFailed");
        }
        ServiceError {
            status,
            code: body.code,
            message,
            values: body.values.into_iter().map(|d| (d.key, d.value)).collect(),
            request_id,
            retry_after,
        }
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// What the code means for an operator, and what to do about it.
    pub fn advice(&self) -> &'static str {
        match self.code.as_str() {
            "PoolNotFound" => "the pool does not exist: check the id, or it was already deleted",
            "PoolExists" => "a pool with this id (ids ignore case) already exists",
            "PoolBeingDeleted" => "the pool is still being deleted; wait until it is gone, then retry",
            "PoolBeingResized" | "OperationInvalidForCurrentState" => {
                "the pool's state does not allow this now (a resize in flight; a resize of a pool with autoscale on): \
                 wait until it is steady, then retry"
            }
            "AuthenticationFailed" => {
                "the signature was rejected: check the account name and key (AZURE_BATCH_ACCESS_KEY) and that this machine's clock is right"
            }
            "MissingRequiredHeader" => "the request carried no credentials: configure [auth] in config.toml",
            "InsufficientAccountPermissions" => {
                "the identity lacks rights on this account: grant it a Batch role such as 'Azure Batch Account Contributor'"
            }
            "AccountIsDisabled" => "the Batch account is disabled: enable it in the Azure portal",
            "InvalidPropertyValue" | "MissingRequiredProperty" | "InvalidRequestBody" => {
                "the service refused the pool body: fix the named property in the pool definition and run `repool validate`"
            }
            "InvalidAutoScalingSettings" | "AutoScalingFormulaSyntaxError" | "AutoScaleFormulaTooLong" => {
                "the autoscale settings are invalid: fix autoScaleFormula / autoScaleEvaluationInterval in the definition"
            }
            "UnsupportedRequestVersion" => {
                "the account does not accept this api-version: set api_version in config.toml (or --api-version) to 2025-06-01, the default, or 2024-07-01.20.0"
            }
            "TooManyEnableAutoScaleRequests" => "autoscale was changed less than 30 s ago on this pool; wait and retry",
            "TooManyRequests" => "the service is throttling this account's requests; wait and retry",
            "OperationTimedOut" | "ServerBusy" | "InternalError" => {
                "a transient service fault (repool retries these for up to 2 minutes); try again in a few minutes"
            }
            "ConditionNotMet" => "someone else changed the pool meanwhile; refresh and check it",
            "PoolQuotaReached" => "the account's pool quota is full: delete a pool or raise the quota",
            "InvalidQueryParameterValue" => "a query parameter was refused; this is a repool bug, please report it",
            _ => "see the Batch error code reference for this code",
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Everything but the advice is the server's text: escaped, so it cannot drive a terminal.
        use crate::output::escape;
        if self.code == "AuthenticationFailed" {
            write!(
                f,
                "the account refused the request's signature ({} AuthenticationFailed): {}",
                self.status,
                self.advice()
            )?;
            write!(f, ". The service's detail is in the log file (`repool info` shows where)")?;
        } else {
            write!(f, "Batch said {} {}: {}", self.status, escape(&self.code), escape(&self.message))?;
            for (key, value) in &self.values {
                write!(f, " [{}: {}]", escape(key), escape(value))?;
            }
            write!(f, " — {}", self.advice())?;
            if let Some(after) = self.retry_after.filter(|d| !d.is_zero()) {
                write!(f, " (the service asked to retry after {} s)", after.as_secs())?;
            }
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request-id {})", escape(id))?;
        }
        Ok(())
    }
}
