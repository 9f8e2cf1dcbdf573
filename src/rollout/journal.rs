//! The run journal: `journal/<run-id>.jsonl`, append-only JSON lines, so a crash at any instant
//! leaves a record `resume` can continue from. Readable with `jq`. Records are typed: a run's
//! targets with their sealed create bodies and pre-run backups, step transitions, outcomes.

use super::batches::{NodeAct, NodeHistory};
use super::policy::RunChoices;
use super::report::{PoolStatus, RunStatus};
use super::step::Step;
use super::strategy::Strategy;
use crate::named::named_enum;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

named_enum! {
    /// How a step that did not fail ended.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum StepOutcome {
        Ok = "ok",
        Skipped = "skipped",
    }
}

/// One pool a run was started for: exactly what the operator chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub pool: String,
    /// The validated create body, secrets as references (`definition::sealed`).
    pub body: serde_json::Value,
    /// The pool as it was before the run touched it; None when it did not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// How the run changes it (`apply` chooses; journals of older versions: recreate).
    #[serde(default, skip_serializing_if = "is_recreate")]
    pub strategy: Strategy,
}

fn is_recreate(strategy: &Strategy) -> bool {
    *strategy == Strategy::Recreate
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    RunStarted {
        run: String,
        /// The canonical account (`rollout::account`), for the lock and for finding the run again.
        account: String,
        endpoint: String,
        /// The definition's absolute path and digest when the run started.
        definition: String,
        digest: String,
        targets: Vec<TargetRecord>,
        /// Canary, bound, rollback, accepted losses (absent in journals of older versions).
        #[serde(default)]
        choices: RunChoices,
    },
    StepStarted {
        pool: String,
        step: Step,
    },
    StepFinished {
        pool: String,
        step: Step,
        outcome: StepOutcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// The ETag the next step must still see (after draining / at backup).
        #[serde(skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        /// The pre-delete snapshot (the ETag guard's evidence).
        #[serde(skip_serializing_if = "Option::is_none")]
        backup: Option<String>,
    },
    /// The pool's nodes when a node-batch step first looked (heal, roll, refresh): only these
    /// are acted on; its targets then (dedicated, low-priority) are what removals are sized back to.
    NodesFound {
        pool: String,
        nodes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        targets: Option<(u32, u32)>,
    },
    /// A batch of nodes and what is done to each, on disk before any of them is touched.
    NodeBatch {
        pool: String,
        nodes: Vec<NodeAct>,
    },
    PoolFinished {
        pool: String,
        status: PoolStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RunFinished {
        status: RunStatus,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Line {
    pub ts: jiff::Timestamp,
    #[serde(flatten)]
    pub record: Record,
}

type Ack = tokio::sync::oneshot::Sender<std::io::Result<()>>;

/// Appends records through one writer thread, in order. Records that arrive together share one
/// write and one fsync (group commit), so 200 pools journaling at once cost a few fsyncs, not 200.
/// `append` resumes once its record (and so every earlier one) is on disk; `queue` does not wait.
/// After a failed write every later record fails too, so a lost queued record is never hidden.
#[derive(Clone)]
pub struct Journal {
    pub path: PathBuf,
    tx: std::sync::mpsc::Sender<(String, Option<Ack>)>,
    /// The first failed write, once there was one.
    failed: Arc<OnceLock<std::io::Error>>,
}

impl Journal {
    /// The run this journal records (its file is `<run>.jsonl`).
    pub fn run_id(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Creates (or reopens for resume) `dir/<run>.jsonl`. A torn last line (a crash mid-write) is
    /// terminated first, so the next record starts on a line of its own.
    pub fn open(dir: &Path, run: &str) -> std::io::Result<Journal> {
        crate::files::private_dir_below(dir.parent().unwrap_or(dir), dir)?;
        let path = dir.join(format!("{run}.jsonl"));
        let mut file = crate::files::private_options().read(true).append(true).open(&path)?;
        if file.seek(SeekFrom::End(0))? > 0 {
            file.seek(SeekFrom::End(-1))?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                file.sync_data()?;
            }
        }
        let (tx, rx) = std::sync::mpsc::channel::<(String, Option<Ack>)>();
        let failed = Arc::new(OnceLock::new());
        let failure = failed.clone();
        std::thread::Builder::new().name("journal".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                if failure.get().is_none() {
                    let text: String = batch.iter().map(|(line, _)| line.as_str()).collect();
                    if let Err(e) = file.write_all(text.as_bytes()).and_then(|_| file.sync_data()) {
                        let _ = failure.set(e);
                    }
                }
                for ack in batch.into_iter().filter_map(|(_, ack)| ack) {
                    let _ = ack.send(match failure.get() {
                        None => Ok(()),
                        Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                    });
                }
            }
        })?;
        Ok(Journal { path, tx, failed })
    }

    /// Why the journal stopped taking records, if it did (a full or read-only disk).
    pub fn failure(&self) -> Option<&std::io::Error> {
        self.failed.get()
    }

    /// Appends one record; returns once it is fsynced.
    pub async fn append(&self, record: Record) -> std::io::Result<()> {
        let (ack, done) = tokio::sync::oneshot::channel();
        self.send(record, Some(ack))?;
        done.await.map_err(|_| std::io::Error::other("the journal writer stopped"))?
    }

    /// Queues one record behind the others without waiting for the disk: for records a resume
    /// does not need (it redoes an idempotent step), written before any later `append` returns.
    pub fn queue(&self, record: Record) -> std::io::Result<()> {
        self.send(record, None)
    }

    fn send(&self, record: Record, ack: Option<Ack>) -> std::io::Result<()> {
        let line = Line { ts: jiff::Timestamp::now(), record };
        let mut text = serde_json::to_string(&line).map_err(std::io::Error::other)?;
        text.push('\n');
        self.tx.send((text, ack)).map_err(|_| std::io::Error::other("the journal writer stopped"))
    }
}

/// What a journal says about a run.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    /// The run's one identity: its journal's file name (what `resume` and `abandon` open).
    pub run: String,
    pub path: PathBuf,
    /// The run id the run-started record gives when it is not the file name (an edited journal).
    pub recorded_id: Option<String>,
    /// Lines (from 1) that are no record: torn by a crash, damaged or edited.
    pub unreadable: Vec<usize>,
    /// Records read.
    pub records: usize,
    pub account: String,
    pub endpoint: String,
    pub definition: String,
    pub digest: String,
    pub started: Option<jiff::Timestamp>,
    pub targets: Vec<TargetRecord>,
    pub choices: RunChoices,
    /// The last run-finished record; a later step record means the run was resumed since.
    pub finished: Option<RunStatus>,
    /// Keyed by the pool id as the run's targets spell it.
    pub per_pool: BTreeMap<String, PoolProgress>,
    /// Lower-cased target id → its place in `targets`: a run of a thousand pools looks each up
    /// by id many times.
    target_at: HashMap<String, usize>,
}

