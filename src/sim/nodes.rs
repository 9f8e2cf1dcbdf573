//! The simulator's node handlers: get and list nodes (one body), removenodes, reboot,
//! disable/enable scheduling, deallocate/start (2025-06-01) and the start task's output files.
//!
//! Assumptions where the service is undocumented, also in docs/SIMULATOR.md: removenodes lowers
//! each kind's target by the nodes of that kind removed (an autoscale pool's next evaluation sets
//! it again); an unknown node → 404 `NodeNotFound`; more than 100 nodes → 400
//! `InvalidPropertyValue` (nodeList); a pool not steady → 409 `PoolBeingResized`; reboot and
//! deallocate of a node that is not booted (starting, rebooting, leaving, deallocated) → 409
//! `NodeBeingRebooted` while rebooting, else `OperationInvalidForCurrentState`; deallocate/start
//! under an older api-version → the answer to any path the version lacks (404 `ResourceNotFound`).

use super::errors::{Reply, error, invalid_value, missing_property, node_not_found, not_found};
use super::filter;
use super::http::http_date;
use super::paging::{page, project};
use super::pools::{Ctx, Handled};
use super::route::NodeOp;
use super::world::{Phase, SimNode, SimPool, start_task_outcome};
use crate::batch::BatchDuration;
use crate::batch::models::{
    DeallocateNodeRequest, DisableSchedulingRequest, NodeState, RebootNodeRequest, RemoveNodesRequest,
};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// The most nodes one removenodes request may name.
const MAX_REMOVE: usize = 100;

/// The node agent version nodes report.
const AGENT_VERSION: &str = "1.12.33";

