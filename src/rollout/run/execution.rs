//! A run being acted on: the bodies it creates, where each pool resumes, the proof before any
//! change, the execution through the engine, abandoning it.

use super::*;
use crate::batch::models::{EnableAutoScaleRequest, NodeDeallocationOption, ResizeRequest};
use crate::rollout::update::Capacity;

/// A run being acted on: holds the account's lock until dropped.
pub struct Run {
    pub(super) workspace: Workspace,
    pub state: RunState,
    pub(super) journal: Journal,
    pub(super) _lock: RunLock,
    /// What preflight found worth saying that does not stop the run (an image's end of life near).
    pub warnings: Vec<String>,
    /// With `--probe`: how the service judged each create body (pool id → verdict), for the
    /// progress output and the report.
    pub probes: BTreeMap<String, ProbeReport>,
    /// Just started from a proposal: preflight and the probes judged it moments ago.
    pub(super) proved: bool,
}

/// A run ready to execute: what `Run::prepare` found, for the front end to show and confirm.
pub struct Prepared {
    pub run: Run,
    /// Pools with work left, each where it resumes and stops.
    pub targets: Vec<PoolTarget>,
    /// The create body of each (clear; never shown).
    bodies: BTreeMap<String, Value>,
    /// Preflight's warnings: the start's, and the proof's when the run continues.
    pub warnings: Vec<String>,
}

impl Prepared {
    /// Runs the targets until each ends, pauses at its `until`, or `cancel` fires. The lock is
    /// released after.
    pub async fn execute(self, progress: mpsc::UnboundedSender<Progress>, cancel: CancellationToken) -> RunReport {
        self.run.execute(self.targets, self.bodies, progress, cancel).await
    }
}

impl Run {
    pub fn id(&self) -> &str {
        &self.state.run
    }

    /// Continues the run: the create bodies (`bodies`), proof again against the account as it is
    /// now unless the run was started from a proposal just now (`prove`), and the pools with work
    /// left of `only` (all when empty) with where each stops (`targets`).
    pub async fn prepare(
        mut self,
        definition: Option<&Definition>,
        source: Option<BodySource>,
        only: &[String],
        until: Until,
    ) -> Result<Prepared, String> {
        let bodies = self.bodies(definition, source)?;
        let mut warnings = self.warnings.clone();
        if !self.proved {
            warnings.extend(self.prove(&bodies).await?);
        }
        let targets = self.targets(only, until);
        Ok(Prepared { run: self, targets, bodies, warnings })
    }

