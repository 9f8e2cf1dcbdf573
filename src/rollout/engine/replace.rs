//! A new pool in the old one's place: delete (judged by the pool when its answer was lost), wait
//! gone, create (ours, or someone else's?), and a recreate's rollback.

use super::*;

impl Engine {
    pub(super) async fn delete(&self, id: &str, run: &mut PoolRun) -> StepResult {
        if run.backup.is_none() {
            return Err("no backup recorded for this pool; refusing to delete".into());
        }
        if !self.bodies.contains_key(&id.to_lowercase()) {
            return Err("no validated create body for this pool; refusing to delete".into());
        }
        let error = match self.client.delete_pool(id, run.etag.as_deref()).await {
            Ok(()) => {
                self.snapshots.request_fast();
                return Ok(Outcome::Done("delete accepted".into()));
            }
            Err(e) if e.is_not_found() => return Ok(Outcome::Done("already gone".into())),
            Err(e) if e.code() == Some("PoolBeingDeleted") => {
                return Ok(Outcome::Done("already being deleted".into()));
            }
            Err(e) => e,
        };
        // A delete that took effect but whose answer was lost is retried with the old ETag and
        // refused (412), or not answered at all: whether the pool is going decides.
        match self.live(id).await? {
            None => Ok(Outcome::Done(format!("gone (the answer to our delete was lost; {})", retried(&error)))),
            Some(pool) if pool.state == Some(PoolState::Deleting) => {
                self.snapshots.request_fast();
                Ok(Outcome::Done(format!("being deleted (the answer to our delete was lost; {})", retried(&error))))
            }
            Some(_) if error.status() == Some(412) => {
                Err("changed by someone else since the backup (ETag differs); not deleted".into())
            }
            Some(_) => Err(format!("{error}; the pool was not deleted")),
        }
    }

    /// Until the pool is gone; a pool that exists again and is not being deleted (someone created
    /// or restored it meanwhile) goes to create, which tells ours from someone else's.
    pub(super) async fn wait_gone(&self, id: &str) -> StepResult {
        let deleting = |p: &PoolSummary| p.state == Some(PoolState::Deleting);
        let seen =
            self.wait(id, Step::WaitGone, self.config.policy.wait_timeout, |p| p.is_none_or(|p| !deleting(p))).await?;
        Ok(match seen {
            None => Outcome::Done("gone".into()),
            Some(_) => {
                Outcome::Jump(Step::Create, "a pool with this id exists again; create checks whose it is".into())
            }
        })
    }

