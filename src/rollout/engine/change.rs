//! Changing the pool the run started with in place: PATCH what differs, set its capacity, and a
//! rebuild's rollback drain.

use super::*;

impl Engine {
    /// What `patch` and `scale` bring the pool to: its definition, or rolling back, the pre-run
    /// backup as an add body.
    pub(super) fn desired(&self, id: &str, back: bool) -> Result<(&Value, &Value), String> {
        let bodies = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no body for '{id}'"))?;
        if !back {
            return Ok((&bodies.clear, &bodies.sealed));
        }
        let before = bodies.before.as_ref().ok_or("no pre-run backup")?;
        let body = before.body.as_ref().map_err(|why| format!("cannot roll back: {why}"))?;
        Ok((body, &bodies.sealed))
    }

    /// Changes the pool in place to what it should be (PATCH; updateproperties to drop a start
    /// task). What only an empty pool takes is sent only to the pool this run drained and backed
    /// up, unchanged since (If-Match its ETag), never to one with nodes.
    pub(super) async fn patch(&self, id: &str, run: &mut PoolRun, back: bool) -> StepResult {
        let (desired, sealed) = self.desired(id, back)?;
        let pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(elsewhere),
        };
        run.old_creation = run.old_creation.or(pool.creation_time);
        let definition = PoolDefinition { id: id.to_string(), body: desired.clone(), sealed: sealed.clone() };
        let plan = plan_pool(&definition, &pool, self.config.api_version);
        let requests = update::requests(&plan, desired, self.config.api_version);
        if requests.is_empty() {
            run.seen = Some(pool);
            return Ok(Outcome::Skipped("nothing to patch: the pool has these properties".into()));
        }
        let empty_only = plan.changes.iter().any(|c| c.apply == Apply::InPlaceWhenEmpty);
        if empty_only && (pool.current_nodes() > 0 || pool.target_nodes() > 0 || pool.autoscale() || !pool.is_steady())
        {
            return Err(format!("not patched: only an empty pool takes these changes, and it is {}", describe(&pool)));
        }
        if empty_only
            && let (Some(drained), Some(now)) = (&run.etag, &pool.e_tag)
            && drained != now
        {
            return Err(format!("changed by someone else since it was drained (ETag {drained} → {now}); not patched"));
        }
        // The first request carries the ETag seen; the next one follows the first's own change.
        let mut if_match = pool.e_tag.clone();
        let mut named = Vec::new();
        for request in &requests {
            let sent = match request {
                Update::Patch(body) => self.client.patch_pool(id, body, if_match.as_deref()).await,
                Update::Properties(body) => self.client.update_pool_properties(id, body, if_match.as_deref()).await,
            };
            if let Err(e) = sent {
                // A change that took effect but whose answer was lost is retried with the old
                // ETag and refused (412): what the pool has now decides, not the answer.
                let pool = self.live(id).await?.ok_or("the pool disappeared while it was patched")?;
                let plan = plan_pool(&definition, &pool, self.config.api_version);
                if !update::requests(&plan, desired, self.config.api_version).is_empty() {
                    return Err(match e.status() {
                        Some(412) => "changed by someone else meanwhile (ETag differs); not patched".into(),
                        _ => e.to_string(),
                    });
                }
                tracing::warn!(pool = id, "the answer to a PATCH was lost ({e}); the pool has the change");
            }
            if_match = None;
            named.extend(request.body().as_object().into_iter().flat_map(|m| m.keys().cloned()));
        }
        self.snapshots.request_fast();
        run.etag = None;
        let to = if back { "back to the pre-run backup" } else { "to the definition" };
        Ok(Outcome::Done(format!("patched {to}: {}", named.join(", "))))
    }

    /// Gives the pool the targets or the autoscale formula it should have.
    pub(super) async fn scale(&self, id: &str, run: &PoolRun, back: bool) -> StepResult {
        // With the service's defaults (a resize timeout of 15 minutes), so the pool ends as its
        // definition says and not with the drain's timeout.
        let mut desired = self.desired(id, back)?.0.as_object().cloned().unwrap_or_default();
        crate::batch::defaults::apply(&mut desired, self.config.api_version);
        let capacity = Capacity::of(&Value::Object(desired));
        for _ in 0..5 {
            let pool = match self.the_original(id, self.live(id).await?, run)? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(elsewhere),
            };
            if capacity.is_met_by(&pool) {
                return Ok(Outcome::Skipped(format!("already {}", capacity.describe())));
            }
            let sent = match &capacity {
                Capacity::Auto { formula, interval } => {
                    let request = EnableAutoScaleRequest {
                        auto_scale_formula: Some(formula.clone()),
                        auto_scale_evaluation_interval: *interval,
                    };
                    self.client.enable_autoscale(id, &request).await
                }
                Capacity::Fixed { .. } if pool.autoscale() => {
                    self.client.disable_autoscale(id).await.map_err(|e| e.to_string())?;
                    continue;
                }
                Capacity::Fixed { dedicated, low_priority, resize_timeout } => {
                    let resize = ResizeRequest {
                        target_dedicated_nodes: Some(*dedicated),
                        target_low_priority_nodes: Some(*low_priority),
                        resize_timeout: Some(resize_timeout.unwrap_or(self.config.policy.resize_timeout)),
                        // Fewer nodes than now must not kill running work.
                        node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                    };
                    self.client.resize_pool(id, &resize).await
                }
            };
            match sent {
                Ok(()) => {
                    self.snapshots.request_fast();
                    let whose = if back { " (the pre-run backup's)" } else { "" };
                    return Ok(Outcome::Done(format!("scaled: {}{whose}", capacity.describe())));
                }
                // Still settling (a resize in flight, autoscale just changed): wait and again.
                Err(e) if e.status() == Some(409) => {
                    self.wait(id, Step::Scale, self.config.policy.wait_timeout, |p| p.is_none_or(|p| p.is_steady()))
                        .await?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the pool kept refusing to scale (409); check it in the portal".into())
    }

    /// Rollback of a rebuild: the pool with the new spec is drained again before it is patched back.
    pub(super) async fn rollback_drain(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        for step in [Step::DisableAutoscale, Step::StopResize, Step::WaitSteady, Step::ResizeToZero] {
            let outcome = Box::pin(self.step(id, step, run, journal)).await?;
            if let Outcome::Jump(..) = outcome {
                return Ok(outcome);
            }
        }
        self.wait_drained(id, run).await
    }
}
