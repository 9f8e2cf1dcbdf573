//! The one run API. The dashboard, `recreate`, `resume`, `abandon`, `restore --pool`, `bench`
//! and the tests start, step, resume and close runs only through it; none assembles engine,
//! journal and lock itself.
//!
//! A new run is proposed (`Workspace::propose`: one read of the account, the plan, the strategies,
//! preflight), shown and confirmed by the front end, then started (`Proposal::start`). A run is
//! continued by `Run::prepare` (bodies, proof again where the run continues, targets), shown, then
//! executed (`Prepared::execute`).
//!
//! A run records exactly its targets, each with the create body it will use (validated, secrets
//! as references) and a backup of the pool as it was before the run touched it. Resume creates
//! what was recorded unless the operator chooses the definition in use; a pool that cannot be
//! created is refused before any step runs. Every pool belongs to at most one unfinished run, and
//! at most one run acts on an account at a time.

mod compare;
mod execution;
mod heal;
mod proposal;
mod waits;

pub use compare::{BodyDifference, differences};
pub use execution::{Prepared, Run};
pub use proposal::Proposal;
pub use waits::DrainWaits;

use super::account::AccountId;
use super::backup::{self, BackupKind};
use super::engine::{CreateBody, Engine, EngineConfig, PoolTarget, PreRun, Progress};
use super::journal::{self, Journal, Record, RunState, TargetRecord};
use super::lock::RunLock;
use super::policy::{RunChoices, RunPolicy};
use super::preflight::{self, Findings, PreflightPolicy};
use super::probe::{self, ProbeReport};
use super::report::{PoolStatus, RunReport, RunStatus};
use super::snapshots::{Pace, Snapshots};
use super::step::Step;
use super::strategy::{self, Strategy};
use crate::batch::{ApiVersion, BatchClient, Pool};
use crate::config::layout;
use crate::definition::Definition;
use crate::definition::sealed;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One account and where repool keeps its files for it: what every run acts through.
#[derive(Clone)]
pub struct Workspace {
    pub client: BatchClient,
    pub account: AccountId,
    pub api_version: ApiVersion,
    pub policy: RunPolicy,
    pub data_dir: PathBuf,
    /// Shared by every wait of every run (and by the dashboard's table).
    pub snapshots: Arc<Snapshots>,
    pub preflight: PreflightPolicy,
}

/// Why a run did not start. When the only problems are live properties the new pools would lack,
/// `losses` names them (pool, property): what the operator may accept (`--accept-loss`).
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    pub losses: Vec<(String, String)>,
}

impl From<String> for Refusal {
    fn from(message: String) -> Refusal {
        Refusal { message, losses: Vec::new() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// Where resume takes the create bodies from when the definition differs from the run's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodySource {
    /// What was validated when the run started (the journal).
    Journal,
    /// The definition in use, validated now.
    Definition,
}

impl std::str::FromStr for BodySource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "journal" => Ok(BodySource::Journal),
            "definition" => Ok(BodySource::Definition),
            other => Err(format!("'{other}': use journal (what the run recorded) or definition (the file in use)")),
        }
    }
}

impl Workspace {
    pub fn new(client: BatchClient, api_version: ApiVersion, policy: RunPolicy, data_dir: PathBuf) -> Workspace {
        let account = AccountId::from_endpoint(client.endpoint());
        let snapshots =
            Snapshots::new(client.clone(), Pace { interval: policy.poll_interval, fast: policy.fast_poll_interval });
        let preflight = PreflightPolicy::default();
        Workspace { client, account, api_version, policy, data_dir, snapshots, preflight }
    }

    pub fn journal_dir(&self) -> PathBuf {
        layout::journal(&self.data_dir)
    }

    pub fn backup_dir(&self) -> PathBuf {
        layout::backups(&self.data_dir)
    }

    fn lock_dir(&self) -> PathBuf {
        layout::locks(&self.data_dir)
    }

    /// Preflight of `ids` against the account as it is now (one list of pools, one of images).
    /// `kept`: pools changed without recreating (their live properties stay).
    async fn preflight(&self, definition: &Definition, ids: &[String], kept: &[String]) -> Result<Findings, String> {
        let live = self.client.list_pools_confirming(ids).await.map_err(|e| format!("preflight: {e}"))?;
        self.preflight_against(definition, ids, &live, kept).await
    }