/// Where one pool of a run stands, as its journal says (not the service's `batch::PoolState`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolProgress {
    /// Its target's strategy: which chain its steps follow.
    pub strategy: Strategy,
    pub last_finished: Option<Step>,
    /// A step that started and never finished (the crash happened in it).
    pub in_flight: Option<Step>,
    pub etag: Option<String>,
    pub backup: Option<String>,
    pub status: Option<PoolStatus>,
    pub error: Option<String>,
    /// The node batches of a node-batch step (heal).
    pub nodes: NodeHistory,
}

impl RunState {
    /// The target record of `id` (ids compare ignoring case, as Batch does).
    pub fn target(&self, id: &str) -> Option<&TargetRecord> {
        self.target_at.get(&id.to_lowercase()).map(|&i| &self.targets[i])
    }

    pub fn pool(&self, id: &str) -> PoolProgress {
        let target = self.target(id);
        let key = target.map_or(id, |t| t.pool.as_str());
        let mut state = self.per_pool.get(key).cloned().unwrap_or_default();
        state.strategy = target.map(|t| t.strategy).unwrap_or_default();
        state
    }

    /// Every pool done (or the run abandoned): nothing left to resume.
    pub fn is_closed(&self) -> bool {
        matches!(self.finished, Some(RunStatus::Done | RunStatus::Abandoned))
    }