    pub(super) async fn create(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let create = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no create body for '{id}'"))?;
        let body = &create.clear;
        let deadline = Instant::now() + self.config.policy.wait_timeout;
        for _ in 0..8 {
            let error = match self.client.add_pool(body).await {
                Ok(()) => {
                    self.snapshots.request_fast();
                    run.created = true;
                    return Ok(Outcome::Done("created from the definition".into()));
                }
                Err(e) => e,
            };
            // The pool is deleted: wait out what the service asks rather than leave it so.
            if let Some(after) = asks_to_wait(&error) {
                self.wait_as_asked(id, Step::Create, &error, after, deadline).await?;
                continue;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if error.code() == Some("PoolBeingDeleted") {
                self.wait(id, Step::Create, remaining, |p| p.is_none()).await?;
                continue;
            }
            // Whether an unanswered create took effect, or whose pool exists: the pool decides.
            let unanswered = matches!(error, BatchError::Transport { .. }) || error.status().is_some_and(|s| s >= 500);
            if error.code() != Some("PoolExists") && !unanswered {
                return Err(error.to_string());
            }
            // A create that may have taken effect makes a pool under the id possibly ours; one that
            // met PoolExists before this run ever sent a create cannot be.
            run.create_sent |= unanswered;
            match self.live(id).await? {
                Some(pool) if pool.state == Some(PoolState::Deleting) => {
                    self.wait(id, Step::Create, remaining, |p| p.is_none()).await?;
                }
                Some(pool) => {
                    return match self.expect_ours(id, &pool, run) {
                        Ok(()) => {
                            run.created = true;
                            Ok(Outcome::Done(
                                "already created by this run (an earlier answer was lost); matches the definition"
                                    .into(),
                            ))
                        }
                        Err(why) => {
                            run.foreign = true;
                            Err(why)
                        }
                    };
                }
                None => {}
            }
        }
        Err("could not create the pool after several attempts; `repool resume` tries again".into())
    }

    /// Deletes the failed new pool this run created: never the original one, never someone else's.
    pub(super) async fn rollback_delete(&self, id: &str, run: &PoolRun) -> StepResult {
        let Some(pool) = self.live(id).await? else { return Ok(Outcome::Skipped("the new pool is not there".into())) };
        if pool.state == Some(PoolState::Deleting) {
            return Ok(Outcome::Done("already being deleted".into()));
        }
        self.expect_ours(id, &pool, run).map_err(|why| format!("{why}; not deleted, no rollback"))?;
        match self.client.delete_pool(id, pool.e_tag.as_deref()).await {
            Ok(()) => {
                self.snapshots.request_fast();
                Ok(Outcome::Done("the failed new pool is being deleted".into()))
            }
            Err(e) if e.is_not_found() => Ok(Outcome::Done("already gone".into())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Creates the pool from its pre-run backup.
    pub(super) async fn rollback_create(&self, id: &str, run: &mut PoolRun) -> StepResult {
        let before = self.before(id).ok_or("no pre-run backup")?;
        let body = before.body.as_ref().map_err(|why| format!("cannot roll back: {why}"))?;
        let deadline = Instant::now() + self.config.policy.wait_timeout;
        loop {
            match self.client.add_pool(body).await {
                Ok(()) => {
                    self.snapshots.request_fast();
                    run.new_creation = None;
                    return Ok(Outcome::Done("created again from the pre-run backup".into()));
                }
                Err(e) if e.code() == Some("PoolExists") => {
                    return Ok(Outcome::Done("a pool with this id exists again".into()));
                }
                Err(e) => match asks_to_wait(&e) {
                    Some(after) => self.wait_as_asked(id, Step::RollbackCreate, &e, after, deadline).await?,
                    None => return Err(e.to_string()),
                },
            }
        }
    }

    /// Waits `after` (what the service asked, throttling) before `step` calls again, saying so;
    /// refuses when that would pass `deadline`, naming the real cause.
    pub(super) async fn wait_as_asked(
        &self,
        id: &str,
        step: Step,
        error: &BatchError,
        after: Duration,
        deadline: Instant,
    ) -> Result<(), String> {
        if Instant::now() + after > deadline {
            return Err(format!(
                "{error}; the service asks to wait {} s more, past this step's limit (wait_timeout {} s)",
                after.as_secs(),
                self.config.policy.wait_timeout.as_secs()
            ));
        }
        let code = error.code().unwrap_or("throttled");
        let detail = format!("the service asked to wait {} s before trying again ({code})", after.as_secs());
        tracing::warn!(pool = id, "{step}: {detail}");
        let _ = self.progress.send(Progress::Waiting { pool: id.to_string(), step, detail });
        tokio::select! {
            _ = self.cancel.cancelled() => Err("cancelled".into()),
            _ = tokio::time::sleep(after) => Ok(()),
        }
    }
}

/// What the retry of a change whose answer was lost met, in a few words (the full error, whose
/// advice is about someone else's change, goes to the log).
fn retried(error: &BatchError) -> String {
    tracing::info!("a change's answer was lost; its retry met: {error}");
    match (error.status(), error.code()) {
        (Some(status), Some(code)) => format!("its retry met {status} {code}, our own change"),
        _ => "no answer came back".into(),
    }
}

/// Whether `error` asks to try again later (throttled, busy), and after how long.
fn asks_to_wait(error: &BatchError) -> Option<Duration> {
    let e = error.service()?;
    matches!(e.status, 429 | 503).then(|| e.retry_after.unwrap_or(Duration::from_secs(30)).max(Duration::from_secs(1)))
}