    /// Preflight of `ids` against pools the caller just listed (one list of images).
    async fn preflight_against(
        &self,
        definition: &Definition,
        ids: &[String],
        live: &[Pool],
        kept: &[String],
    ) -> Result<Findings, String> {
        let images = self.client.list_supported_images().await.map_err(|e| {
            format!("preflight: cannot list the images the account supports ({e}); nothing was changed")
        })?;
        let now = jiff::Timestamp::now();
        let seen = preflight::Seen { live, images: &images, now };
        Ok(preflight::check(definition, ids, &seen, self.api_version, &self.preflight, kept))
    }

    /// Deletes probes a crash left behind, then (with `--probe`, when preflight found nothing) lets
    /// the service judge each body; what it refuses joins `findings`. Each pool's verdict, by id.
    async fn probe(
        &self,
        pools: &[&crate::definition::PoolDefinition],
        findings: &mut Findings,
    ) -> BTreeMap<String, ProbeReport> {
        let ledger = probe::Ledger::new(&layout::probes(&self.data_dir), &self.account.file_name());
        findings.problems.extend(probe::sweep(&self.client, &ledger).await);
        let mut verdicts = BTreeMap::new();
        if self.policy.probe && findings.problems.is_empty() {
            for pool in pools {
                let verdict = probe::probe(&self.client, &ledger, &pool.id, &pool.body).await;
                if !verdict.accepted {
                    findings.problems.push(format!("pool '{}': probe: {}", pool.id, verdict.detail));
                }
                verdicts.insert(pool.id.clone(), verdict);
            }
        }
        verdicts
    }

    /// The account's lock for a change made outside a run (`restore`).
    pub fn exclusive(&self, holder: &str) -> Result<RunLock, String> {
        RunLock::acquire(&self.lock_dir(), &self.account, holder)
    }

