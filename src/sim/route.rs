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
    RemoveNodes(String),
    GetNode(String, String),
    /// A node operation: pool, node, which one.
    Node(String, String, NodeOp),
    /// `GET` (or `HEAD`: its properties only) `…/nodes/{node}/files/{path}`.
    NodeFile {
        pool: String,
        node: String,
        path: String,
        head: bool,
    },
    NodeCounts,
    ListJobs,
    AddJob,
    GetJob(String),
    DeleteJob(String),
    TerminateJob(String),
    TaskCounts(String),
    ListTasks(String),
    AddTask(String),
    AddTaskCollection(String),
    GetTask(String, String),
    SupportedImages,
    PoolUsageMetrics,
    /// A known path with a verb it does not take (405).
    WrongVerb,
    /// No such resource (404).
    Unknown,
}

/// What a request does to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NodeOp {
    Reboot,
    DisableScheduling,
    EnableScheduling,
    Deallocate,
    Start,
}

/// Which pools a request brings up to date before it is answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Advance<'a> {
    /// Only this pool (a request about one pool costs the same in an account of ten thousand).
    One(&'a str),
    /// The handler decides (the new id once the body is read; the pools a filter selects).
    Handler,
    /// The pool this job runs on (its tasks move with its nodes).
    Job(&'a str),
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
            ("POST", ["pools", p, "removenodes"]) => Route::RemoveNodes(id(p)),
            ("GET", ["pools", p, "nodes", n]) => Route::GetNode(id(p), id(n)),
            ("POST", ["pools", p, "nodes", n, action]) => match *action {
                "reboot" => Route::Node(id(p), id(n), NodeOp::Reboot),
                "disablescheduling" => Route::Node(id(p), id(n), NodeOp::DisableScheduling),
                "enablescheduling" => Route::Node(id(p), id(n), NodeOp::EnableScheduling),
                "deallocate" => Route::Node(id(p), id(n), NodeOp::Deallocate),
                "start" => Route::Node(id(p), id(n), NodeOp::Start),
                _ => Route::Unknown,
            },
            (verb @ ("GET" | "HEAD"), ["pools", p, "nodes", n, "files", path @ ..]) if !path.is_empty() => {
                Route::NodeFile { pool: id(p), node: id(n), path: path.join("/"), head: verb == "HEAD" }
            }
            ("GET", ["nodecounts"]) => Route::NodeCounts,
            ("GET", ["jobs"]) => Route::ListJobs,
            ("POST", ["jobs"]) => Route::AddJob,
            ("GET", ["jobs", j]) => Route::GetJob(id(j)),
            ("DELETE", ["jobs", j]) => Route::DeleteJob(id(j)),
            ("POST", ["jobs", j, "terminate"]) => Route::TerminateJob(id(j)),
            ("GET", ["jobs", j, "taskcounts"]) => Route::TaskCounts(id(j)),
            ("GET", ["jobs", j, "tasks"]) => Route::ListTasks(id(j)),
            ("POST", ["jobs", j, "tasks"]) => Route::AddTask(id(j)),
            ("POST", ["jobs", j, "addtaskcollection"]) => Route::AddTaskCollection(id(j)),
            ("GET", ["jobs", j, "tasks", t]) => Route::GetTask(id(j), id(t)),
            ("GET", ["supportedimages"]) => Route::SupportedImages,
            ("GET", ["poolusagemetrics"]) => Route::PoolUsageMetrics,
            (_, ["pools", ..] | ["nodecounts"] | ["supportedimages"] | ["poolusagemetrics"]) => Route::WrongVerb,
            (
                _,
                ["jobs"] | ["jobs", _] | ["jobs", _, "tasks" | "taskcounts" | "terminate"] | ["jobs", _, "tasks", _],
            ) => Route::WrongVerb,
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
            Route::RemoveNodes(_) => "remove nodes",
            Route::GetNode(..) => "get node",
            Route::Node(_, _, op) => match op {
                NodeOp::Reboot => "reboot node",
                NodeOp::DisableScheduling => "disable node scheduling",
                NodeOp::EnableScheduling => "enable node scheduling",
                NodeOp::Deallocate => "deallocate node",
                NodeOp::Start => "start node",
            },
            Route::NodeFile { head: false, .. } => "get node file",
            Route::NodeFile { head: true, .. } => "get node file properties",
            Route::NodeCounts => "list node counts",
            Route::ListJobs => "list jobs",
            Route::AddJob => "add job",
            Route::GetJob(_) => "get job",
            Route::DeleteJob(_) => "delete job",
            Route::TerminateJob(_) => "terminate job",
            Route::TaskCounts(_) => "get task counts",
            Route::ListTasks(_) => "list tasks",
            Route::AddTask(_) => "add task",
            Route::AddTaskCollection(_) => "add task collection",
            Route::GetTask(..) => "get task",
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
            | Route::ListNodes(id)
            | Route::RemoveNodes(id)
            | Route::GetNode(id, _)
            | Route::Node(id, _, _)
            | Route::NodeFile { pool: id, .. } => Some(id),
            _ => None,
        }
    }

    /// The job this request is about, if one.
    fn job(&self) -> Option<&str> {
        match self {
            Route::GetJob(id)
            | Route::DeleteJob(id)
            | Route::TerminateJob(id)
            | Route::TaskCounts(id)
            | Route::ListTasks(id)
            | Route::AddTask(id)
            | Route::AddTaskCollection(id)
            | Route::GetTask(id, _) => Some(id),
            _ => None,
        }
    }

    pub(super) fn advance(&self) -> Advance<'_> {
        if let Some(job) = self.job() {
            return Advance::Job(job);
        }
        match self {
            Route::AddPool
            | Route::NodeCounts
            | Route::SupportedImages
            | Route::PoolUsageMetrics
            | Route::ListJobs
            | Route::AddJob => Advance::Handler,
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
            | Route::DisableAutoscale(_)
            | Route::RemoveNodes(_) => Some(Access::Write),
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
        assert_eq!(route(Method::GET, "/jobs/j1/schedules"), Route::Unknown);
        assert_eq!(route(Method::GET, "/nodecounts").name(), "list node counts");
    }

    #[test]
    fn node_operations_parse_and_advance_only_their_pool() {
        let reboot = route(Method::POST, "/pools/p1/nodes/n1/reboot");
        assert_eq!(reboot, Route::Node("p1".into(), "n1".into(), NodeOp::Reboot));
        assert_eq!((reboot.name(), reboot.advance()), ("reboot node", Advance::One("p1")));
        assert_eq!(route(Method::POST, "/pools/p1/removenodes").conditional(), Some(Access::Write));
        let file = route(Method::GET, "/pools/p1/nodes/n1/files/startup/stdout.txt");
        let path = "startup/stdout.txt".to_string();
        assert_eq!(file, Route::NodeFile { pool: "p1".into(), node: "n1".into(), path, head: false });
        assert_eq!(route(Method::HEAD, "/pools/p1/nodes/n1/files/x").name(), "get node file properties");
        assert_eq!(route(Method::POST, "/pools/p1/nodes/n1/explode"), Route::Unknown);
        assert_eq!(route(Method::DELETE, "/pools/p1/nodes/n1"), Route::WrongVerb);
    }

    #[test]
    fn job_and_task_operations_parse_and_advance_their_jobs_pool() {
        let task = route(Method::GET, "/jobs/j1/tasks/t1");
        assert_eq!(task, Route::GetTask("j1".into(), "t1".into()));
        assert_eq!((task.name(), task.advance()), ("get task", Advance::Job("j1")));
        assert_eq!(route(Method::GET, "/jobs/j1/taskcounts").advance(), Advance::Job("j1"));
        assert_eq!(route(Method::GET, "/jobs").advance(), Advance::Handler);
        assert_eq!(route(Method::POST, "/jobs/j1/addtaskcollection"), Route::AddTaskCollection("j1".into()));
        assert_eq!(route(Method::PUT, "/jobs/j1/tasks"), Route::WrongVerb);
    }
}