    /// Pools with work left, each with the step it resumes at.
    pub fn pending(&self) -> Vec<(String, Step)> {
        if self.finished == Some(RunStatus::Abandoned) {
            return Vec::new();
        }
        self.targets
            .iter()
            .filter_map(|t| {
                let pool = self.pool(&t.pool);
                let at = pool.resume_at().filter(|_| !pool.status.is_some_and(PoolStatus::is_done))?;
                Some((t.pool.clone(), at))
            })
            .collect()
    }

    /// Pools this run has begun and not finished: no other run may take them. Where lines of an
    /// open run cannot be read, any target not known to be done may have begun in them.
    pub fn held_pools(&self) -> Vec<String> {
        if self.is_closed() {
            return Vec::new();
        }
        let damaged = !self.unreadable.is_empty();
        self.targets
            .iter()
            .filter(|t| {
                let pool = self.pool(&t.pool);
                (damaged || pool.last_finished.or(pool.in_flight).is_some())
                    && !pool.status.is_some_and(PoolStatus::is_done)
            })
            .map(|t| t.pool.clone())
            .collect()
    }

    /// The run-started record was read: the run's account, targets and bodies are known.
    pub fn has_start(&self) -> bool {
        self.started.is_some()
    }

    /// The run-started record is unreadable, the run is open and went past its first line, so
    /// which account and pools it holds cannot be known. (A lone torn first line is a run that
    /// never started: nothing acts before that line is on disk.)
    pub fn holds_unknown_pools(&self) -> bool {
        !self.has_start() && !self.is_closed() && (self.records > 0 || self.unreadable.len() > 1)
    }

    /// The pools the journal names: its targets, or the pools of its step records when the
    /// run-started record is unreadable.
    pub fn pool_ids(&self) -> Vec<String> {
        if self.has_start() {
            self.targets.iter().map(|t| t.pool.clone()).collect()
        } else {
            self.per_pool.keys().cloned().collect()
        }
    }

    /// What the operator must know about this journal's damage or edits, one line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let file = self.path.display();
        if !self.unreadable.is_empty() {
            let lines: Vec<String> = self.unreadable.iter().map(usize::to_string).collect();
            let consequence = if self.holds_unknown_pools() {
                format!(
                    "its run-started record is lost, so which account and pools run {} holds is unknown and no new \
                     run starts until it is dealt with (`repool runs` shows the pools it names; restore any that is \
                     missing with `repool restore --pool ID`, then `repool abandon {}`)",
                    self.run, self.run
                )
            } else if self.is_closed() {
                "the run is closed".to_string()
            } else if !self.has_start() {
                "nothing else was recorded: the run never started".to_string()
            } else {
                format!(
                    "what they recorded is unknown, so every pool of run {} not yet done stays held by it",
                    self.run
                )
            };
            warnings.push(format!(
                "journal {file}: line(s) {} cannot be read (torn or damaged); {consequence}",
                lines.join(", ")
            ));
        }
        if let Some(recorded) = &self.recorded_id {
            warnings.push(format!(
                "journal {file}: its run-started record names run {recorded}, its file name run {}; repool knows \
                 the run by its file name",
                self.run
            ));
        }
        warnings
    }
}

impl PoolProgress {
    /// Whether this run has sent its create for the pool (its intent is journaled before the
    /// call): only then can a pool under its id be the run's own.
    pub fn create_sent(&self) -> bool {
        self.in_flight == Some(Step::Create) || self.last_finished.is_some_and(|s| s >= Step::Create)
    }

    /// Where a resumed run continues: the step in flight, else the one after the last finished.
    pub fn resume_at(&self) -> Option<Step> {
        match (self.in_flight, self.last_finished) {
            (Some(step), _) => Some(step),
            (None, Some(done)) => self.strategy.next(done),
            (None, None) => Some(self.strategy.first()),
        }
    }

    /// Deleted (or being deleted) and not yet created again: the state that must never be left.
    /// A rollback deletes the new pool and creates the old one: the same window, once more.
    pub fn is_between_delete_and_create(&self) -> bool {
        if self.strategy != Strategy::Recreate {
            // Rebuilt or changed in place: the pool is never deleted.
            return false;
        }
        let reached = self.in_flight.or(self.last_finished);
        if reached.is_some_and(Step::is_rollback) {
            return self.last_finished.is_none_or(|s| !s.is_rollback() || s < Step::RollbackCreate);
        }
        reached.is_some_and(|s| s >= Step::Delete) && self.last_finished.is_none_or(|s| s < Step::Create)
    }