impl Ctx<'_> {
    /// The live node body (get node, list nodes).
    fn node_body(&self, pool: &SimPool, node: &SimNode) -> Map<String, Value> {
        let (now, clock) = (self.now, self.clock);
        let state = pool.node_state(node, now);
        let running = u32::from(state == NodeState::Running);
        let done = pool.tasks_done(node, now);
        let url = format!("{}/pools/{}/nodes/{}", self.call.base, pool.wire.id(), node.id);
        let mut body = Map::new();
        body.insert("id".into(), json!(node.id));
        body.insert("url".into(), json!(url));
        body.insert("state".into(), json!(state));
        let scheduling = if node.scheduling_enabled { "enabled" } else { "disabled" };
        body.insert("schedulingState".into(), json!(scheduling));
        body.insert("stateTransitionTime".into(), json!(clock.timestamp(state_since(node, now))));
        if now >= node.booted_at {
            body.insert("lastBootTime".into(), json!(clock.timestamp(node.booted_at)));
        }
        body.insert("allocationTime".into(), json!(clock.timestamp(node.appears_at)));
        let [hi, lo] = node.address.to_be_bytes();
        body.insert("ipAddress".into(), json!(format!("10.0.{hi}.{lo}")));
        body.insert("affinityId".into(), json!(format!("TVM:{}", node.id)));
        body.insert("vmSize".into(), json!(pool.wire.vm_size));
        body.insert("totalTasksRun".into(), json!(done));
        body.insert("runningTasksCount".into(), json!(running));
        body.insert("runningTaskSlotsCount".into(), json!(running));
        body.insert("totalTasksSucceeded".into(), json!(done));
        if let Some((job, task, requeues)) = self.running_task(pool, node) {
            let started = pool.task_started(node, now).unwrap_or(now);
            body.insert(
                "recentTasks".into(),
                json!([{
                    "taskUrl": format!("{}/jobs/{job}/tasks/{task}", self.call.base),
                    "jobId": job,
                    "taskId": task,
                    "taskState": "running",
                    "executionInfo": {"startTime": clock.timestamp(started), "retryCount": 0, "requeueCount": requeues},
                }]),
            );
        }
        if let Some(task) = &node.start_task {
            body.insert("startTask".into(), task.clone());
        }
        if let Some(info) = self.start_task_info(node) {
            body.insert("startTaskInfo".into(), info);
        }
        if state == NodeState::Unusable {
            body.insert(
                "errors".into(),
                json!([{
                    "code": "NodeUnusable",
                    "message": "The node cannot run tasks: it did not join the pool after its VM started.",
                    "errorDetails": [{"name": "Remedy", "value": "Reboot or remove the node."}],
                }]),
            );
        }
        body.insert("isDedicated".into(), json!(node.dedicated));
        if let Some(endpoints) = inbound_endpoints(pool, node) {
            body.insert("endpointConfiguration".into(), json!({ "inboundEndpoints": endpoints }));
        }
        body.insert(
            "nodeAgentInfo".into(),
            json!({"version": AGENT_VERSION, "lastUpdateTime": clock.timestamp(node.booted_at.min(now))}),
        );
        let image = pool.wire.rest.get("virtualMachineConfiguration").and_then(|c| c.get("imageReference"));
        body.insert("virtualMachineInfo".into(), json!({ "imageReference": image.cloned().unwrap_or(json!({})) }));
        body
    }

    /// The (job, task, requeue count) node `node` runs now: a job's task, else its synthetic one
    /// of the pool's background job.
    fn running_task(&self, pool: &SimPool, node: &SimNode) -> Option<(String, String, u32)> {
        if let Some(run) = pool.job_task_at(node, self.now) {
            let job = self.world.jobs.get(&run.job)?;
            let task = job.tasks.get(&run.task)?;
            return Some((job.id.clone(), task.id.clone(), task.requeues));
        }
        let task = pool.synthetic_task_id(node, self.now)?;
        Some((super::world::background_job_id(pool.wire.id()), task, 0))
    }

    /// `startTaskInfo`: running during the start task's seconds, then completed with its exit code.
    fn start_task_info(&self, node: &SimNode) -> Option<Value> {
        let (code, _) = node.start_outcome()?;
        let began = node.start_task_began();
        if self.now < began || node.outage.as_ref().is_some_and(|o| self.now < o.until) {
            return None;
        }
        let start = self.clock.timestamp(began);
        if self.now < node.ready_at {
            return Some(json!({"state": "running", "startTime": start, "retryCount": 0}));
        }
        let mut info = json!({
            "state": "completed",
            "startTime": start,
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
        Some(info)
    }

    pub(super) fn list_nodes(&self, id: &str) -> Handled {
        let filter = self.filter()?;
        let pool = self.world.find(id).ok_or_else(not_found)?;
        let mut nodes: Vec<_> = pool.visible_nodes(self.now).collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let items = nodes.into_iter().map(|node| {
            let filter = filter.as_ref();
            let build =
                move || Some(self.node_body(pool, node)).filter(|o| filter.is_none_or(|f| filter::matches(f, o)));
            (node.id.clone(), build)
        });
        page(self.call, items, 1000, 1000, "nodes")
    }

    /// The pool and the index of its node `node`, or the reply for a missing one.
    fn find_node(&self, pool: &str, node: &str) -> Result<(&SimPool, usize), Reply> {
        let pool = self.world.find(pool).ok_or_else(not_found)?;
        let visible =
            |n: &SimNode| n.appears_at <= self.now && n.leaving.as_ref().is_none_or(|l| l.removal_at > self.now);
        let index = pool.nodes.iter().position(|n| n.id.eq_ignore_ascii_case(node) && visible(n));
        index.map(|i| (pool, i)).ok_or_else(node_not_found)
    }

    pub(super) fn node_op(self, pool_id: &str, node_id: &str, op: NodeOp) -> Handled {
        if matches!(op, NodeOp::Deallocate | NodeOp::Start) && !self.version.deallocates_nodes() {
            return Err(error(404, "ResourceNotFound", "The specified resource does not exist.", &[]));
        }
        // Bodies first, as the service validates them before looking the pool up.
        let option = match op {
            NodeOp::Reboot => self.call.json_body::<RebootNodeRequest>()?.node_reboot_option,
            NodeOp::Deallocate => self.call.json_body::<DeallocateNodeRequest>()?.node_deallocate_option,
            NodeOp::DisableScheduling => {
                self.call.json_body::<DisableSchedulingRequest>()?.node_disable_scheduling_option.map(Into::into)
            }
            _ => None,
        };
        let option = self.deallocation(option)?;
        self.live_pool(pool_id)?;
        let (pool, i) = self.find_node(pool_id, node_id)?;
        let state = pool.node_state(&pool.nodes[i], self.now);
        let booted = matches!(
            state,
            NodeState::Idle
                | NodeState::Running
                | NodeState::Offline
                | NodeState::StartTaskFailed
                | NodeState::Unusable
        );
        let refused = match op {
            NodeOp::Reboot | NodeOp::Deallocate if !booted => Some(state),
            NodeOp::Start if state != NodeState::Deallocated => Some(state),
            NodeOp::DisableScheduling | NodeOp::EnableScheduling
                if matches!(state, NodeState::LeavingPool | NodeState::Deallocating | NodeState::Deallocated) =>
            {
                Some(state)
            }
            _ => None,
        };
        if let Some(state) = refused {
            return Err(not_now(&state));
        }
        let url = format!("{}/pools/{}/nodes/{}", self.call.base, pool.wire.id(), pool.nodes[i].id);
        let (now, timings) = (self.now, self.world.timings.clone());
        let pool = self.world.find_mut(pool_id).ok_or_else(not_found)?;
        let (killed, status, suffix) = match op {
            NodeOp::Reboot => (pool.reboot_node(i, &option, now, &timings), StatusCode::ACCEPTED, "/reboot"),
            NodeOp::Deallocate => {
                (pool.deallocate_node(i, &option, now, &timings), StatusCode::ACCEPTED, "/deallocate")
            }
            NodeOp::Start => {
                pool.start_node(i, now, &timings);
                (false, StatusCode::ACCEPTED, "/start")
            }
            NodeOp::DisableScheduling => {
                (pool.disable_scheduling(i, &option, now), StatusCode::OK, "/disablescheduling")
            }
            NodeOp::EnableScheduling => {
                pool.enable_scheduling(i, now);
                (false, StatusCode::OK, "/enablescheduling")
            }
        };
        self.world.stats.tasks_killed_by_node_ops += u64::from(killed);
        Ok(Reply::Ok { status, headers: vec![("DataServiceId", format!("{url}{suffix}"))], body: None })
    }

    pub(super) fn get_node(&self, pool_id: &str, node_id: &str) -> Handled {
        let (pool, i) = self.find_node(pool_id, node_id)?;
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#nodes/@Element", self.call.base)));
        body.extend(project(self.node_body(pool, &pool.nodes[i]), self.call.select().as_deref()));
        Ok(Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(Value::Object(body)) })
    }

    pub(super) fn remove_nodes(mut self, id: &str) -> Handled {
        let request: RemoveNodesRequest = self.call.json_body()?;
        let mut names = request.node_list.ok_or_else(|| missing_property("nodeList"))?;
        if names.len() > MAX_REMOVE {
            return Err(invalid_value(
                "nodeList",
                &format!("{} nodes", names.len()),
                "A maximum of 100 nodes may be removed per request",
            ));
        }
        if let Some(timeout) = request.resize_timeout
            && timeout < BatchDuration::from_mins(5)
        {
            return Err(invalid_value(
                "resizeTimeout",
                &timeout.to_string(),
                "The specified resize timeout is less than the minimum of 5 minutes",
            ));
        }
        let pool = self.live_pool(id)?;
        if pool.phase != Phase::Steady {
            return Err(error(409, "PoolBeingResized", "The specified pool is being resized.", &[]));
        }
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        let indices =
            names.iter().map(|name| self.find_node(id, name).map(|(_, i)| i)).collect::<Result<Vec<_>, _>>()?;
        let timeout = request.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        let option = self.deallocation(request.node_deallocation_option)?;
        let (now, clock, timings) = (self.now, self.clock, self.world.timings.clone());
        let pool = self.touch(id)?;
        let killed = pool.remove_nodes(&indices, &option, now, timeout, &timings, clock);
        self.world.stats.tasks_killed_by_resize += killed;
        self.answer(id, StatusCode::ACCEPTED, "/removenodes")
    }

    /// `startup/stdout.txt` and `stderr.txt`: what the symbolic start task wrote on this boot.
    pub(super) fn node_file(&self, pool_id: &str, node_id: &str, path: &str) -> Handled {
        let (pool, i) = self.find_node(pool_id, node_id)?;
        let node = &pool.nodes[i];
        let missing = || error(404, "FileNotFound", "The specified file does not exist.", &[]);
        let task = node.start_task.as_ref().filter(|_| self.now >= node.start_task_began()).ok_or_else(missing)?;
        let finished = self.now >= node.ready_at;
        let content = match path.to_ascii_lowercase().as_str() {
            "startup/stdout.txt" => start_task_stdout(task, finished),
            "startup/stderr.txt" => start_task_stderr(task, finished),
            _ => return Err(missing()),
        };
        let written = if finished { node.ready_at } else { self.now };
        let url = format!("{}/pools/{}/nodes/{}/files/{path}", self.call.base, pool.wire.id(), node.id);
        let headers = vec![
            ("ocp-creation-time", http_date(self.clock.timestamp(node.start_task_began()))),
            ("Last-Modified", http_date(self.clock.timestamp(written))),
            ("ocp-batch-file-isdirectory", "False".to_string()),
            ("ocp-batch-file-url", url),
            ("ocp-batch-file-mode", "0o100644".to_string()),
        ];
        Ok(Reply::File { headers, content })
    }
}

