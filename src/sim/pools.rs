//! The simulator's handlers: one per route, each returning the reply or the error it stops at.
//!
//! Assumptions where the service is undocumented (batch-api.md §3.2), also in docs/SIMULATOR.md:
//! resize while not steady → 409 `PoolBeingResized`; resize with autoscale on → 409
//! `OperationInvalidForCurrentState`; stopresize on a steady pool → 202, no change;
//! disableautoscale when already off → 200; TooManyEnableAutoScaleRequests → 409; PATCH of a
//! property 2025-06-01 changes only on an empty pool, on a pool with nodes or resizing → 409
//! `PropertyCannotBeUpdated` (values Reason, PropertyName); under older api-versions → 400.

use super::errors::{Reply, being_deleted, error, internal, missing_property, not_found};
use super::http::{Call, http_date};
use super::paging::{page, project};
use super::route::Route;
use super::validate::{check_formula, check_interval, check_start_task, validate_new_pool};
use super::world::{Phase, SimPool, World};
use super::{filter, formula};
use crate::batch::defaults::strip_write_only;
use crate::batch::models::{AllocationState, EnableAutoScaleRequest, NodeDeallocationOption, ResizeRequest};
use crate::batch::{ApiVersion, BatchDuration};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

pub(super) type Handled = Result<Reply, Reply>;

/// One request's view of the account.
pub(super) struct Ctx<'a> {
    pub world: &'a mut World,
    pub clock: &'a super::clock::SimClock,
    pub now: f64,
    pub call: &'a Call<'a>,
    /// The request's api-version, one the service accepts.
    pub version: ApiVersion,
}

