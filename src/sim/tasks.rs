//! The simulator's task handlers: add, add a collection (≤ 100), get and list (with `$filter`,
//! `$select`). A task runs symbolically on a node of its job's pool (sim/world/jobs.rs).
//!
//! Assumptions where the service is undocumented, also in docs/SIMULATOR.md: a terminated task's
//! `failureInfo` is `TaskEnded` ("Task Was Ended by User Request"), its exit code absent; more
//! than 100 tasks in a collection → 413 `RequestBodyTooLarge`; a task added to a completed job
//! → 409 `JobCompleted`.

use super::errors::{Reply, error, missing_property};
use super::filter;
use super::jobs::{UNLIMITED, check_id, job_not_found};
use super::paging::{page, project};
use super::pools::{Ctx, Handled};
use super::world::{SimJob, SimTask, TaskView};
use crate::batch::models::TaskState;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

const MAX_COLLECTION: usize = 100;

impl Ctx<'_> {
    fn task_body(&self, job: &SimJob, task: &TaskView) -> Map<String, Value> {
        let (base, clock) = (&self.call.base, self.clock);
        let mut body = Map::new();
        body.insert("id".into(), json!(task.id));
        body.insert("url".into(), json!(format!("{base}/jobs/{}/tasks/{}", job.id, task.id)));
        body.insert("eTag".into(), json!(format!("0x8DE{:012X}", (task.created * 1000.0) as u64)));
        body.insert("creationTime".into(), json!(clock.timestamp(task.created)));
        body.insert("lastModified".into(), json!(clock.timestamp(task.created)));
        body.insert("state".into(), json!(task.state));
        body.insert("stateTransitionTime".into(), json!(clock.timestamp(task.state_since)));
        body.insert("commandLine".into(), json!(task.command_line));
        body.insert("userIdentity".into(), json!({"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}));
        body.insert(
            "constraints".into(),
            json!({"maxWallClockTime": UNLIMITED, "retentionTime": "P7D", "maxTaskRetryCount": 0}),
        );
        body.insert("requiredSlots".into(), json!(1));
        for (key, value) in &task.rest {
            body.insert(key.clone(), value.clone());
        }
        let mut info = json!({"retryCount": 0, "requeueCount": task.requeues});
        if let Some(run) = &task.run {
            info["startTime"] = json!(clock.timestamp(run.start));
            if task.state == TaskState::Completed {
                info["endTime"] = json!(clock.timestamp(run.end));
                if let Some(code) = run.exit_code {
                    info["exitCode"] = json!(code);
                }
                match run.exit_code {
                    Some(0) => info["result"] = json!("success"),
                    Some(code) => {
                        info["result"] = json!("failure");
                        info["failureInfo"] = json!({
                            "category": "usererror",
                            "code": "FailureExitCode",
                            "message": "The task process exited with an unexpected exit code",
                            "details": [{"name": "Message", "value": format!("The task exited with an exit code representing a failure: {code}")}],
                        });
                    }
                    None => {
                        info["result"] = json!("failure");
                        info["failureInfo"] = json!({
                            "category": "usererror",
                            "code": "TaskEnded",
                            "message": "Task Was Ended by User Request",
                        });
                    }
                }
            }
            let node_url = format!("{base}/pools/{}/nodes/{}", job.pool_id, run.node);
            let root = format!("workitems/{}/job-1/{}", job.id, task.id);
            body.insert(
                "nodeInfo".into(),
                json!({
                    "affinityId": format!("TVM:{}", run.node),
                    "nodeUrl": node_url,
                    "poolId": job.pool_id,
                    "nodeId": run.node,
                    "taskRootDirectory": root,
                    "taskRootDirectoryUrl": format!("{node_url}/files/{root}"),
                }),
            );
        }
        body.insert("executionInfo".into(), info);
        body
    }

    /// A new task from an add body, or the reply refusing it.
    fn new_task(&self, body: Map<String, Value>) -> Result<SimTask, Reply> {
        let id = check_id(&body)?;
        let line = body.get("commandLine").and_then(Value::as_str).filter(|l| !l.trim().is_empty());
        let line = line.ok_or_else(|| missing_property("commandLine"))?.to_string();
        let mut rest = body;
        for read_only in ["id", "commandLine", "url", "eTag", "state", "executionInfo", "nodeInfo", "stats"] {
            rest.shift_remove(read_only);
        }
        Ok(SimTask { id, command_line: line, created: self.now, queued_at: self.now, requeues: 0, run: None, rest })
    }

    /// Stores and queues `task` in job `job_id`; the reply for a task that cannot be added.
    fn admit_task(&mut self, job_id: &str, task: SimTask) -> Result<String, Reply> {
        let key = job_id.to_lowercase();
        let job = self.world.jobs.get_mut(&key).ok_or_else(job_not_found)?;
        if job.completed.is_some() {
            return Err(error(409, "JobCompleted", "The specified job is already in a completed state.", &[]));
        }
        let task_key = task.id.to_lowercase();
        if job.tasks.contains_key(&task_key) {
            return Err(error(409, "TaskExists", "The specified task already exists.", &[]));
        }
        let url = format!("{}/jobs/{}/tasks/{}", self.call.base, job.id, task.id);
        job.tasks.insert(task_key.clone(), task);
        self.world.enqueue(&key, &task_key, self.now);
        Ok(url)
    }

    pub(super) fn add_task(mut self, job_id: &str) -> Handled {
        let body = self.call.json_object()?;
        let task = self.new_task(body)?;
        let url = self.admit_task(job_id, task)?;
        let headers = vec![("DataServiceId", url.clone()), ("Location", url)];
        Ok(Reply::Ok { status: StatusCode::CREATED, headers, body: None })
    }

    pub(super) fn add_task_collection(mut self, job_id: &str) -> Handled {
        let body = self.call.json_object()?;
        let values = body.get("value").and_then(Value::as_array).ok_or_else(|| missing_property("value"))?;
        if values.len() > MAX_COLLECTION {
            return Err(error(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
                &[("MaxLimit", "100 tasks")],
            ));
        }
        self.world.jobs.get(&job_id.to_lowercase()).ok_or_else(job_not_found)?;
        let mut results = Vec::new();
        for value in values.clone() {
            let id = value.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let added = match value {
                Value::Object(map) => self.new_task(map).and_then(|task| self.admit_task(job_id, task)),
                _ => Err(missing_property("id")),
            };
            results.push(match added {
                Ok(url) => json!({"status": "success", "taskId": id, "location": url}),
                Err(Reply::Error { code, message, .. }) => json!({
                    "status": "clienterror",
                    "taskId": id,
                    "error": {"code": code, "message": {"lang": "en-US", "value": message}},
                }),
                Err(_) => json!({"status": "servererror", "taskId": id}),
            });
        }
        let body = json!({
            "odata.metadata": format!("{}/$metadata#taskaddresult", self.call.base),
            "value": results,
        });
        Ok(Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(body) })
    }

    pub(super) fn get_task(&self, job_id: &str, task_id: &str) -> Handled {
        let job = self.job(job_id)?;
        let task = self.world.job_task(&job_id.to_lowercase(), task_id, self.now);
        let task = task.ok_or_else(|| error(404, "TaskNotFound", "The specified task does not exist.", &[]))?;
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#tasks/@Element", self.call.base)));
        body.extend(project(self.task_body(job, &task), self.call.select().as_deref()));
        Ok(Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(Value::Object(body)) })
    }

    pub(super) fn list_tasks(&self, job_id: &str) -> Handled {
        let filter = self.filter()?;
        let job = self.job(job_id)?;
        let tasks = self.world.job_tasks(&job_id.to_lowercase(), self.now);
        let items = tasks.into_iter().map(|(key, task)| {
            let filter = filter.as_ref();
            let build =
                move || Some(self.task_body(job, &task)).filter(|o| filter.is_none_or(|f| filter::matches(f, o)));
            (key, build)
        });
        page(self.call, items, 1000, 1000, "tasks")
    }
}
