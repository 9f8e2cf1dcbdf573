//! The run journal: `journal/<run-id>.jsonl`, append-only, one fsynced JSON line per event, so a
//! crash at any instant leaves a record `resume` can continue from. Readable with `jq`.

use super::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    RunStarted {
        run: String,
        account: String,
        endpoint: String,
        pools: Vec<String>,
        definition: String,
        digest: String,
    },
    StepStarted {
        pool: String,
        step: Step,
    },
    StepFinished {
        pool: String,
        step: Step,
        /// ok, skipped
        outcome: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// The ETag the next step must still see (after draining / at backup).
        #[serde(skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        backup: Option<String>,
    },
    PoolFinished {
        pool: String,
        /// recreated, failed, paused, interrupted
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RunFinished {
        /// done, failed, paused, interrupted, cancelled
        status: String,
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
}

impl Journal {
    /// Creates (or reopens for resume) `dir/<run>.jsonl`.
    pub fn open(dir: &Path, run: &str) -> std::io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{run}.jsonl"));
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (tx, rx) = std::sync::mpsc::channel::<(String, Option<Ack>)>();
        std::thread::Builder::new().name("journal".into()).spawn(move || {
            let mut failed: Option<std::io::Error> = None;
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                if failed.is_none() {
                    let text: String = batch.iter().map(|(line, _)| line.as_str()).collect();
                    failed = file.write_all(text.as_bytes()).and_then(|_| file.sync_data()).err();
                }
                for ack in batch.into_iter().filter_map(|(_, ack)| ack) {
                    let _ = ack.send(match &failed {
                        None => Ok(()),
                        Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                    });
                }
            }
        })?;
        Ok(Journal { path, tx })
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
    pub run: String,
    pub account: String,
    pub endpoint: String,
    pub pools: Vec<String>,
    pub definition: String,
    pub digest: String,
    pub finished: Option<String>,
    pub per_pool: BTreeMap<String, PoolState>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolState {
    pub last_finished: Option<Step>,
    /// A step that started and never finished (the crash happened in it).
    pub in_flight: Option<Step>,
    pub etag: Option<String>,
    pub backup: Option<String>,
    pub status: Option<String>,
}

impl RunState {
    /// A target continuing this run for `id` at `start_at` (ETag and backup from the journal).
    pub fn target(&self, id: &str, start_at: Step, until: Option<Step>) -> crate::recreate::engine::PoolTarget {
        let pool = self.per_pool.get(id).cloned().unwrap_or_default();
        crate::recreate::engine::PoolTarget {
            id: id.to_string(),
            start_at,
            until,
            etag: pool.etag,
            backup: pool.backup,
        }
    }
}

impl PoolState {
    /// Where a resumed run continues: the step in flight, else the one after the last finished.
    pub fn resume_at(&self) -> Option<Step> {
        match (self.in_flight, self.last_finished) {
            (Some(step), _) => Some(step),
            (None, Some(done)) => done.next(),
            (None, None) => Some(Step::DisableAutoscale),
        }
    }

    /// Deleted (or being deleted) and not yet created again: the state that must never be left.
    pub fn is_between_delete_and_create(&self) -> bool {
        let reached = self.in_flight.or(self.last_finished);
        reached.is_some_and(|s| s >= Step::Delete) && self.last_finished.is_none_or(|s| s < Step::Create)
    }
}

pub fn read(path: &Path) -> std::io::Result<RunState> {
    let mut state = RunState::default();
    for line in BufReader::new(File::open(path)?).lines() {
        let line = line?;
        // A crash can leave a torn last line; everything before it is intact.
        let Ok(line) = serde_json::from_str::<Line>(&line) else { continue };
        match line.record {
            Record::RunStarted { run, account, endpoint, pools, definition, digest } => {
                state.run = run;
                state.account = account;
                state.endpoint = endpoint;
                state.pools = pools;
                state.definition = definition;
                state.digest = digest;
            }
            Record::StepStarted { pool, step } => state.per_pool.entry(pool).or_default().in_flight = Some(step),
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
            Record::PoolFinished { pool, status, .. } => state.per_pool.entry(pool).or_default().status = Some(status),
            Record::RunFinished { status } => state.finished = Some(status),
        }
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

/// A new run id: UTC time, sortable, plus a short random suffix.
pub fn new_run_id() -> String {
    format!("{}-{:04x}", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"), fastrand::u16(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_records_are_on_disk_in_order_once_a_later_append_returns() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path(), "run").unwrap();
        journal.queue(Record::StepStarted { pool: "p".into(), step: Step::Backup }).unwrap();
        let finished = Record::StepFinished {
            pool: "p".into(),
            step: Step::Backup,
            outcome: "ok".into(),
            detail: None,
            etag: Some("0x1".into()),
            backup: Some("b.json".into()),
        };
        journal.queue(finished).unwrap();
        journal.append(Record::StepStarted { pool: "p".into(), step: Step::Delete }).await.unwrap();
        let state = read(&journal.path).unwrap();
        let pool = &state.per_pool["p"];
        assert_eq!((pool.last_finished, pool.in_flight), (Some(Step::Backup), Some(Step::Delete)));
        assert_eq!(pool.backup.as_deref(), Some("b.json"));
        assert!(pool.is_between_delete_and_create());
    }
}
