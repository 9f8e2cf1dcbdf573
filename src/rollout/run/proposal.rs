//! A new run before it starts: what it would do, read from the account once. Every front end
//! shows a proposal (the plan, each pool's strategy, preflight's findings, `--dry-run`'s calls),
//! has it confirmed, and starts it; none plans or checks a run itself.

use super::*;
use crate::definition::PoolDefinition;
use crate::definition::plan::{Action, Plan};
use std::borrow::Cow;

/// A new run as planned and checked, not started. Nothing in the account changed to make it.
pub struct Proposal<'a> {
    /// The account, with the run's choices (policy, accepted losses).
    pub workspace: Workspace,
    /// The definition file (recreate, apply), or the pools as the account has them (heal).
    pub definition: Cow<'a, Definition>,
    pub intent: Intent,
    /// The pools the operator named, each once, as the definition spells them.
    pub chosen: Vec<String>,
    /// The run's targets: `chosen` less those left out because they match the definition.
    pub ids: Vec<String>,
    /// The chosen pools as the account had them when proposed (the one list).
    pub live: Vec<Pool>,
    /// The plan of every chosen pool against `live`.
    pub plan: Plan,
    /// How each target changes.
    pub strategies: BTreeMap<String, Strategy>,
    /// Preflight of the targets against `live`: problems refuse the start, warnings are told.
    pub findings: Findings,
    /// Heal: each target's failed nodes ("tvm-1 starttaskfailed (start task exit 3)").
    pub failed_nodes: BTreeMap<String, Vec<String>>,
    /// What draining the targets will wait for (jobs and running tasks), as read now.
    pub waits: DrainWaits,
}

impl Workspace {
    /// Plans a new run of `intent` for `ids` (each must be in `definition`) against one read of
    /// the account, chooses each pool's strategy and runs preflight. `only_changed`: pools that
    /// match their definition already are left out (apply, `recreate --changed`).
    pub async fn propose<'a>(
        &self,
        definition: &'a Definition,
        ids: &[String],
        intent: Intent,
        only_changed: bool,
    ) -> Result<Proposal<'a>, String> {
        let mut chosen: Vec<String> = Vec::new();
        for id in ids {
            let pool = definition.pool(id).ok_or_else(|| unknown_pool(definition, id, intent))?;
            if !chosen.contains(&pool.id) {
                chosen.push(pool.id.clone());
            }
        }
        // Only the chosen pools' env() variables are needed.
        definition.require_env(chosen.iter().map(String::as_str)).map_err(|e| e.to_string())?;
        let live = self
            .client
            .list_pools_confirming(&chosen)
            .await
            .map_err(|e| format!("preflight: the account did not answer ({e}); nothing was changed"))?;
        let plan = Plan::new(definition, &live, &chosen, self.api_version);
        let unchanged =
            |id: &String| plan.pools.iter().any(|p| p.action == Action::Unchanged && p.id.eq_ignore_ascii_case(id));
        let ids: Vec<String> = chosen.iter().filter(|id| !(only_changed && unchanged(id))).cloned().collect();
        let strategies: BTreeMap<String, Strategy> = Strategy::for_plan(&plan, intent, &live, self.policy.roll)
            .into_iter()
            .filter(|(id, _)| ids.contains(id))
            .collect();
        let drained: Vec<String> = (strategies.iter())
            .filter(|(_, s)| s.chain().contains(&Step::WaitDrained))
            .map(|(id, _)| id.clone())
            .collect();
        let kept = strategy::kept(&strategies);
        let checked = async {
            match ids.is_empty() {
                true => Ok(Findings::default()),
                false => self.preflight_against(definition, &ids, &live, &kept).await,
            }
        };
        // Both only read: at once.
        let (findings, waits) = tokio::join!(checked, DrainWaits::read(&self.client, &drained));
        let findings = findings?;
        let workspace = self.clone();
        let definition = Cow::Borrowed(definition);
        let failed_nodes = BTreeMap::new();
        Ok(Proposal {
            workspace,
            definition,
            intent,
            chosen,
            ids,
            live,
            plan,
            strategies,
            findings,
            failed_nodes,
            waits,
        })
    }
}