/// What the symbolic start task printed: its command line, then how it ended.
fn start_task_stdout(task: &Value, finished: bool) -> String {
    let line = task.get("commandLine").and_then(Value::as_str).unwrap_or_default();
    let mut out = format!("+ {line}\n");
    if finished {
        out.push_str(&format!("start task exited with code {}\n", start_task_outcome(task).0));
    }
    out
}

fn start_task_stderr(task: &Value, finished: bool) -> String {
    match start_task_outcome(task).0 {
        code if finished && code != 0 => format!("error: the start task failed with exit code {code}\n"),
        _ => String::new(),
    }
}

/// The 409 for a node whose state does not allow the operation.
fn not_now(state: &NodeState) -> Reply {
    if *state == NodeState::Rebooting {
        return error(409, "NodeBeingRebooted", "The specified compute node is being rebooted.", &[]);
    }
    let reason = format!("The compute node is {state}");
    error(
        409,
        "OperationInvalidForCurrentState",
        "The specified operation is not valid for the current state of the resource.",
        &[("Reason", &reason)],
    )
}

/// When the node entered its current state: the latest of its timeline's instants so far.
fn state_since(node: &SimNode, now: f64) -> f64 {
    let mut instants = vec![node.appears_at, node.booted_at, node.ready_at, node.tasks_from];
    instants.extend(node.tasks_until);
    if let Some(outage) = &node.outage {
        instants.extend([outage.down_at, outage.until]);
    }
    if let Some(leave) = &node.leaving {
        instants.extend([leave.since, leave.task_until]);
    }
    instants.into_iter().filter(|t| *t <= now).fold(node.appears_at, f64::max)
}

