//! The drain: autoscale off, a resize in flight stopped, steady, resized to 0 with the drain's own
//! timeout, waited out, backed up — always on the pool the run started with.

use super::*;

impl Engine {
    pub(super) async fn disable_autoscale(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(elsewhere),
        };
        run.old_creation = run.old_creation.or(pool.creation_time);
        if !pool.autoscale() {
            run.seen = Some(pool);
            return Ok(Outcome::Skipped("autoscale already off".into()));
        }
        self.client.disable_autoscale(id).await.map_err(|e| e.to_string())?;
        self.snapshots.request_fast();
        Ok(Outcome::Done("autoscale disabled".into()))
    }

    pub(super) async fn stop_resize(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = match self.the_original(id, self.seen_or_live(id, run).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(elsewhere),
        };
        // A roll or refresh stops only autoscale's resize (the formula asks again at the end); a
        // fixed pool's own resize is waited out, or the pool would stay short of its targets.
        let autoscaled = matches!(self.before(id).and_then(|b| b.capacity.as_ref()), Some(Capacity::Auto { .. }));
        let wait_out = run.strategy.rolls_nodes() && !autoscaled;
        match pool.allocation_state {
            Some(AllocationState::Resizing) if wait_out => {
                Ok(Outcome::Skipped("a resize of the fixed pool in flight: waited out".into()))
            }
            Some(AllocationState::Resizing) => {
                self.client.stop_resize(id).await.map_err(|e| e.to_string())?;
                self.snapshots.request_fast();
                Ok(Outcome::Done("resize stopped".into()))
            }
            Some(AllocationState::Stopping) => Ok(Outcome::Skipped("already stopping".into())),
            _ => {
                run.seen = Some(pool);
                Ok(Outcome::Skipped("no resize in flight".into()))
            }
        }
    }

    pub(super) async fn wait_steady(&self, id: &str, run: &mut PoolRun) -> StepResult {
        if run.seen.as_ref().is_some_and(|p| p.is_steady()) {
            return Ok(Outcome::Done("steady".into()));
        }
        let pool = self
            .wait(id, Step::WaitSteady, self.config.policy.wait_timeout, |p| {
                p.is_none_or(|p| p.is_steady() || p.state == Some(PoolState::Deleting))
            })
            .await?;
        Ok(match self.the_original(id, pool, run)? {
            Ok(pool) => {
                run.seen = Some(pool);
                Outcome::Done("steady".into())
            }
            Err(elsewhere) => elsewhere,
        })
    }

    pub(super) async fn resize_to_zero(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let resize = ResizeRequest {
            target_dedicated_nodes: Some(0),
            target_low_priority_nodes: Some(0),
            resize_timeout: Some(self.config.policy.drain_resize_timeout()),
            node_deallocation_option: Some(self.config.policy.node_deallocation_option.clone()),
        };
        for _ in 0..5 {
            let pool = match self.the_original(id, self.seen_or_live(id, run).await?, run)? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(elsewhere),
            };
            if pool.autoscale() {
                return Err("autoscale was turned on again by someone else; stopped before draining".into());
            }
            if pool.target_nodes() == 0 && (pool.current_nodes() == 0 || !pool.is_steady()) {
                return Ok(Outcome::Skipped("targets already 0 (a resize to 0 is under way or done)".into()));
            }
            match self.client.resize_pool(id, &resize).await {
                Ok(()) => {
                    let option = &self.config.policy.node_deallocation_option;
                    return Ok(Outcome::Done(format!(
                        "resize to 0 with {option}, timeout {}",
                        self.config.policy.drain_resize_timeout()
                    )));
                }
                // Not steady yet (a settle after disabling autoscale): wait and try again.
                Err(e) if e.status() == Some(409) => {
                    self.wait(id, Step::ResizeToZero, self.config.policy.wait_timeout, |p| {
                        p.is_none_or(|p| p.is_steady())
                    })
                    .await?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the pool kept refusing the resize to 0 (409); check it in the portal".into())
    }

    pub(super) async fn wait_drained(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let policy = &self.config.policy;
        let drained_or_stuck =
            |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady() || p.state == Some(PoolState::Deleting));
        let mut deadline = Instant::now() + policy.drain_timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let grace = policy.sign_in_grace;
            let waited = self.snapshots.wait_for(id, remaining, grace, &self.cancel, drained_or_stuck).await;
            let pool = match waited {
                Ok(pool) => pool.map(Pool::from),
                Err(WaitError::Cancelled) => return Err("cancelled".into()),
                Err(WaitError::SignIn(why)) => return Err(self.sign_in_stopped(&why)),
                Err(WaitError::Timeout(pool)) => pool.map(|p| Pool::from(*p)),
            };
            let pool = match self.the_original(id, pool, run)? {
                Ok(pool) => pool,
                Err(elsewhere) => return Ok(elsewhere),
            };
            if pool.autoscale() || pool.target_nodes() > 0 {
                return Err(format!("changed by someone else while draining ({}); not deleted", describe(&pool)));
            }
            if pool.is_steady() && pool.current_nodes() == 0 {
                run.etag = pool.e_tag.clone();
                return Ok(Outcome::Done("drained: no nodes left".into()));
            }
            let errors = resize_error_codes(&pool);
            let stuck = format!("{} node(s) still running tasks{errors}", pool.current_nodes());
            match policy.on_drain_timeout {
                DrainTimeoutPolicy::Fail => {
                    let had = match self.before(id).and_then(|b| b.capacity.as_ref()) {
                        Some(capacity) => format!(" (before the run: {})", capacity.describe()),
                        None => String::new(),
                    };
                    // Our deadline, or the service's own end of the resize (its timeout, an error)?
                    let why = match pool.is_steady() {
                        true => "the service ended the resize to 0 before the nodes left".to_string(),
                        false => format!("draining did not finish in {} s", policy.drain_timeout.as_secs()),
                    };
                    return Err(format!(
                        "{why}: {stuck}. The pool was NOT deleted and is left at 0 \
                         targets{had}: `repool resume --on-drain-timeout wait` keeps draining, `--on-drain-timeout \
                         force` deletes it anyway (running tasks are requeued); to give it its nodes back instead, \
                         resize it or enable its autoscale again (az batch pool resize / autoscale enable)"
                    ));
                }
                DrainTimeoutPolicy::Force => {
                    run.etag = pool.e_tag.clone();
                    run.warnings.push(format!("forced: {stuck}; their tasks are requeued by the delete"));
                    return Ok(Outcome::Done(format!("forced after drain timeout: {stuck}")));
                }
                DrainTimeoutPolicy::Wait => {
                    deadline = Instant::now() + policy.drain_timeout;
                    let _ = self.progress.send(Progress::Waiting {
                        pool: id.into(),
                        step: Step::WaitDrained,
                        detail: stuck,
                    });
                    if pool.is_steady() {
                        // The resize timed out with tasks still running: ask again and keep waiting.
                        let again = ResizeRequest {
                            target_dedicated_nodes: Some(0),
                            target_low_priority_nodes: Some(0),
                            resize_timeout: Some(policy.drain_resize_timeout()),
                            node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                        };
                        self.client.resize_pool(id, &again).await.map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }

    pub(super) async fn backup(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(elsewhere),
        };
        self.check_unchanged(&pool, run)?;
        let live = serde_json::to_value(&pool).map_err(|e| e.to_string())?;
        let body = sealed::seal_live(&live, self.bodies.get(&id.to_lowercase()).map(|b| &b.sealed));
        let (dir, account) = (&self.config.backup_dir, self.config.account.file_name());
        let path = backup::save(dir, &account, id, BackupKind::PreDelete, &body)
            .await
            .map_err(|e| format!("{e}; not deleted"))?;
        run.backup = Some(path.display().to_string());
        run.etag = pool.e_tag.clone();
        run.old_creation = run.old_creation.or(pool.creation_time);
        Ok(Outcome::Done(format!("saved {}", path.display())))
    }

    /// Refuses a pool someone changed since it was drained.
    pub(super) fn check_unchanged(&self, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        if pool.autoscale() || pool.target_nodes() > 0 {
            return Err(format!("changed by someone else since draining ({}); not deleted", describe(pool)));
        }
        if let (Some(expected), Some(now)) = (&run.etag, &pool.e_tag)
            && expected != now
        {
            return Err(format!("changed by someone else since draining (ETag {expected} → {now}); not deleted"));
        }
        let forced = self.config.policy.on_drain_timeout == DrainTimeoutPolicy::Force;
        if pool.current_nodes() > 0 && !forced {
            return Err(format!("{} node(s) appeared again; not deleted", pool.current_nodes()));
        }
        Ok(())
    }
}
