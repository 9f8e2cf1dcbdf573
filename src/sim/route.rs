//! The simulator's one route table: a request's method and path parsed once into what it asks for,
//! which drives dispatch, which pools the clock advances, and the operation's name in statistics.

use axum::http::Method;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Route {
    ListPools,
    AddPool,
    GetPool(String),
    PoolExists(String),
    DeletePool(String),
    PatchPool(String),
    UpdateProperties(String),
    Resize(String),
    StopResize(String),
    EnableAutoscale(String),
    DisableAutoscale(String),
    EvaluateAutoscale(String),
    ListNodes(String),
    NodeCounts,
    SupportedImages,
    PoolUsageMetrics,
    /// A known path with a verb it does not take (405).
    WrongVerb,
    /// No such resource (404).
    Unknown,
}

/// Which pools a request brings up to date before it is answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Advance<'a> {
    /// Only this pool (a request about one pool costs the same in an account of ten thousand).
    One(&'a str),
    /// The handler decides (the new id once the body is read; the pools a filter selects).
    Handler,
    All,
}

impl Route {
    pub(super) fn parse(method: &Method, segments: &[String]) -> Route {
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let id = |s: &str| s.to_string();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["pools"]) => Route::ListPools,
            ("POST", ["pools"]) => Route::AddPool,
            ("GET", ["pools", p]) => Route::GetPool(id(p)),
            ("HEAD", ["pools", p]) => Route::PoolExists(id(p)),
            ("DELETE", ["pools", p]) => Route::DeletePool(id(p)),
            ("PATCH", ["pools", p]) => Route::PatchPool(id(p)),
            ("POST", ["pools", p, "updateproperties"]) => Route::UpdateProperties(id(p)),
            ("POST", ["pools", p, "resize"]) => Route::Resize(id(p)),
            ("POST", ["pools", p, "stopresize"]) => Route::StopResize(id(p)),
            ("POST", ["pools", p, "enableautoscale"]) => Route::EnableAutoscale(id(p)),
            ("POST", ["pools", p, "disableautoscale"]) => Route::DisableAutoscale(id(p)),
            ("POST", ["pools", p, "evaluateautoscale"]) => Route::EvaluateAutoscale(id(p)),
            ("GET", ["pools", p, "nodes"]) => Route::ListNodes(id(p)),
            ("GET", ["nodecounts"]) => Route::NodeCounts,
            ("GET", ["supportedimages"]) => Route::SupportedImages,
            ("GET", ["poolusagemetrics"]) => Route::PoolUsageMetrics,
            (_, ["pools", ..] | ["nodecounts"] | ["supportedimages"] | ["poolusagemetrics"]) => Route::WrongVerb,
            _ => Route::Unknown,
        }
    }

    /// The operation's name in the simulator's request statistics.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Route::ListPools => "list pools",
            Route::AddPool => "add pool",
            Route::GetPool(_) => "get pool",
            Route::PoolExists(_) => "pool exists",
            Route::DeletePool(_) => "delete pool",
            Route::PatchPool(_) => "patch pool",
            Route::UpdateProperties(_) => "update pool properties",
            Route::Resize(_) => "resize pool",
            Route::StopResize(_) => "stop resize",
            Route::EnableAutoscale(_) => "enable autoscale",
            Route::DisableAutoscale(_) => "disable autoscale",
            Route::EvaluateAutoscale(_) => "evaluate autoscale",
            Route::ListNodes(_) => "list nodes",
            Route::NodeCounts => "list node counts",
            Route::SupportedImages => "list supported images",
            Route::PoolUsageMetrics => "list pool usage metrics",
            Route::WrongVerb | Route::Unknown => "other",
        }
    }

    /// The pool this request is about, if one.
    pub(super) fn pool(&self) -> Option<&str> {
        match self {
            Route::GetPool(id)
            | Route::PoolExists(id)
            | Route::DeletePool(id)
            | Route::PatchPool(id)
            | Route::UpdateProperties(id)
            | Route::Resize(id)
            | Route::StopResize(id)
            | Route::EnableAutoscale(id)
            | Route::DisableAutoscale(id)
            | Route::EvaluateAutoscale(id)
            | Route::ListNodes(id) => Some(id),
            _ => None,
        }
    }

    pub(super) fn advance(&self) -> Advance<'_> {
        match self {
            Route::AddPool | Route::NodeCounts | Route::SupportedImages | Route::PoolUsageMetrics => Advance::Handler,
            route => route.pool().map(Advance::One).unwrap_or(Advance::All),
        }
    }

    /// Whether the operation takes the conditional headers (batch-api.md §2, "Cond"), and then
    /// whether it only reads: a failed condition is 304 on a read, 412 on a write.
    pub(super) fn conditional(&self) -> Option<Access> {
        match self {
            Route::GetPool(_) | Route::PoolExists(_) => Some(Access::Read),
            Route::DeletePool(_)
            | Route::PatchPool(_)
            | Route::UpdateProperties(_)
            | Route::Resize(_)
            | Route::StopResize(_)
            | Route::EnableAutoscale(_)
            | Route::DisableAutoscale(_) => Some(Access::Write),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> Route {
        let segments: Vec<String> = path.trim_matches('/').split('/').map(str::to_string).collect();
        Route::parse(&method, &segments)
    }

    #[test]
    fn every_pool_operation_parses_names_and_advances_only_its_pool() {
        let resize = route(Method::POST, "/pools/p1/resize");
        assert_eq!(resize, Route::Resize("p1".into()));
        assert_eq!((resize.name(), resize.advance()), ("resize pool", Advance::One("p1")));
        assert_eq!(resize.conditional(), Some(Access::Write));
        assert_eq!(route(Method::HEAD, "/pools/p1").conditional(), Some(Access::Read));
        assert_eq!(route(Method::POST, "/pools/p1/evaluateautoscale").conditional(), None);
        assert_eq!(route(Method::GET, "/pools").advance(), Advance::All);
        assert_eq!(route(Method::POST, "/pools").advance(), Advance::Handler);
        assert_eq!(route(Method::PUT, "/pools/p1"), Route::WrongVerb);
        assert_eq!(route(Method::GET, "/jobs"), Route::Unknown);
        assert_eq!(route(Method::GET, "/nodecounts").name(), "list node counts");
    }
}