    /// "paused after wait-drained", "interrupted in delete", "recreated": for lists.
    pub fn describe(&self) -> String {
        let status = self.status.map(|s| s.name()).unwrap_or("interrupted");
        match (self.in_flight, self.last_finished) {
            _ if self.status.is_some_and(PoolStatus::is_done) => status.to_string(),
            (Some(step), _) => format!("{status} in {step}"),
            (None, Some(step)) => format!("{status} after {step}"),
            (None, None) => "not started".to_string(),
        }
    }
}

/// Reads what can be read: each line on its own (bytes that are not UTF-8 replaced), lines that
/// are no record counted in `unreadable`, never the whole file refused for one of them.
pub fn read(path: &Path) -> std::io::Result<RunState> {
    let run = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut state = RunState { run, path: path.to_path_buf(), ..Default::default() };
    for (n, line) in BufReader::new(File::open(path)?).split(b'\n').enumerate() {
        let line = String::from_utf8_lossy(&line?).into_owned();
        if line.trim().is_empty() {
            continue;
        }
        // A crash can leave a torn line; everything before it is intact.
        let Ok(line) = serde_json::from_str::<Line>(&line) else {
            state.unreadable.push(n + 1);
            continue;
        };
        state.records += 1;
        match line.record {
            Record::RunStarted { run, account, endpoint, definition, digest, targets, choices } => {
                state.choices = choices;
                state.recorded_id = Some(run).filter(|r| *r != state.run);
                state.account = account;
                state.endpoint = endpoint;
                state.definition = definition;
                state.digest = digest;
                state.started = Some(line.ts);
                state.target_at = HashMap::new();
                for (i, t) in targets.iter().enumerate() {
                    state.target_at.entry(t.pool.to_lowercase()).or_insert(i);
                }
                state.targets = targets;
            }
            Record::StepStarted { pool, step } => {
                state.finished = None;
                let p = state.per_pool.entry(pool).or_default();
                p.in_flight = Some(step);
                p.status = None;
            }
            Record::StepFinished { pool, step, etag, backup, .. } => {
                let p = state.per_pool.entry(pool).or_default();
                p.in_flight = None;
                p.last_finished = Some(step);
                if etag.is_some() {
                    p.etag = etag;
                }
                if backup.is_some() {
                    p.backup = backup;
                }
            }
            Record::NodesFound { pool, nodes, targets } => {
                let history = &mut state.per_pool.entry(pool).or_default().nodes;
                history.found = Some(nodes);
                history.targets = targets;
            }
            Record::NodeBatch { pool, nodes } => state.per_pool.entry(pool).or_default().nodes.batches.push(nodes),
            Record::PoolFinished { pool, status, error } => {
                let p = state.per_pool.entry(pool).or_default();
                p.status = Some(status);
                p.error = error;
            }
            Record::RunFinished { status } => state.finished = Some(status),
        }
    }
    // A crash after a chain's last step and before its pool-finished record: the chain says how
    // the pool ended.
    for (id, p) in state.per_pool.iter_mut() {
        let target = state.target_at.get(&id.to_lowercase()).map(|&i| &state.targets[i]);
        p.strategy = target.filter(|t| t.pool == *id).map(|t| t.strategy).unwrap_or_default();
        if p.status.is_some() || p.in_flight.is_some() {
            continue;
        }
        let last = p.last_finished;
        p.status = match last {
            Some(Step::RollbackWaitReady) => Some(PoolStatus::RolledBack),
            Some(step) if p.strategy.next(step).is_none() && p.strategy.chain().contains(&step) => {
                Some(p.strategy.done())
            }
            _ => None,
        };
    }
    Ok(state)
}

/// Journals in `dir`, newest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.reverse();
    files
}

/// A new run id: UTC time to the millisecond (sortable), plus a short random suffix.
pub fn new_run_id() -> String {
    format!("{}-{:04x}", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ"), fastrand::u16(..))
}

#[cfg(test)]
mod tests;