/// The node's inbound endpoints: one per NAT pool of the pool's endpoint configuration (none
/// by default: since 2024-07-01 Batch maps no SSH/RDP port on its own).
fn inbound_endpoints(pool: &SimPool, node: &SimNode) -> Option<Vec<Value>> {
    let nat_pools =
        pool.wire.rest.get("networkConfiguration")?.get("endpointConfiguration")?.get("inboundNATPools")?.as_array()?;
    let offset = u64::from(node.address % 50);
    let [hi, lo] = node.address.to_be_bytes();
    let endpoints = nat_pools
        .iter()
        .map(|nat| {
            let first = nat.get("frontendPortRangeStart").and_then(Value::as_u64).unwrap_or(50000);
            json!({
                "name": format!("{}.0", nat.get("name").and_then(Value::as_str).unwrap_or("endpoint")),
                "protocol": nat.get("protocol").cloned().unwrap_or(json!("tcp")),
                "publicIPAddress": format!("20.0.{hi}.{lo}"),
                "publicFQDN": format!("dns{}.{}.batch.azure.com", node.address, pool.wire.id().to_ascii_lowercase()),
                "frontendPort": first + offset,
                "backendPort": nat.get("backendPort").cloned().unwrap_or(json!(22)),
            })
        })
        .collect();
    Some(endpoints)
}