impl Proposal<'_> {
    /// `apply`: how pool `id` changes and why, as its strategy was chosen (live pool, `--no-roll`).
    pub fn choice(&self, id: &str) -> Option<strategy::Choice> {
        let plan = self.plan.pools.iter().find(|p| p.id.eq_ignore_ascii_case(id))?;
        Some(Strategy::choose_live(plan, &self.live, self.workspace.policy.roll))
    }

    /// The targets whose plan says they match their definition already (recreated anyway).
    pub fn unchanged(&self) -> Vec<&str> {
        let plans = self.plan.pools.iter().filter(|p| p.action == Action::Unchanged);
        plans.filter(|p| self.ids.iter().any(|id| id.eq_ignore_ascii_case(&p.id))).map(|p| p.id.as_str()).collect()
    }

    /// Why preflight refuses this run as proposed, if it does (the probes at the start may find more).
    pub fn refusal(&self) -> Option<Refusal> {
        refusal(&self.findings)
    }

    /// Starts the run as proposed: journals the targets with their sealed create bodies and
    /// strategies. Nothing in the account changes here but the probes (`--probe`).
    ///
    /// What the proposal read is used as it is, except what must be true at the instant the run
    /// starts, which is read again here:
    /// - the account's lock, and every journal of the account (after the lock): a pool another
    ///   unfinished run holds is refused, whatever was true when the proposal was made;
    /// - the targets themselves: the pre-run backups are what the pools are now, and a pool that
    ///   appeared, went, or changed a property since the proposal (anything but its state and
    ///   capacity, which a run sets anyway) is refused: the plan, the strategies and preflight's
    ///   verdict on what it would lose were for the pool as it was;
    /// - probes a crash left behind are deleted, and with `--probe` the service judges each body.
    pub async fn start(self) -> Result<Run, Refusal> {
        let Proposal { workspace, definition, ids, live, strategies, mut findings, intent, .. } = self;
        let definition = definition.as_ref();
        let chosen: Vec<&PoolDefinition> = ids.iter().filter_map(|id| definition.pool(id)).collect();
        if chosen.is_empty() {
            return Err(String::from("no pools chosen").into());
        }
        let run_id = journal::new_run_id();
        let lock = RunLock::acquire(&workspace.lock_dir(), &workspace.account, &run_id)?;
        workspace.refuse_held(&ids, intent)?;
        let now = workspace
            .client
            .list_pools_confirming(&ids)
            .await
            .map_err(|e| format!("cannot read the account's pools to back them up ({e}); nothing was changed"))?;
        refuse_changed(&ids, &live, &now)?;
        let kept = strategy::kept(&strategies);
        // A probe proves a create body; only pools that will be created need one.
        let created: Vec<&PoolDefinition> = chosen.iter().copied().filter(|p| !kept.contains(&p.id)).collect();
        let probes = workspace.probe(&created, &mut findings).await;
        if let Some(refused) = refusal(&findings) {
            return Err(refused);
        }
        // Saved together (one flush to disk for them all), and all durable before the journal
        // names them.
        let now_by_id = Pool::by_id(&now);
        let (dir, account) = (workspace.backup_dir(), workspace.account.file_name());
        let saves = chosen.iter().map(|pool| {
            let current = now_by_id.get(&pool.id.to_lowercase()).copied();
            // Start-task variables the service returns in clear are kept as references.
            let body =
                current.map(|c| serde_json::to_value(c).map(|live| sealed::seal_live(&live, Some(&pool.sealed))));
            let (dir, account) = (&dir, &account);
            async move {
                let Some(body) = body else { return Ok(None) };
                let body = body.map_err(|e| e.to_string())?;
                let path = backup::save(dir, account, &pool.id, BackupKind::PreRun, &body)
                    .await
                    .map_err(|e| format!("{e}; nothing was changed"))?;
                Ok::<_, String>(Some(path.display().to_string()))
            }
        });
        let backups: Vec<Option<String>> = futures::future::try_join_all(saves).await?;
        let targets: Vec<TargetRecord> = chosen
            .iter()
            .zip(backups)
            .map(|(pool, backup)| {
                let strategy = strategies.get(&pool.id).copied().unwrap_or_default();
                TargetRecord { pool: pool.id.clone(), body: pool.sealed.clone(), backup, strategy }
            })
            .collect();
        let journal =
            Journal::open(&workspace.journal_dir(), &run_id).map_err(|e| format!("cannot open the journal: {e}"))?;
        let source = std::fs::canonicalize(&definition.source)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| definition.source.clone());
        journal
            .append(Record::RunStarted {
                run: run_id.clone(),
                account: workspace.account.to_string(),
                endpoint: workspace.client.endpoint().to_string(),
                definition: source,
                digest: definition.digest(),
                targets,
                choices: RunChoices::of(&workspace.policy, &workspace.preflight.accept_loss),
            })
            .await
            .map_err(|e| format!("cannot write the journal {}: {e}", journal.path.display()))?;
        let state = journal::read(&journal.path).map_err(|e| e.to_string())?;
        let warnings = findings.warnings;
        Ok(Run { workspace, state, journal, _lock: lock, warnings, probes, proved: true })
    }
}

