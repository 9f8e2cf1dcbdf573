//! Which pool a step may act on: the one the run started with (the drain, the backup, a rebuild
//! or in-place change) or the one it created (the waits after a create, a rollback's delete).

use super::*;

impl Engine {
    /// The pool the run started with, or where the step goes instead (absent: create; being
    /// deleted: wait gone). A pool under its id that is not the original is refused.
    pub(super) fn the_original(
        &self,
        id: &str,
        pool: Option<Pool>,
        run: &PoolRun,
    ) -> Result<Result<Pool, Outcome>, String> {
        match pool {
            None => Ok(Err(Outcome::Jump(Step::Create, "not in the account: it will be created".into()))),
            Some(p) if p.state == Some(PoolState::Deleting) => {
                Ok(Err(Outcome::Jump(Step::WaitGone, "already being deleted".into())))
            }
            Some(p) => {
                self.expect_original(id, &p, run)?;
                Ok(Ok(p))
            }
        }
    }

    /// What the pre-run backup says of pool `id`.
    pub(super) fn before(&self, id: &str) -> Option<&PreRun> {
        self.bodies.get(&id.to_lowercase()).and_then(|b| b.before.as_ref())
    }

    /// The creation time of the pool the run started with: its pre-run backup's, else what the
    /// run's first look saw. None: the pool did not exist before the run.
    pub(super) fn original_creation(&self, id: &str, run: &PoolRun) -> Option<jiff::Timestamp> {
        let backup = self.before(id).and_then(|b| b.created);
        backup.or(run.old_creation)
    }

    /// The drain, the backup and every step of a rebuild or in-place change act only on the pool
    /// the run started with: one with its id but another creation time is someone else's.
    pub(super) fn expect_original(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        if self.before(id).is_none() {
            return Err(format!(
                "the pool '{id}' exists, but it did not when the run started (no pre-run backup); not touched: \
                 start a new run to change it"
            ));
        }
        match (self.original_creation(id, run), pool.creation_time) {
            (Some(original), Some(now)) if original != now => Err(format!(
                "the pool '{id}' in the account is not the one this run started with (created {now}; the run's \
                 was created {original}): someone deleted it and created another with its id; left alone"
            )),
            _ => Ok(()),
        }
    }

    /// The steps after a create act only on a pool newer than the one the run started with (the
    /// very one whose creation this run saw, once it saw it).
    pub(super) fn expect_new(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        let created = pool.creation_time;
        let when = created.map(|t| t.to_string()).unwrap_or_else(|| "at an unknown time".into());
        if let Some(mine) = run.new_creation {
            return match created == Some(mine) {
                true => Ok(()),
                false => Err(format!(
                    "the pool '{id}' in the account is not the one this run created (created {when}, ours {mine}); \
                     left alone"
                )),
            };
        }
        match (self.original_creation(id, run), created) {
            (Some(original), Some(now)) if now <= original => Err(format!(
                "the pool '{id}' in the account is still the one from before the run (created {now}); this run \
                 has not created its new pool"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `pool` (read whole) is the one this run created: new, and either created by this
    /// execution (201) or as the definition says (a resumed run, a create whose answer was lost).
    pub(super) fn expect_ours(&self, id: &str, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        self.expect_new(id, pool, run)?;
        if run.created || run.new_creation.is_some() {
            return Ok(());
        }
        if !run.create_sent {
            return Err(format!(
                "a pool '{id}' (created {}) exists that this run did not create (it had not yet sent a create that \
                 could have made it); someone else created it — left alone",
                pool.creation_time.map(|t| t.to_string()).unwrap_or_default()
            ));
        }
        let create = self.bodies.get(&id.to_lowercase()).ok_or_else(|| format!("no create body for '{id}'"))?;
        let definition =
            PoolDefinition { id: id.to_string(), body: create.clear.clone(), sealed: create.sealed.clone() };
        let plan = plan_pool(&definition, pool, self.config.api_version);
        match plan.action {
            Action::Unchanged | Action::UpdateInPlace => Ok(()),
            _ => Err(format!(
                "a pool '{id}' (created {}) exists that this run did not create: it differs from the definition \
                 ({} difference(s)); someone else created it — left alone",
                pool.creation_time.map(|t| t.to_string()).unwrap_or_default(),
                plan.changes.len()
            )),
        }
    }

    /// After a create, the pool a wait may accept: ours (recreate), the original (rebuild, in
    /// place, and their rollbacks); a recreate's rollback creates the backup, which is checked by
    /// its own create.
    pub(super) fn expect_expected(&self, id: &str, step: Step, pool: &Pool, run: &PoolRun) -> Result<(), String> {
        match (run.strategy, step) {
            (Strategy::Recreate, Step::RollbackWaitReady) => Ok(()),
            (Strategy::Recreate, _) => self.expect_new(id, pool, run),
            _ => self.expect_original(id, pool, run),
        }
    }
}