    /// Pools with work left (those of `only`, or all when it is empty), each where it resumes.
    pub fn targets(&self, only: &[String], until: Until) -> Vec<PoolTarget> {
        self.state
            .pending()
            .into_iter()
            .filter(|(id, _)| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(id)))
            .map(|(id, start_at)| {
                let pool = self.state.pool(&id);
                let one_batch = until == Until::OneStep;
                let until = match until {
                    Until::End => None,
                    Until::After(step) => Some(step),
                    Until::OneStep => Some(start_at),
                };
                let create_sent = pool.create_sent();
                PoolTarget {
                    id,
                    strategy: pool.strategy,
                    start_at,
                    until,
                    etag: pool.etag,
                    backup: pool.backup,
                    create_sent,
                    nodes: pool.nodes,
                    one_batch,
                }
            })
            .collect()
    }

    /// The create body of every pool with work left. Where the definition in use differs from the
    /// record, `source` must say which to use; a pool that cannot get a body is refused, so
    /// nothing is ever deleted without one.
    fn bodies(
        &self,
        definition: Option<&Definition>,
        source: Option<BodySource>,
    ) -> Result<BTreeMap<String, Value>, String> {
        let differences = differences(&self.state, definition);
        let changed: Vec<String> =
            differences.iter().filter_map(|(id, d)| d.describe().map(|d| format!("  {id}: {d}"))).collect();
        let source = match source {
            Some(source) => source,
            None if changed.is_empty() => BodySource::Journal,
            None => {
                return Err(format!(
                    "the definition in use ({}) differs from what run {} recorded:\n{}\nChoose: --create-from journal \
                     (create what was validated when the run started) or --create-from definition (the file in use); \
                     nothing was changed",
                    definition.map(|d| d.source.as_str()).unwrap_or("none"),
                    self.id(),
                    changed.join("\n")
                ));
            }
        };
        let mut bodies = BTreeMap::new();
        let mut problems = Vec::new();
        let mut strategies = Vec::new();
        let unset = |id: &str| definition.map(|d| d.unset_env_of(id)).unwrap_or_default();
        // A heal or refresh creates and patches nothing: its record (the pool as it was) is all it carries.
        let recorded_only = |id: &String| !self.state.pool(id).strategy.needs_definition();
        for (id, _) in self.state.pending().into_iter().filter(|(id, _)| recorded_only(id)) {
            let recorded = &self.state.target(&id).expect("pending pools are targets").body;
            bodies.insert(id.to_lowercase(), recorded.clone());
        }
        for (id, difference) in differences {
            let current = definition.and_then(|d| d.pool(&id)).map(|p| &p.body);
            let body = match source {
                BodySource::Journal => {
                    let recorded = &self.state.target(&id).expect("pending pools are targets").body;
                    sealed::unseal(recorded, current).map_err(|missing| {
                        missing.into_iter().map(|m| format!("  {id}: {m}")).collect::<Vec<_>>().join("\n")
                    })
                }
                BodySource::Definition => match (difference, current) {
                    (BodyDifference::Missing, _) | (_, None) => Err(format!(
                        "  {id}: not in {}",
                        definition.map(|d| d.source.as_str()).unwrap_or("any definition")
                    )),
                    (_, Some(_)) if !unset(&id).is_empty() => Err(format!(
                        "  {id}: environment variable(s) {} not set (the definition in use reads them with env())",
                        unset(&id).join(", ")
                    )),
                    (_, Some(body)) => Ok(body.clone()),
                },
            };
            match body {
                Ok(body) => {
                    bodies.insert(id.to_lowercase(), body);
                }
                Err(problem) => {
                    problems.push(problem);
                    strategies.push(self.state.pool(&id).strategy);
                }
            }
        }
        if problems.is_empty() {
            return Ok(bodies);
        }
        // Only a recreation deletes; a rebuild or an in-place change would patch with the body.
        let lacks = if strategies.iter().all(|s| *s == Strategy::Recreate) {
            "cannot create every pool it would delete"
        } else if strategies.contains(&Strategy::Recreate) {
            "cannot create or patch every pool it would change"
        } else {
            "lacks the definition to patch every pool it would change"
        };
        Err(format!("run {} {lacks}:\n{}\nNothing was changed.", self.id(), problems.join("\n")))
    }

    /// Preflight again before a run continues: the bodies it will create (recorded or from the
    /// definition in use) against the account as it is now, for every pool not created yet. All
    /// problems at once; the warnings when there are none (and the probes' verdicts in `probes`).
    async fn prove(&mut self, bodies: &BTreeMap<String, Value>) -> Result<Vec<String>, String> {
        let pools: Vec<crate::definition::PoolDefinition> = self
            .state
            .pending()
            .into_iter()
            .filter(|(id, at)| *at <= Step::Create && self.state.pool(id).strategy.needs_definition())
            .filter_map(|(id, _)| {
                let body = bodies.get(&id.to_lowercase())?.clone();
                let sealed = self.state.target(&id).map(|t| t.body.clone()).unwrap_or_else(|| body.clone());
                Some(crate::definition::PoolDefinition { id, body, sealed })
            })
            .collect();
        if pools.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = pools.iter().map(|p| p.id.clone()).collect();
        let kept = strategy::kept(ids.iter().map(|id| (id, self.state.pool(id).strategy)));
        let definition = Definition::of_pools(format!("run {}", self.id()), pools);
        let mut findings = self.workspace.preflight(&definition, &ids, &kept).await?;
        let chosen: Vec<&crate::definition::PoolDefinition> =
            definition.pools.iter().filter(|p| !kept.contains(&p.id)).collect();
        self.probes = self.workspace.probe(&chosen, &mut findings).await;
        if findings.problems.is_empty() {
            Ok(findings.warnings)
        } else {
            Err(findings.refusal(&format!("preflight of run {}", self.id())))
        }
    }

    /// Runs `targets` with their `bodies` (see `Prepared::execute`).
    async fn execute(
        self,
        targets: Vec<PoolTarget>,
        bodies: BTreeMap<String, Value>,
        progress: mpsc::UnboundedSender<Progress>,
        cancel: CancellationToken,
    ) -> RunReport {
        let w = &self.workspace;
        let mut policy = w.policy.clone();
        // Canaries already recreated count; a step-through or `--until` has no canary (no pool
        // goes all the way to healthy in it).
        let recreated = (self.state.targets.iter())
            .filter(|t| self.state.pool(&t.pool).status.is_some_and(PoolStatus::is_done))
            .count();
        let whole = targets.iter().all(|t| t.until.is_none());
        policy.canary = if whole { policy.canary.saturating_sub(recreated) } else { 0 };
        // Pools of this run left between drain and healthy by an earlier execution count too.
        let unavailable = self
            .state
            .pending()
            .into_iter()
            .filter(|(id, at)| {
                self.state.pool(id).strategy.is_unavailable(*at)
                    && !targets.iter().any(|t| t.id.eq_ignore_ascii_case(id))
            })
            .count();
        let config = EngineConfig {
            account: w.account.clone(),
            api_version: w.api_version,
            policy,
            backup_dir: w.backup_dir(),
            unavailable,
        };
        let bodies = bodies
            .into_iter()
            .map(|(id, clear)| {
                let target = self.state.target(&id);
                let sealed = target.map(|t| t.body.clone()).unwrap_or_else(|| clear.clone());
                let before = target.and_then(|t| t.backup.as_deref()).map(|b| pre_run(b, w.api_version));
                (id, CreateBody { clear, sealed, before })
            })
            .collect();
        let engine = Engine::new(w.client.clone(), Arc::new(bodies), config, w.snapshots.clone(), progress, cancel);
        let mut report = engine.run(&self.state.run, self.journal.clone(), targets).await;
        for pool in &mut report.pools {
            pool.backup = self.state.target(&pool.id).and_then(|t| t.backup.clone());
            pool.probe = self.probes.iter().find(|(id, _)| id.eq_ignore_ascii_case(&pool.id)).map(|(_, p)| p.clone());
        }
        if let Some(failure) = self.journal.failure() {
            self.explain_journal_failure(failure, &mut report);
        }
        report
    }

    /// A journal that could not be written stops every pool; one stopped between delete and
    /// create must say it is gone and how it comes back (the journal on disk says where it is).
    fn explain_journal_failure(&self, failure: &std::io::Error, report: &mut RunReport) {
        let Ok(on_disk) = journal::read(&self.journal.path) else { return };
        let dir = self.workspace.data_dir.display();
        let when = match failure.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                format!("once {dir} has space again")
            }
            _ => format!("once {dir} can be written again"),
        };
        for pool in report.pools.iter_mut().filter(|p| p.status.is_done()) {
            pool.warnings.push(format!(
                "the journal could not record that this pool is done ({failure}): `repool runs` shows run {} \
                 unfinished; {when}, `repool resume {}` checks it again and closes the run",
                self.id(),
                self.id()
            ));
        }
        for pool in report.pools.iter_mut().filter(|p| !p.status.is_done()) {
            if on_disk.pool(&pool.id).is_between_delete_and_create() {
                let why = pool.error.take().unwrap_or_else(|| format!("cannot write the journal: {failure}"));
                pool.error = Some(format!(
                    "{why}. Pool '{}' is deleted and not yet recreated: {when}, `repool resume {}` recreates it",
                    pool.id,
                    self.id()
                ));
            }
        }
    }

    /// Closes the run without touching its pools, but one: a roll or refresh stopped midway gives
    /// each of its pools the capacity of its pre-run backup back (the autoscale formula it held
    /// off; a refresh, the targets without the surge), so an abandoned one never leaves a pool
    /// without them. Returns what was given back, a line per pool; if that fails, the run stays open.
    pub async fn abandon(self) -> Result<Vec<String>, String> {
        let mut given_back = Vec::new();
        for (id, at) in self.state.pending() {
            let Some(target) = self.state.target(&id).filter(|t| t.strategy.rolls_nodes()) else { continue };
            // Past its scale, the pool has the capacity the run gives it (a roll: its definition's).
            if matches!(at, Step::WaitReady | Step::WaitHealthy) {
                continue;
            }
            let Some(path) = &target.backup else { continue };
            let before = pre_run(path, self.workspace.api_version);
            let client = &self.workspace.client;
            let pool = match client.get_pool(&id, None).await {
                Ok(pool) if pool.creation_time.is_some() && pool.creation_time == before.created => pool,
                // Gone, or another pool under its id: nothing of this run's to give back.
                Ok(_) => continue,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(format!("{id}: {e}; the run is not abandoned")),
            };
            let sent = match before.capacity {
                Some(Capacity::Auto { formula, interval }) if !pool.autoscale() => {
                    let request = EnableAutoScaleRequest {
                        auto_scale_formula: Some(formula),
                        auto_scale_evaluation_interval: interval,
                    };
                    client.enable_autoscale(&id, &request).await.map(|()| "autoscale enabled again with its formula")
                }
                // Only a refresh raises fixed targets (its surge); a roll's are the definition's.
                Some(Capacity::Fixed { dedicated, low_priority, .. })
                    if target.strategy == Strategy::Refresh
                        && !pool.autoscale()
                        && (pool.target_dedicated_nodes.unwrap_or(0) > dedicated
                            || pool.target_low_priority_nodes.unwrap_or(0) > low_priority) =>
                {
                    let resize = ResizeRequest {
                        target_dedicated_nodes: Some(dedicated),
                        target_low_priority_nodes: Some(low_priority),
                        resize_timeout: None,
                        node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
                    };
                    client.resize_pool(&id, &resize).await.map(|()| "the surge given back (its targets as before)")
                }
                _ => continue,
            };
            let done = sent.map_err(|e| {
                format!(
                    "{id}: cannot give its capacity back ({e}); the run is not abandoned: `repool resume` finishes it"
                )
            })?;
            given_back.push(format!("{id}: {done}"));
        }
        let finished = Record::RunFinished { status: RunStatus::Abandoned };
        self.journal.append(finished).await.map_err(|e| format!("cannot write the journal: {e}"))?;
        Ok(given_back)
    }
}