impl Workspace {
    /// Refuses `ids` when an unfinished run holds one, or a damaged journal may (call it holding
    /// the lock, so no run starts in between).
    fn refuse_held(&self, ids: &[String], intent: Intent) -> Result<(), String> {
        let runs = self.runs();
        if let Some(unknown) = runs.iter().find(|r| r.holds_unknown_pools()) {
            return Err(format!(
                "journal {} is damaged: its run-started record cannot be read, so repool cannot tell which \
                 account and pools run {} holds. Check the pools it names (`repool runs`), restore any that is \
                 missing (`repool restore --pool ID`), then `repool abandon {}`; nothing was changed",
                unknown.path.display(),
                unknown.run,
                unknown.run
            ));
        }
        for other in runs.iter().filter(|r| !r.is_closed() && !r.pending().is_empty()) {
            let held = other.held_pools();
            if let Some(pool) = ids.iter().find(|id| held.iter().any(|h| h.eq_ignore_ascii_case(id))) {
                // A run stopped by its health gate: resuming it would only look at the nodes
                // again, and its pool is as it made it.
                let unhealthy = other.pool(pool).status == Some(PoolStatus::Unhealthy);
                if intent == Intent::Heal && unhealthy {
                    return Err(format!(
                        "pool '{pool}' is held by unfinished run {} ({}): close it with `repool abandon {}` \
                         (the pool stays as it is), then heal again; nothing was changed",
                        other.run,
                        other.pool(pool).describe(),
                        other.run
                    ));
                }
                return Err(format!(
                    "pool '{pool}' is part of unfinished run {} ({}): resume it (`repool resume {}`) or abandon it \
                     (`repool abandon {}`) first; nothing was changed",
                    other.run,
                    other.pool(pool).describe(),
                    other.run,
                    other.run
                ));
            }
        }
        Ok(())
    }
}

/// Preflight's refusal when it found problems; the losses among them when they are all it found
/// (what the operator may accept).
fn refusal(findings: &Findings) -> Option<Refusal> {
    if findings.problems.is_empty() {
        return None;
    }
    let only_losses = findings.losses.len() == findings.problems.len();
    Some(Refusal {
        message: findings.refusal("preflight"),
        losses: if only_losses { findings.losses.clone() } else { Vec::new() },
    })
}

/// Refuses a target that appeared, went or changed (but for state and capacity) between the
/// proposal's read (`then`) and the start's (`now`).
fn refuse_changed(ids: &[String], then: &[Pool], now: &[Pool]) -> Result<(), String> {
    let (then, now) = (Pool::by_id(then), Pool::by_id(now));
    for id in ids {
        let key = id.to_lowercase();
        let change = match (then.get(&key), now.get(&key)) {
            (None, None) => continue,
            (Some(_), None) => "was deleted".to_string(),
            (None, Some(_)) => "was created".to_string(),
            (Some(then), Some(now)) => {
                let changed = preflight::changed_properties(then, now);
                if changed.is_empty() {
                    continue;
                }
                format!("changed ({})", changed.join(", "))
            }
        };
        return Err(format!(
            "pool '{id}' {change} since repool planned the run; nothing was changed: plan it again (run the \
             command again) so the plan and preflight see it as it is"
        ));
    }
    Ok(())
}
