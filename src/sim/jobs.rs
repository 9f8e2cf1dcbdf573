//! The simulator's job handlers: add, get, list (`$filter` on `executionInfo/poolId`, id,
//! state…), terminate, delete, and task counts. Jobs run on an existing pool (`poolInfo.poolId`).
//!
//! Assumptions where the service is undocumented, also in docs/SIMULATOR.md: an auto pool
//! (`poolInfo.autoPoolSpecification`) → 400 `InvalidPropertyValue` (the simulator runs none);
//! terminate and delete take effect at once (the service passes through `terminating` and
//! `deleting`); a job may name a pool that does not exist yet (its tasks wait for it).

use super::errors::{Reply, error, invalid_value, missing_property};
use super::filter;
use super::http::http_date;
use super::paging::{page, project};
use super::pools::{Ctx, Handled};
use super::world::{SimJob, TaskView};
use crate::batch::models::TaskState;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The constraint the service reports for "no limit" (.NET's TimeSpan.MaxValue).
pub(super) const UNLIMITED: &str = "P10675199DT2H48M5.4775807S";

pub(super) fn job_not_found() -> Reply {
    error(404, "JobNotFound", "The specified job does not exist.", &[])
}

/// An id as the service takes it: 1–64 letters, digits, hyphens and underscores.
pub(super) fn check_id(body: &Map<String, Value>) -> Result<String, Reply> {
    let id = body.get("id").ok_or_else(|| missing_property("id"))?;
    let text = id.as_str().unwrap_or_default();
    let valid = (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if !valid {
        let reason = "An id can contain any combination of alphanumeric characters including hyphens and underscores, and cannot contain more than 64 characters";
        return Err(invalid_value("id", &id.to_string(), reason));
    }
    Ok(text.to_string())
}

impl Ctx<'_> {
    /// The job, or 404 `JobNotFound`.
    pub(super) fn job(&self, id: &str) -> Result<&SimJob, Reply> {
        self.world.jobs.get(&id.to_lowercase()).ok_or_else(job_not_found)
    }

    fn job_body(&self, job: &SimJob) -> Map<String, Value> {
        let clock = self.clock;
        let mut body = Map::new();
        body.insert("id".into(), json!(job.id));
        body.insert("url".into(), json!(format!("{}/jobs/{}", self.call.base, job.id)));
        body.insert("eTag".into(), json!(job.e_tag));
        body.insert("lastModified".into(), json!(clock.timestamp(job.created)));
        body.insert("creationTime".into(), json!(clock.timestamp(job.created)));
        let (state, since) = match &job.completed {
            Some((at, _)) => ("completed", *at),
            None => ("active", job.created),
        };
        body.insert("state".into(), json!(state));
        body.insert("stateTransitionTime".into(), json!(clock.timestamp(since)));
        if job.completed.is_some() {
            body.insert("previousState".into(), json!("active"));
            body.insert("previousStateTransitionTime".into(), json!(clock.timestamp(job.created)));
        }
        body.insert("priority".into(), json!(0));
        body.insert("maxParallelTasks".into(), json!(-1));
        body.insert("allowTaskPreemption".into(), json!(false));
        body.insert("usesTaskDependencies".into(), json!(false));
        body.insert("constraints".into(), json!({"maxWallClockTime": UNLIMITED, "maxTaskRetryCount": 0}));
        body.insert("poolInfo".into(), json!({"poolId": job.pool_id}));
        body.insert("onAllTasksComplete".into(), json!("noaction"));
        body.insert("onTaskFailure".into(), json!("noaction"));
        for (key, value) in &job.rest {
            body.insert(key.clone(), value.clone());
        }
        let mut info = json!({"startTime": clock.timestamp(job.created), "poolId": job.pool_id});
        if let Some((at, reason)) = &job.completed {
            info["endTime"] = json!(clock.timestamp(*at));
            info["terminateReason"] = json!(reason);
        }
        body.insert("executionInfo".into(), info);
        body
    }

    fn job_headers(&self, job: &SimJob, suffix: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("ETag", job.e_tag.clone()),
            ("Last-Modified", http_date(self.clock.timestamp(job.completed.as_ref().map_or(job.created, |c| c.0)))),
        ];
        if let Some(suffix) = suffix {
            headers.push(("DataServiceId", format!("{}/jobs/{}{suffix}", self.call.base, job.id)));
        }
        headers
    }

    pub(super) fn add_job(self) -> Handled {
        let mut body = self.call.json_object()?;
        let id = check_id(&body)?;
        let info = body.get("poolInfo").ok_or_else(|| missing_property("poolInfo"))?;
        let pool_id = match info.get("poolId").and_then(Value::as_str) {
            Some(pool) if !pool.is_empty() => pool.to_string(),
            _ if info.get("autoPoolSpecification").is_some() => {
                return Err(invalid_value(
                    "poolInfo",
                    "autoPoolSpecification",
                    "The simulated account runs jobs on existing pools only",
                ));
            }
            _ => return Err(missing_property("poolInfo.poolId")),
        };
        let key = id.to_lowercase();
        if self.world.jobs.contains_key(&key) {
            return Err(error(409, "JobExists", "The specified job already exists.", &[]));
        }
        for read_only in ["id", "poolInfo", "url", "eTag", "state", "executionInfo", "stats"] {
            body.shift_remove(read_only);
        }
        let e_tag = self.world.next_etag();
        let job = SimJob {
            id: id.clone(),
            pool_id,
            created: self.now,
            e_tag,
            completed: None,
            rest: body,
            tasks: BTreeMap::new(),
            background: false,
        };
        let mut headers = self.job_headers(&job, Some(""));
        headers.push(("Location", format!("{}/jobs/{id}", self.call.base)));
        self.world.jobs.insert(key, job);
        Ok(Reply::Ok { status: StatusCode::CREATED, headers, body: None })
    }

    pub(super) fn get_job(&self, id: &str) -> Handled {
        let job = self.job(id)?;
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#jobs/@Element", self.call.base)));
        body.extend(project(self.job_body(job), self.call.select().as_deref()));
        Ok(Reply::Ok { status: StatusCode::OK, headers: self.job_headers(job, None), body: Some(Value::Object(body)) })
    }

    pub(super) fn list_jobs(&self) -> Handled {
        let filter = self.filter()?;
        // The jobs of some pools (twenty a call): a job on another pool is passed over unbuilt.
        let pools = filter.as_ref().and_then(|f| filter::only_equal_to(f, "executionInfo/poolId"));
        let on_pools = |job: &SimJob| pools.as_ref().is_none_or(|ids| ids.contains(&job.pool_id.to_lowercase()));
        let items = self.world.jobs.iter().filter(|(_, job)| on_pools(job)).map(|(key, job)| {
            let filter = filter.as_ref();
            let build = move || Some(self.job_body(job)).filter(|o| filter.is_none_or(|f| filter::matches(f, o)));
            (key.clone(), build)
        });
        page(self.call, items, 1000, 1000, "jobs")
    }

    /// The body's `terminateReason` (default `UserTerminate`) lands in `executionInfo`.
    pub(super) fn terminate_job(self, id: &str) -> Handled {
        let body = self.call.json_object()?;
        let reason = body.get("terminateReason").and_then(Value::as_str).unwrap_or("UserTerminate").to_string();
        let job = self.job(id)?;
        if job.completed.is_some() {
            return Err(error(409, "JobCompleted", "The specified job is already in a completed state.", &[]));
        }
        let key = id.to_lowercase();
        self.world.terminate_job(&key, self.now, reason);
        let job = self.job(id)?;
        Ok(Reply::Ok { status: StatusCode::ACCEPTED, headers: self.job_headers(job, Some("/terminate")), body: None })
    }

    pub(super) fn delete_job(self, id: &str) -> Handled {
        self.job(id)?;
        self.world.delete_job(&id.to_lowercase(), self.now);
        Ok(Reply::Ok { status: StatusCode::ACCEPTED, headers: vec![], body: None })
    }

    pub(super) fn task_counts(&self, id: &str) -> Handled {
        self.job(id)?;
        let counts = counts(self.world.job_tasks(&id.to_lowercase(), self.now).iter().map(|(_, t)| t));
        let body = json!({
            "odata.metadata": format!("{}/$metadata#taskcounts/@Element", self.call.base),
            "taskCounts": counts,
            "taskSlotCounts": counts,
        });
        Ok(Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(body) })
    }
}

/// Task counts (one slot per task, so slot counts are the same).
fn counts<'a>(tasks: impl Iterator<Item = &'a TaskView>) -> Value {
    let (mut active, mut running, mut succeeded, mut failed) = (0u64, 0u64, 0u64, 0u64);
    for task in tasks {
        match task.state {
            TaskState::Active | TaskState::Preparing => active += 1,
            TaskState::Running => running += 1,
            _ if task.run.as_ref().and_then(|r| r.exit_code) == Some(0) => succeeded += 1,
            _ => failed += 1,
        }
    }
    json!({"active": active, "running": running, "completed": succeeded + failed, "succeeded": succeeded, "failed": failed})
}