    /// The runs journaled for this account, newest (by start) first; a journal whose run-started
    /// record is unreadable may be this account's, so it is listed too (after the others).
    pub fn runs(&self) -> Vec<RunState> {
        let mut runs: Vec<RunState> = journal::list(&self.journal_dir())
            .iter()
            .filter_map(|p| journal::read(p).ok())
            .filter(|s| match s.has_start() {
                true => AccountId::parse(&s.account) == self.account,
                // An empty file: a run that never wrote its first line.
                false => s.records > 0 || !s.unreadable.is_empty(),
            })
            .collect();
        runs.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.run.cmp(&a.run)));
        runs
    }

    /// What is damaged or edited in this account's journals, one line each (for every command
    /// that reads runs to say before it acts).
    pub fn journal_warnings(&self) -> Vec<String> {
        // A closed run's damage holds nothing: `repool runs` still names it, other commands do not.
        self.runs().iter().filter(|r| !r.is_closed()).flat_map(RunState::warnings).collect()
    }

    /// Runs of this account with work left, newest first.
    pub fn unfinished_runs(&self) -> Vec<RunState> {
        self.runs().into_iter().filter(super::report::is_resumable).collect()
    }

    /// Opens an unfinished run of this account to continue it (takes the lock).
    pub fn open(&self, run_id: &str) -> Result<Run, String> {
        let run = self.open_any(run_id)?;
        let state = &run.state;
        if !state.has_start() {
            return Err(format!(
                "journal {}: the run-started record cannot be read, so run {run_id}'s pools and create bodies \
                 are unknown and it cannot be resumed; restore any pool it deleted (`repool restore --pool ID`), \
                 then `repool abandon {run_id}`",
                state.path.display()
            ));
        }
        if state.targets.is_empty() {
            return Err(format!(
                "run {run_id} was journaled by an older repool that recorded no create bodies; \
                 `repool abandon {run_id}`, then restore any missing pool with `repool restore`"
            ));
        }
        if state.finished == Some(RunStatus::Abandoned) {
            return Err(format!("run {run_id} was abandoned; start a new one"));
        }
        Ok(run)
    }

    /// Opens an unfinished run to go on with it (`resume`, the dashboard's continue): refused when
    /// a pool it has left to do is held by another unfinished run — one that took the pool after
    /// this run stopped before touching it — so two runs never act on one pool.
    pub fn open_to_continue(&self, run_id: &str) -> Result<Run, String> {
        let run = self.open(run_id)?;
        let others: Vec<RunState> = self.unfinished_runs().into_iter().filter(|r| r.run != run.state.run).collect();
        for (pool, _) in run.state.pending() {
            let holder = others.iter().find(|o| o.held_pools().iter().any(|h| h.eq_ignore_ascii_case(&pool)));
            if let Some(other) = holder {
                return Err(format!(
                    "pool '{pool}' is held by unfinished run {} ({}), which took it after run {run_id} stopped: \
                     resume that run (`repool resume {}`) or abandon it (`repool abandon {}`) first; nothing was changed",
                    other.run,
                    other.pool(&pool).describe(),
                    other.run,
                    other.run
                ));
            }
        }
        Ok(run)
    }

    /// Opens a run of this account whatever it recorded (takes the lock): what `abandon` needs.
    /// A journal whose run-started record is unreadable can be closed this way, which is how it
    /// stops holding pools no one can name.
    pub fn open_any(&self, run_id: &str) -> Result<Run, String> {
        let path = self.journal_dir().join(format!("{run_id}.jsonl"));
        if run_id.contains(['/', '\\']) || !path.exists() {
            return Err(format!("no run {run_id} in {}; `repool runs` lists them", self.journal_dir().display()));
        }
        let lock = RunLock::acquire(&self.lock_dir(), &self.account, run_id)?;
        let state = journal::read(&path).map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
        if state.has_start() && AccountId::parse(&state.account) != self.account {
            return Err(format!("run {run_id} belongs to account {}, not {}", state.account, self.account));
        }
        let journal =
            Journal::open(&self.journal_dir(), run_id).map_err(|e| format!("cannot open the journal: {e}"))?;
        // The run goes on as its operator chose when it started, whoever continues it.
        let mut workspace = self.clone();
        workspace.preflight.accept_loss = state.choices.apply(&mut workspace.policy);
        Ok(Run { workspace, state, journal, _lock: lock, warnings: Vec::new(), probes: BTreeMap::new(), proved: false })
    }

    /// The pre-run backup of `pool` from the newest run that touched it, and where it was found
    /// ("run ID"). When no readable journal names one (a journal's first line damaged), the newest
    /// pre-run backup filed under the pool.
    pub fn pre_run_backup(&self, pool: &str) -> Option<(String, PathBuf)> {
        let runs = self.runs();
        let journaled = runs.iter().find_map(|run| {
            let touched = run.per_pool.keys().any(|p| p.eq_ignore_ascii_case(pool));
            let backup = run.target(pool)?.backup.clone().filter(|_| touched)?;
            Some((format!("run {}", run.run), PathBuf::from(backup)))
        });
        let folder = backup::folder(&self.backup_dir(), &self.account.file_name(), pool);
        let newest_on_disk = std::fs::read_dir(&folder)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with("-pre-run.json"))
            .max();
        // A run whose run-started record is unreadable names no backup, yet may be the newest that
        // touched the pool: then the newest pre-run backup on disk (names sort by time) is its.
        let damaged = runs.iter().any(|r| !r.has_start() && r.per_pool.keys().any(|p| p.eq_ignore_ascii_case(pool)));
        let unnamed = "the newest run that backed it up (no readable journal names it)".to_string();
        match (journaled, newest_on_disk) {
            (Some((_, named)), Some(newest)) if damaged && newest.file_name() > named.file_name() => {
                Some((unnamed, newest))
            }
            (Some(journaled), _) => Some(journaled),
            (None, newest) => newest.map(|newest| (unnamed, newest)),
        }
    }
}

/// "pool 'ID' is not in FILE (did you mean …?); …", worded for what the run would do.
pub fn unknown_pool(definition: &Definition, id: &str, intent: Intent) -> String {
    let known: Vec<&str> = definition.pools.iter().map(|p| p.id.as_str()).collect();
    let only = match intent {
        Intent::Recreate => "repool recreates only pools the definition can create again",
        Intent::Apply => "apply changes only pools the definition describes",
        Intent::Heal => "heal acts only on pools in the account",
        Intent::Refresh => "refresh acts only on pools in the account",
    };
    format!("pool '{id}' is not in {}{}; {only}", definition.source, crate::definition::schema::suggest(id, &known))
}

/// What a new run is for: `recreate` (always a new pool), `apply` (the least disruptive way), or
/// `heal` (the pool's failed nodes back to healthy, the pool itself untouched), or `refresh`
/// (every node replaced a batch at a time, the pool itself untouched).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Intent {
    #[default]
    Recreate,
    Apply,
    Heal,
    Refresh,
}

/// Where the pools of an execution stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Recreated (or failed).
    End,
    /// Paused after this step (`--until`).
    After(Step),
    /// Each pool runs the one step it is at (the dashboard's step-through).
    OneStep,
}