/// A pre-run backup as the add body a rollback sends (or why it cannot), the original pool's
/// creation time and capacity.
fn pre_run(path: &str, api_version: ApiVersion) -> PreRun {
    let backup: Result<Value, String> = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the backup {path}: {e}"))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("the backup {path} is not JSON: {e}")));
    let created = backup.as_ref().ok().and_then(|b| b["creationTime"].as_str()?.parse().ok());
    let capacity = backup.as_ref().ok().map(crate::rollout::update::Capacity::of);
    let count = |b: &Value, key: &str| b[key].as_u64().unwrap_or(0) as u32;
    let targets = backup.as_ref().ok().map(|b| (count(b, "targetDedicatedNodes"), count(b, "targetLowPriorityNodes")));
    let body = backup.and_then(|backup| {
        let (body, mut missing) = crate::definition::add_body::body_from_backup(&backup, api_version)?;
        let resolved = sealed::unseal(&body, None).map_err(|unresolved| missing.extend(unresolved));
        match resolved {
            Ok(body) if missing.is_empty() => Ok(body),
            _ => Err(format!(
                "the backup {path} lacks secrets the service never returns ({}); restore it by hand with \
                 `repool restore --pool ID --secret PATH=ENV_VAR`",
                missing.join(", ")
            )),
        }
    });
    PreRun { body, created, capacity, targets }
}
