//! The journal's own tests: ordering, damage, torn lines.

use super::*;

#[tokio::test]
async fn queued_records_are_on_disk_in_order_once_a_later_append_returns() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), "run").unwrap();
    journal.queue(Record::StepStarted { pool: "p".into(), step: Step::Backup }).unwrap();
    let finished = Record::StepFinished {
        pool: "p".into(),
        step: Step::Backup,
        outcome: StepOutcome::Ok,
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

#[test]
fn a_rollback_has_its_own_window_between_delete_and_create() {
    let at = |in_flight, last_finished| PoolProgress { in_flight, last_finished, ..Default::default() };
    assert!(!at(Some(Step::WaitHealthy), Some(Step::WaitReady)).is_between_delete_and_create());
    assert!(at(Some(Step::RollbackDelete), Some(Step::WaitReady)).is_between_delete_and_create());
    assert!(at(None, Some(Step::RollbackWaitGone)).is_between_delete_and_create());
    assert!(at(Some(Step::RollbackCreate), Some(Step::RollbackWaitGone)).is_between_delete_and_create());
    assert!(!at(None, Some(Step::RollbackCreate)).is_between_delete_and_create());
    assert_eq!(at(None, Some(Step::RollbackWaitReady)).resume_at(), None, "a finished rollback ends the pool");
    assert_eq!(Strategy::Recreate.next(Step::WaitHealthy), None, "the recreation chain does not run into the rollback");
}

/// A crash after a chain's last step, before its pool-finished record: the chain says how it ended.
#[tokio::test]
async fn a_chain_that_ran_to_its_end_says_how_the_pool_ended() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), "run").unwrap();
    let finished = |pool: &str, step| Record::StepFinished {
        pool: pool.into(),
        step,
        outcome: StepOutcome::Ok,
        detail: None,
        etag: None,
        backup: None,
    };
    journal.append(finished("new", Step::WaitHealthy)).await.unwrap();
    journal.append(finished("back", Step::RollbackWaitReady)).await.unwrap();
    journal.append(finished("midway", Step::WaitReady)).await.unwrap();
    let state = read(&journal.path).unwrap();
    assert_eq!(state.per_pool["new"].status, Some(PoolStatus::Recreated));
    assert_eq!(state.per_pool["back"].status, Some(PoolStatus::RolledBack));
    assert_eq!(state.per_pool["midway"].status, None);
}

/// Bytes of a torn `→` and a garbled run-started line: everything else is still read, the
/// damage is named, and what the run holds stays held.
#[tokio::test]
async fn damage_hides_only_the_damaged_lines() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), "r1").unwrap();
    let target = |pool: &str| TargetRecord {
        pool: pool.into(),
        body: serde_json::json!({}),
        backup: None,
        strategy: Strategy::Recreate,
    };
    let started = Record::RunStarted {
        run: "edited".into(),
        account: "a".into(),
        endpoint: "e".into(),
        definition: "d".into(),
        digest: "x".into(),
        targets: vec![target("p"), target("q")],
        choices: RunChoices::default(),
    };
    journal.append(started).await.unwrap();
    journal.append(Record::StepStarted { pool: "p".into(), step: Step::Delete }).await.unwrap();
    let failed = Record::PoolFinished { pool: "p".into(), status: PoolStatus::Failed, error: Some("a → b".into()) };
    journal.append(failed).await.unwrap();
    let mut text = std::fs::read(&journal.path).unwrap();
    let arrow = text.windows(3).position(|w| w == "→".as_bytes()).unwrap();
    text.remove(arrow + 2);
    std::fs::write(&journal.path, &text).unwrap();
    let state = read(&journal.path).unwrap();
    assert_eq!((state.run.as_str(), state.recorded_id.as_deref()), ("r1", Some("edited")));
    assert!(state.unreadable.is_empty(), "a torn character costs only itself");
    assert_eq!(state.per_pool["p"].status, Some(PoolStatus::Failed));
    assert!(state.per_pool["p"].error.as_deref().unwrap().contains('\u{fffd}'));
    assert_eq!(state.held_pools(), ["p"]);
    assert_eq!(state.target("P").map(|t| t.pool.as_str()), Some("p"), "a target is found ignoring case");
    assert_eq!((state.pool("Q").strategy, state.target("r").is_none()), (Strategy::Recreate, true));
    // A line lost after the start: every target not known done may have begun in it.
    let mut damaged = text.clone();
    damaged.extend_from_slice(b"\xff\xfe garbage\n");
    std::fs::write(&journal.path, &damaged).unwrap();
    let state = read(&journal.path).unwrap();
    assert_eq!(state.unreadable, [4]);
    assert_eq!(state.held_pools(), ["p", "q"]);
    assert!(state.warnings()[0].contains("line(s) 4 cannot be read"), "{:?}", state.warnings());
    // The run-started line garbled: the run is still seen, and what it holds is unknown.
    let first = text.iter().position(|b| *b == b'\n').unwrap();
    let mut headless = b"{\"ts\":garbled\n".to_vec();
    headless.extend_from_slice(&text[first + 1..]);
    std::fs::write(&journal.path, &headless).unwrap();
    let state = read(&journal.path).unwrap();
    assert!(!state.has_start() && state.holds_unknown_pools());
    assert_eq!(state.pool_ids(), ["p"]);
    assert_eq!(state.pool("p").status, Some(PoolStatus::Failed), "its records are read by pool");
    // A lone torn first line: the run never started, nothing is held.
    std::fs::write(&journal.path, b"{\"ts\":\"2026").unwrap();
    assert!(!read(&journal.path).unwrap().holds_unknown_pools());
}

#[tokio::test]
async fn a_torn_last_line_is_terminated_before_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), "run").unwrap();
    journal.append(Record::StepStarted { pool: "p".into(), step: Step::Backup }).await.unwrap();
    drop(journal);
    let path = dir.path().join("run.jsonl");
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"ts":"2026-12-01T00:00:00Z","event":"step-fin"#).unwrap();
    drop(file);
    let journal = Journal::open(dir.path(), "run").unwrap();
    journal.append(Record::StepStarted { pool: "p".into(), step: Step::Delete }).await.unwrap();
    let state = read(&path).unwrap();
    assert_eq!(state.per_pool["p"].in_flight, Some(Step::Delete), "the record after the torn line is read");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
}