impl Ctx<'_> {
    /// A deallocation option as sent (Requeue when absent), refused where the request's
    /// api-version no longer has it: `retaineddata` is gone from 2026-08-01 on.
    pub(super) fn deallocation(&self, option: Option<NodeDeallocationOption>) -> Result<NodeDeallocationOption, Reply> {
        match option.unwrap_or(NodeDeallocationOption::Requeue) {
            NodeDeallocationOption::RetainedData if !self.version.has_retained_data() => {
                Err(super::errors::invalid_value(
                    "nodeDeallocationOption",
                    "retaineddata",
                    &format!("retaineddata is not a deallocation option in api-version {}", self.version),
                ))
            }
            option => Ok(option),
        }
    }

    /// Answers `route` (which `Route::parse` made of this call).
    pub(super) fn dispatch(self, route: &Route) -> Handled {
        match route {
            Route::ListPools => self.list_pools(),
            Route::AddPool => self.add_pool(),
            Route::GetPool(id) => self.get_pool(id),
            Route::PoolExists(id) => Ok(self.pool_exists(id)),
            Route::DeletePool(id) => self.delete_pool(id),
            Route::PatchPool(id) => self.patch_pool(id),
            Route::UpdateProperties(id) => self.update_properties(id),
            Route::Resize(id) => self.resize(id),
            Route::StopResize(id) => self.stop_resize(id),
            Route::EnableAutoscale(id) => self.enable_autoscale(id),
            Route::DisableAutoscale(id) => self.disable_autoscale(id),
            Route::EvaluateAutoscale(id) => self.evaluate_autoscale(id),
            Route::ListNodes(id) => self.list_nodes(id),
            Route::RemoveNodes(id) => self.remove_nodes(id),
            Route::GetNode(pool, node) => self.get_node(pool, node),
            Route::Node(pool, node, op) => self.node_op(pool, node, *op),
            Route::NodeFile { pool, node, path, .. } => self.node_file(pool, node, path),
            Route::NodeCounts => self.node_counts(),
            Route::ListJobs => self.list_jobs(),
            Route::AddJob => self.add_job(),
            Route::GetJob(id) => self.get_job(id),
            Route::DeleteJob(id) => self.delete_job(id),
            Route::TerminateJob(id) => self.terminate_job(id),
            Route::TaskCounts(id) => self.task_counts(id),
            Route::ListTasks(id) => self.list_tasks(id),
            Route::AddTask(id) => self.add_task(id),
            Route::AddTaskCollection(id) => self.add_task_collection(id),
            Route::GetTask(job, task) => self.get_task(job, task),
            Route::SupportedImages => self.supported_images(),
            Route::PoolUsageMetrics => self.pool_usage_metrics(),
            Route::WrongVerb => {
                Err(error(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.", &[]))
            }
            Route::Unknown => Err(error(404, "ResourceNotFound", "The specified resource does not exist.", &[])),
        }
    }

    /// ETag, Last-Modified and, for writes, the DataServiceId of the operation (`suffix`).
    pub(super) fn pool_headers(&self, pool: &SimPool, service_id: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(suffix) = service_id {
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

    /// A body-less success carrying the pool's headers as they are now.
    pub(super) fn answer(&self, id: &str, status: StatusCode, service_id: &str) -> Handled {
        let pool = self.world.find(id).ok_or_else(not_found)?;
        Ok(Reply::Ok { status, headers: self.pool_headers(pool, Some(service_id)), body: None })
    }

    /// A user change: a new ETag and Last-Modified (system transitions keep them).
    pub(super) fn touch(&mut self, id: &str) -> Result<&mut SimPool, Reply> {
        let tag = self.world.next_etag();
        let stamp = self.clock.timestamp(self.now);
        let pool = self.world.find_mut(id).ok_or_else(not_found)?;
        pool.wire.e_tag = Some(tag);
        pool.wire.last_modified = Some(stamp);
        Ok(pool)
    }

    /// The pool, or the reply for a missing or deleting one.
    pub(super) fn live_pool(&self, id: &str) -> Result<&SimPool, Reply> {
        match self.world.find(id) {
            None => Err(not_found()),
            Some(pool) if pool.is_deleting() => Err(being_deleted()),
            Some(pool) => Ok(pool),
        }
    }

    /// The parsed `$filter`, or the reply refusing it.
    pub(super) fn filter(&self) -> Result<Option<filter::Expr>, Reply> {
        self.call
            .param("$filter")
            .map(|text| {
                filter::parse(text).map_err(|reason| {
                    super::errors::bad_query("$filter", text, &format!("The filter is invalid: {reason}"))
                })
            })
            .transpose()
    }

    /// The pool's wire form, with `stats` when the request says `$expand=stats`.
    fn wire_of(&self, pool: &SimPool) -> Map<String, Value> {
        let mut wire = pool.to_wire(&self.call.base);
        let expand = self.call.param("$expand").unwrap_or_default();
        if expand.split(',').any(|e| e.trim().eq_ignore_ascii_case("stats")) {
            let mut stats = super::stats::of(pool, &self.call.base, self.now, self.clock);
            // 2026-08-01 dropped usageStats from the pool's statistics (batch-api.md §10).
            if !self.version.has_usage_stats()
                && let Some(stats) = stats.as_object_mut()
            {
                stats.remove("usageStats");
            }
            super::stats::insert(&mut wire, stats);
        }
        wire
    }

    fn list_pools(&self) -> Handled {
        let filter = self.filter()?;
        let items = self.world.pools.iter().map(|(key, pool)| {
            let filter = filter.as_ref();
            let build = move || Some(self.wire_of(pool)).filter(|o| filter.is_none_or(|f| filter::matches(f, o)));
            (key.clone(), build)
        });
        page(self.call, items, 1000, 1000, "pools")
    }

    fn get_pool(&self, id: &str) -> Handled {
        let pool = self.world.find(id).ok_or_else(not_found)?;
        let mut body = Map::new();
        body.insert("odata.metadata".into(), json!(format!("{}/$metadata#pools/@Element", self.call.base)));
        body.extend(project(self.wire_of(pool), self.call.select().as_deref()));
        Ok(Reply::Ok {
            status: StatusCode::OK,
            headers: self.pool_headers(pool, None),
            body: Some(Value::Object(body)),
        })
    }

    fn pool_exists(&self, id: &str) -> Reply {
        match self.world.find(id) {
            Some(pool) => Reply::Ok { status: StatusCode::OK, headers: self.pool_headers(pool, None), body: None },
            None => Reply::Ok { status: StatusCode::NOT_FOUND, headers: vec![], body: None },
        }
    }

    fn add_pool(mut self) -> Handled {
        let body = self.call.json_object()?;
        let pool = validate_new_pool(body, self.version)?;
        let id = pool.id().to_string();
        self.world.advance_one(id.to_lowercase(), self.now, self.clock);
        if let Some(existing) = self.world.find(&id) {
            return Err(if existing.is_deleting() {
                being_deleted()
            } else {
                error(409, "PoolExists", "The specified pool already exists.", &[])
            });
        }
        let failure = self.alloc_failure();
        self.world.admit(pool, self.now, self.now, None, failure, self.clock);
        self.world.stats.pools_created += 1;
        let Ok(Reply::Ok { status, mut headers, body }) = self.answer(&id, StatusCode::CREATED, "") else {
            return Err(not_found());
        };
        headers.push(("Location", format!("{}/pools/{id}", self.call.base)));
        Ok(Reply::Ok { status, headers, body })
    }

    /// Draws the allocation-failure fault: (code, message) that will land in resizeErrors.
    fn alloc_failure(&mut self) -> Option<(String, String)> {
        self.world.draw_alloc_failure()
    }

    fn delete_pool(mut self, id: &str) -> Handled {
        self.live_pool(id)?;
        let timings = self.world.timings.clone();
        let (now, clock) = (self.now, self.clock);
        let pool = self.touch(id)?;
        let killed = pool.start_delete(now, &timings, clock);
        pool.wire.state_transition_time = pool.wire.last_modified;
        self.world.stats.tasks_killed_by_delete += killed;
        Ok(Reply::Ok { status: StatusCode::ACCEPTED, headers: vec![], body: None })
    }

    fn patch_pool(mut self, id: &str) -> Handled {
        let mut body = self.call.json_object()?;
        super::body::read_integers(&mut body)?;
        check_start_task(&body)?;
        let pool = self.live_pool(id)?;
        if let Some(property) = body.keys().find(|k| crate::batch::defaults::PATCH_WHEN_EMPTY.contains(&k.as_str())) {
            if !self.version.patches_when_empty() {
                let reason = format!("'{property}' can be patched from api-version 2025-06-01");
                return Err(error(400, "InvalidRequestBody", &reason, &[("PropertyName", property)]));
            }
            let has_nodes = pool.visible_nodes(self.now).next().is_some();
            let resizing = !matches!(pool.phase, super::world::Phase::Steady);
            if has_nodes || resizing {
                let reason = "The property can be updated only when the pool has no compute nodes.";
                return Err(error(
                    409,
                    "PropertyCannotBeUpdated",
                    "A property that cannot be updated was specified as part of the request.",
                    &[("Reason", reason), ("PropertyName", property)],
                ));
            }
        }
        let Ok(Value::Object(mut wire)) = serde_json::to_value(&pool.wire) else { return Err(internal()) };
        wire.extend(body);
        crate::batch::case::normalize(&mut wire);
        let mut wire = Value::Object(wire);
        strip_write_only(&mut wire);
        let Value::Object(wire) = wire else { return Err(internal()) };
        let updated = super::body::read(wire)?;
        self.world.find_mut(id).ok_or_else(not_found)?.wire = updated;
        self.touch(id)?;
        self.answer(id, StatusCode::OK, "")
    }

    fn update_properties(mut self, id: &str) -> Handled {
        let body: Map<String, Value> = self.call.json_body()?;
        let mut required = vec!["applicationPackageReferences", "metadata"];
        if self.version.updates_certificates() {
            required.insert(0, "certificateReferences");
        }
        if let Some(missing) = required.iter().find(|k| !body.contains_key(**k)) {
            return Err(missing_property(missing));
        }
        check_start_task(&body)?;
        self.live_pool(id)?;
        let pool = self.touch(id)?;
        pool.wire.rest.shift_remove("startTask");
        for (key, mut value) in body {
            strip_write_only(&mut value);
            pool.wire.rest.insert(key, value);
        }
        self.answer(id, StatusCode::NO_CONTENT, "/updateproperties")
    }

    fn resize(mut self, id: &str) -> Handled {
        let request: ResizeRequest = self.call.json_body()?;
        if request.target_dedicated_nodes.is_none() && request.target_low_priority_nodes.is_none() {
            return Err(missing_property("targetDedicatedNodes and/or targetLowPriorityNodes"));
        }
        if let Some(timeout) = request.resize_timeout
            && timeout < BatchDuration::from_mins(5)
        {
            return Err(super::errors::invalid_value(
                "resizeTimeout",
                &timeout.to_string(),
                "The specified resize timeout is less than the minimum of 5 minutes",
            ));
        }
        let pool = self.live_pool(id)?;
        if pool.wire.autoscale() {
            return Err(error(
                409,
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
                &[("Reason", "Resize is not allowed while autoscale is enabled")],
            ));
        }
        if pool.phase != Phase::Steady {
            return Err(error(409, "PoolBeingResized", "The specified pool is being resized.", &[]));
        }
        let targets = (
            request.target_dedicated_nodes.unwrap_or(pool.wire.target_dedicated_nodes.unwrap_or(0)),
            request.target_low_priority_nodes.unwrap_or(pool.wire.target_low_priority_nodes.unwrap_or(0)),
        );
        let timeout = request.resize_timeout.map(|d| d.as_std().as_secs_f64()).unwrap_or(900.0);
        let dealloc = self.deallocation(request.node_deallocation_option)?;
        let grows = targets.0 > pool.wire.current_dedicated_nodes.unwrap_or(0)
            || targets.1 > pool.wire.current_low_priority_nodes.unwrap_or(0);
        let failure = if grows { self.alloc_failure() } else { None };
        self.touch(id)?;
        let timings = self.world.timings.clone();
        let (now, clock) = (self.now, self.clock);
        let World { pools, rng, stats, .. } = &mut *self.world;
        let pool = pools.get_mut(&id.to_lowercase()).ok_or_else(not_found)?;
        if let Some(timeout) = request.resize_timeout {
            pool.wire.resize_timeout = Some(timeout);
        }
        stats.tasks_killed_by_resize +=
            pool.start_resize(targets, dealloc, now, timeout, failure, &timings, rng, clock);
        self.answer(id, StatusCode::ACCEPTED, "/resize")
    }

    /// Leaves ETag and Last-Modified as they were (the service's stopresize does too).
    fn stop_resize(self, id: &str) -> Handled {
        self.live_pool(id)?;
        let (now, clock, settle) = (self.now, self.clock, self.world.timings.stop_settle);
        let pool = self.world.find_mut(id).ok_or_else(not_found)?;
        if matches!(pool.phase, Phase::Resizing { .. } | Phase::Settling { .. }) {
            pool.cancel_pending_changes(now);
            pool.enter(Phase::Stopping { until: now + settle }, now);
            pool.set_allocation(AllocationState::Stopping, now, clock);
        }
        self.answer(id, StatusCode::ACCEPTED, "/stopresize")
    }

    fn enable_autoscale(mut self, id: &str) -> Handled {
        let request: EnableAutoScaleRequest = self.call.json_body()?;
        let pool = self.live_pool(id)?;
        if pool.last_enable_autoscale.is_some_and(|t| self.now - t < 30.0) {
            return Err(error(
                409,
                "TooManyEnableAutoScaleRequests",
                "Too many Enable Pool AutoScale requests are issued on the pool.",
                &[],
            ));
        }
        if pool.phase != Phase::Steady {
            return Err(error(409, "PoolBeingResized", "The specified pool is being resized.", &[]));
        }
        let formula = request.auto_scale_formula.clone().or_else(|| pool.wire.auto_scale_formula.clone());
        let formula = formula.ok_or_else(|| missing_property("autoScaleFormula"))?;
        check_formula(&formula)?;
        check_interval(request.auto_scale_evaluation_interval)?;
        let (key, now, clock) = (id.to_lowercase(), self.now, self.clock);
        let pool = self.touch(id)?;
        pool.wire.enable_auto_scale = Some(true);
        pool.wire.auto_scale_formula = Some(formula);
        pool.wire.auto_scale_evaluation_interval = request
            .auto_scale_evaluation_interval
            .or(pool.wire.auto_scale_evaluation_interval)
            .or(Some(BatchDuration::from_mins(15)));
        pool.last_enable_autoscale = Some(now);
        self.world.evaluate_and_apply_autoscale(&key, now, clock);
        self.answer(id, StatusCode::OK, "/enableautoscale")
    }

    fn disable_autoscale(mut self, id: &str) -> Handled {
        self.live_pool(id)?;
        let (now, clock, settle) = (self.now, self.clock, self.world.timings.disable_autoscale_settle);
        let pool = self.touch(id)?;
        if pool.wire.autoscale() && pool.phase == Phase::Steady {
            pool.enter(Phase::Settling { until: now + settle }, now);
            pool.set_allocation(AllocationState::Resizing, now, clock);
        }
        pool.wire.enable_auto_scale = Some(false);
        pool.wire.auto_scale_formula = None;
        pool.wire.auto_scale_evaluation_interval = None;
        pool.wire.auto_scale_run = None;
        pool.next_autoscale_eval = None;
        self.answer(id, StatusCode::OK, "/disableautoscale")
    }

    /// Never changes the pool; an evaluation error comes back inside the 200 (batch-api.md §3.1).
    fn evaluate_autoscale(&self, id: &str) -> Handled {
        let request: EnableAutoScaleRequest = self.call.json_body()?;
        let formula = request.auto_scale_formula.ok_or_else(|| missing_property("autoScaleFormula"))?;
        let pool = self.live_pool(id)?;
        if !pool.wire.autoscale() {
            return Err(error(
                409,
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
                &[("Reason", "Autoscale is not enabled on the pool")],
            ));
        }
        check_formula(&formula)?;
        let run = formula::evaluate(&formula, &formula::Start::of(&pool.wire));
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
            body.insert("error".into(), serde_json::to_value(err).map_err(|_| internal())?);
        }
        let headers = vec![("DataServiceId", format!("{}/pools/{}/evaluateautoscale", self.call.base, pool.wire.id()))];
        Ok(Reply::Ok { status: StatusCode::OK, headers, body: Some(Value::Object(body)) })
    }

    fn node_counts(self) -> Handled {
        let filter = self.filter()?;
        // Filter on the id first: only pools that pass are brought up to date and counted.
        let passes = |pool: &SimPool| {
            let id = json!({ "poolId": pool.wire.id() });
            id.as_object().is_some_and(|id| filter.as_ref().is_none_or(|f| filter::matches(f, id)))
        };
        // Pools asked for by id are looked up, not searched for (a health gate asks a hundred times a poll).
        let candidates: Vec<&String> = match filter.as_ref().and_then(|f| filter::only_equal_to(f, "poolId")) {
            Some(ids) => {
                let keys: std::collections::BTreeSet<String> = ids.into_iter().collect();
                keys.iter().filter_map(|k| self.world.pools.get_key_value(k).map(|(key, _)| key)).collect()
            }
            None => self.world.pools.keys().collect(),
        };
        let matching: Vec<String> =
            candidates.into_iter().filter(|key| passes(&self.world.pools[*key])).cloned().collect();
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
        page(self.call, items, 10, 10, "poolnodecounts")
    }

    /// The account's image catalog (assets/demo/supported-images.json), filtered and paged like the service.
    fn supported_images(&self) -> Handled {
        let filter = self.filter()?;
        let items = super::images::catalog().iter().enumerate().map(|(i, image)| {
            let object = serde_json::to_value(image).ok().and_then(|v| v.as_object().cloned());
            let object = object.filter(|o| filter.as_ref().is_none_or(|f| filter::matches(f, o)));
            (format!("{i:06}"), move || object)
        });
        page(self.call, items, 1000, 1000, "supportedimages")
    }

    /// Usage metrics are aggregated by the hour from billing data a simulated account never has:
    /// an empty list, as recorded live for a new account (batch-api.md §10).
    fn pool_usage_metrics(&self) -> Handled {
        let none = std::iter::empty::<(String, fn() -> Option<Map<String, Value>>)>();
        page(self.call, none, 1000, 1000, "poolusagemetrics")
    }
}
