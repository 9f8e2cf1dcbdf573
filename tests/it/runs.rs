//! The run model through the real binary and the real dashboard: each path that once lost a pool,
//! its capacity or its configuration, walked the way an operator walks it.

use crate::common;

use common::terminal::Terminal;
use common::{output, repool_command};
use std::path::Path;

/// The demo account at 3000× with the example definition; the binary's data and config in `dir`.
async fn setup() -> (repool::sim::RunningSim, tempfile::TempDir, String) {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    (sim, dir, key)
}

fn repool(dir: &Path, key: &str, args: &[&str]) -> (i32, String, String) {
    output(repool_command(dir).current_dir(dir).args(args).env("AZURE_BATCH_ACCESS_KEY", key))
}

fn runs_json(dir: &Path, key: &str) -> serde_json::Value {
    let (code, out, err) = repool(dir, key, &["runs", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The example definition plus `extra` pools, written into `dir/name`.
fn definition_with(dir: &Path, name: &str, extra: serde_json::Value) -> String {
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    for (id, pool) in extra.as_object().unwrap() {
        body[id] = repool::definition::merge(&body[id], pool);
    }
    std::fs::write(dir.join(name), serde_json::to_string_pretty(&body).unwrap()).unwrap();
    name.to_string()
}

/// 1. A dashboard run journals only the pool the operator marked; killed mid-drain and resumed
///    from the command line, it recreates that pool and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_run_killed_mid_drain_resumes_only_the_marked_pool() {
    let (sim, dir, key) = setup().await;
    let untouched = common::pool_identity(&sim, "p-ingest").unwrap();
    // Slow time: p-render's 12-minute tasks take 24 s to drain, so the kill lands inside the drain.
    common::set_speed(&sim, 30.0);
    common::tasks_just_began(&sim, "p-render");
    let mut terminal = Terminal::repool(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("p-render");
    terminal.send("/p-render\r");
    terminal.send(" ");
    terminal.wait_for("marked 1");
    terminal.send("R");
    terminal.wait_for("Type p-render and press enter");
    terminal.send("p-render\r");
    common::wait_until("the dashboard waits for the drain", || {
        common::journal_text(dir.path()).contains(r#""event":"step-started","pool":"p-render","step":"wait-drained""#)
    });
    terminal.kill9();
    let runs = runs_json(dir.path(), &key);
    let pools: Vec<&str> = runs[0]["pools"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(pools, ["p-render"], "the run holds exactly the marked pool: {runs:#}");
    common::set_speed(&sim, 3000.0);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("p-render") && !err.contains("p-ingest"), "{err}");
    assert_eq!(common::pool_identity(&sim, "p-ingest").unwrap(), untouched, "p-ingest was never touched");
    assert_eq!(sim.stats().pools_created, 1);
}

/// 2. A run started with one definition and resumed where another is configured: resume creates
///    what the run recorded from its own file; naming another file that lacks the pool is refused
///    before any call that changes the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_another_definition_never_deletes_what_it_cannot_create() {
    let (sim, dir, key) = setup().await;
    let mine =
        definition_with(dir.path(), "mydef.json", serde_json::json!({"web-scrape": {"targetDedicatedNodes": 1}}));
    let (code, _, err) = repool(
        dir.path(),
        &key,
        &["recreate", "--pool", "web-scrape", "--definition", &mine, "--until", "drain", "--yes"],
    );
    assert_eq!(code, 0, "{err}");
    let example = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes", "--definition", &example]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("web-scrape: not in the definition in use") && err.contains("--create-from"), "{err}");
    let (code, _, err) =
        repool(dir.path(), &key, &["resume", "--yes", "--definition", &example, "--create-from", "definition"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot create every pool it would delete"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before, "refusals change nothing");
    assert!(common::pool_identity(&sim, "web-scrape").is_some());
    // With no --definition, resume uses the file the run recorded (by its absolute path).
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let pool = sim.with_world(|w, _| w.find("web-scrape").map(|p| p.wire.target_dedicated_nodes));
    assert_eq!(pool, Some(Some(1)), "created from mydef.json");
}

/// 2b. The recorded file edited since the run started: resume shows what differs and needs a choice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_the_definition_was_edited_asks_which_to_create() {
    let (sim, dir, key) = setup().await;
    let mine = definition_with(dir.path(), "mydef.json", serde_json::json!({}));
    let (code, _, err) = repool(
        dir.path(),
        &key,
        &["recreate", "--pool", "p-render", "--definition", &mine, "--until", "drain", "--yes"],
    );
    assert_eq!(code, 0, "{err}");
    definition_with(dir.path(), "mydef.json", serde_json::json!({"p-render": {"vmSize": "standard_d16s_v3"}}));
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("p-render: vmSize differ"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes", "--create-from", "definition"]);
    assert_eq!(code, 0, "{err}");
    let size = sim.with_world(|w, _| w.find("p-render").and_then(|p| p.wire.vm_size.clone()));
    assert_eq!(size.as_deref(), Some("standard_d16s_v3"));
}

/// 3. The backup is the pool before the run touched it: restore gives back autoscale, its formula
///    and interval, not the drained pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_gives_back_the_pool_as_it_was_before_the_run() {
    let (sim, dir, key) = setup().await;
    let original = sim.with_world(|w, _| w.find("p-render").unwrap().wire.clone());
    assert_eq!(original.enable_auto_scale, Some(true));
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "delete", "--yes"]);
    assert_eq!(code, 0, "{err}");
    common::wait_until("p-render is gone", || common::pool_identity(&sim, "p-render").is_none());
    let registry = "virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password=REG_PW";
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["restore", "--pool", "p-render", "--yes", "--secret", registry])
            .env("AZURE_BATCH_ACCESS_KEY", &key)
            .env("REG_PW", "restored-registry-password"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("-pre-run.json") && err.contains("abandon"), "{err}");
    let restored = sim.with_world(|w, _| w.find("p-render").unwrap().wire.clone());
    assert_eq!(restored.enable_auto_scale, Some(true));
    assert_eq!(restored.auto_scale_formula, original.auto_scale_formula);
    assert_eq!(restored.auto_scale_evaluation_interval, original.auto_scale_evaluation_interval);
    // Backups are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let runs = runs_json(dir.path(), &key);
        let backup = runs[0]["pools"][0]["backup"].as_str().unwrap();
        assert_eq!(std::fs::metadata(backup).unwrap().permissions().mode() & 0o777, 0o600);
        let folder = Path::new(backup).parent().unwrap();
        assert_eq!(std::fs::metadata(folder).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

/// 5. A pool that an unfinished run holds cannot be taken by a new run; abandoning the run frees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_never_takes_a_pool_an_unfinished_run_holds() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let run = runs_json(dir.path(), &key)[0]["runId"].as_str().unwrap().to_string();
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("unfinished run {run}")) && err.contains("repool abandon"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before);
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &run, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::mutating_calls(&sim), before, "abandon touches no pool");
    assert_eq!(runs_json(dir.path(), &key)[0]["state"], "abandoned");
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--yes"]);
    assert_eq!(code, 0, "{err}");
}

/// 5b. A run killed before it touched its pool holds nothing, so a second run may take the pool;
///     resuming the first one then is refused (two runs never act on one pool) until the second
///     is finished or abandoned. Found by the model test: a heal killed after its first journal
///     line, a recreate that deleted the pool, then the heal resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_run_whose_pool_another_run_took_is_refused() {
    let (sim, dir, key) = setup().await;
    let mut first = common::spawn_repool(dir.path(), &key, &["refresh", "--pool", "p-render", "--yes"]);
    common::kill_at_journal_line(&mut first, dir.path(), 1, std::time::Duration::ZERO, "refresh").await;
    // What a SIGKILL right after the run-started record leaves (however far the kill landed).
    let journal = repool::rollout::journal::list(&dir.path().join("journal"))[0].clone();
    let started = std::fs::read_to_string(&journal).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&journal, format!("{started}\n")).unwrap();
    let stopped = journal.file_stem().unwrap().to_string_lossy().into_owned();
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "the pool was not held: {err}");
    let runs = runs_json(dir.path(), &key);
    let taker = runs.as_array().unwrap().iter().find(|r| r["runId"] != stopped.as_str()).unwrap()["runId"].clone();
    let taker = taker.as_str().unwrap();
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["resume", &stopped, "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("held by unfinished run {taker}")) && err.contains("nothing was changed"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before, "nothing was changed");
    let (code, _, err) = repool(dir.path(), &key, &["abandon", taker, "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["resume", &stopped, "--yes"]);
    assert_eq!(code, 0, "free again: {err}");
}

/// 6. One lock per account, however it is spelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_spelling_of_the_account_is_the_same_lock() {
    let (sim, dir, key) = setup().await;
    let account = repool::rollout::account::AccountId::from_endpoint(&url::Url::parse(&sim.url).unwrap());
    let _held = repool::rollout::lock::RunLock::acquire(&dir.path().join("locks"), &account, "run-held").unwrap();
    let spelled = format!("{}/", sim.url.replace("http://", "HTTP://"));
    let (code, out, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-render", "--yes", "--json", "--account-url", &spelled])
            .env("AZURE_BATCH_ACCOUNT", sim.account().to_uppercase())
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run-held"), "{err}");
    let failure: serde_json::Value = serde_json::from_str(&out).expect("--json failures are JSON on stdout");
    assert_eq!(failure["exitCode"], 2);
    assert!(failure["error"].as_str().unwrap().contains("run-held"));
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// 7. A torn last journal line (a crash mid-write) does not swallow the resume's first record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_torn_journal_line_keeps_every_record() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let journal = repool::rollout::journal::list(&dir.path().join("journal")).remove(0);
    let mut file = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    std::io::Write::write_all(&mut file, br#"{"ts":"2026-12-01T00:00:00Z","event":"step-sta"#).unwrap();
    drop(file);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let state = repool::rollout::journal::read(&journal).unwrap();
    assert_eq!(state.finished, Some(repool::rollout::report::RunStatus::Done));
    assert_eq!(state.per_pool["p-render"].last_finished, Some(repool::rollout::step::Step::WaitHealthy));
    let text = std::fs::read_to_string(&journal).unwrap();
    let unreadable = text.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err()).count();
    assert_eq!(unreadable, 1, "only the torn line is lost:\n{text}");
    assert_eq!(sim.stats().pools_created, 1);
}

/// `resume --until` pauses again; `runs` says where each pool stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_until_a_step_and_runs_shows_where_pools_stand() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--until", "delete", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let runs = runs_json(dir.path(), &key);
    assert_eq!(runs[0]["pools"][0]["state"], "paused after delete", "{runs:#}");
    assert_eq!(runs[0]["pools"][0]["deletedNotRecreated"], true);
    let (code, out, _) = repool(dir.path(), &key, &["runs"]);
    assert_eq!(code, 0);
    assert!(out.contains("deleted, not yet recreated"), "{out}");
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sim.stats().pools_created, 1);
}

/// The newest journal in `dir` and its run id (its file name).
fn newest_journal(dir: &Path) -> (std::path::PathBuf, String) {
    let journal = repool::rollout::journal::list(&dir.join("journal")).remove(0);
    let run = journal.file_stem().unwrap().to_string_lossy().into_owned();
    (journal, run)
}

/// Rewrites line `n` (from 0) of a journal as `edit` returns it.
fn edit_line(journal: &Path, n: usize, edit: impl Fn(&str) -> Vec<u8>) {
    let text = std::fs::read_to_string(journal).unwrap();
    let mut bytes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        bytes.extend(if i == n { edit(line) } else { line.as_bytes().to_vec() });
        bytes.push(b'\n');
    }
    std::fs::write(journal, bytes).unwrap();
}

/// Issue 21, item 4: a journal line torn inside `→` (repool writes it in error records) still
/// shows the run, resumes it, finds its backup and keeps its pool from a new run; a garbled
/// run-started line is named, and no new run starts until the operator deals with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_journal_is_never_invisible() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "delete", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (journal, run) = newest_journal(dir.path());
    let drained = std::fs::read_to_string(&journal).unwrap().lines().position(|l| l.contains("step-finished")).unwrap();
    edit_line(&journal, drained, |line| {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        record["detail"] = "retried → ok".into();
        let mut bytes = serde_json::to_vec(&record).unwrap();
        let arrow = bytes.windows(3).position(|w| w == "→".as_bytes()).unwrap();
        bytes.remove(arrow + 2);
        bytes
    });
    assert!(std::str::from_utf8(&std::fs::read(&journal).unwrap()).is_err(), "the journal is not UTF-8 now");
    let runs = runs_json(dir.path(), &key);
    assert_eq!(runs[0]["runId"], run.as_str(), "{runs:#}");
    assert_eq!(runs[0]["pools"][0]["deletedNotRecreated"], true);
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("unfinished run {run}")), "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["restore", "--pool", "p-render"]);
    assert_eq!(code, 2, "it needs the registry password: {err}");
    assert!(err.contains(&format!("before run {run}")), "the backup is found: {err}");
    assert_eq!(common::mutating_calls(&sim), before);
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("run {run}")), "{err}");
    assert_eq!(sim.stats().pools_created, 1);

    // The run-started line of another run garbled: its pools cannot be known.
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-ingest", "--until", "delete", "--yes"]);
    assert_eq!(code, 0, "{err}");
    common::wait_until("p-ingest is gone", || common::pool_identity(&sim, "p-ingest").is_none());
    let (journal, run) = newest_journal(dir.path());
    edit_line(&journal, 0, |line| [&line.as_bytes()[..20], b"\xff\xfe"].concat());
    let (code, out, err) = repool(dir.path(), &key, &["runs"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{run}  damaged")) && out.contains("p-ingest"), "{out}");
    assert!(err.contains(&format!("journal {}: line(s) 1 cannot be read", journal.display())), "{err}");
    let before = common::mutating_calls(&sim);
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot tell which") && err.contains(&format!("repool abandon {run}")), "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["resume", &run, "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be resumed"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before, "refusals change nothing");
    // What the advice says works: restore from the backup filed under the pool, then abandon.
    let (code, _, err) = repool(dir.path(), &key, &["restore", "--pool", "p-ingest", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(common::pool_identity(&sim, "p-ingest").is_some());
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &run, "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "steady", "--yes"]);
    assert_eq!(code, 0, "a closed damaged run holds nothing: {err}");
}

/// Issue 21, item 10: a run has one identity, its journal's file name; an edited run id is said,
/// and `runs` and `resume` agree on the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_run_id_is_known_by_its_file_name() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (journal, run) = newest_journal(dir.path());
    edit_line(&journal, 0, |line| line.replace(&format!("\"run\":\"{run}\""), "\"run\":\"someone-else\"").into_bytes());
    let runs = runs_json(dir.path(), &key);
    assert_eq!(runs[0]["runId"], run.as_str());
    assert!(runs[0]["warnings"][0].as_str().unwrap().contains("names run someone-else"), "{runs:#}");
    let (code, _, err) = repool(dir.path(), &key, &["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("someone-else") && err.contains(&format!("run {run}")), "{err}");
    assert_eq!(sim.stats().pools_created, 1);
    assert_eq!(runs_json(dir.path(), &key)[0]["state"], "done");
}

/// Issue 21, item 10: a backup creates only the pool it is filed under; one whose id was edited
/// is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_creates_only_the_pool_a_backup_is_filed_under() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-ingest", "--until", "delete", "--yes"]);
    assert_eq!(code, 0, "{err}");
    common::wait_until("p-ingest is gone", || common::pool_identity(&sim, "p-ingest").is_none());
    let backup = runs_json(dir.path(), &key)[0]["pools"][0]["backup"].as_str().unwrap().to_string();
    let mut body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
    body["id"] = "ghost-pool".into();
    std::fs::write(&backup, body.to_string()).unwrap();
    let before = common::mutating_calls(&sim);
    for args in [&["restore", "--pool", "p-ingest", "--yes"][..], &["restore", &backup, "--yes"]] {
        let (code, _, err) = repool(dir.path(), &key, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("filed under pool 'p-ingest' but holds pool 'ghost-pool'"), "{err}");
    }
    assert_eq!(common::mutating_calls(&sim), before);
    assert!(common::pool_identity(&sim, "ghost-pool").is_none());
}

/// Issue 21, item 8: the disk fills between delete and create. The run stops before the create
/// (it cannot journal it), says the pool is deleted and how it comes back; once there is space,
/// resume recreates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_between_delete_and_create_says_how_the_pool_comes_back() {
    let Some(disk) = common::Tmpfs::mount("4m") else { return };
    let (sim, dir, key) = setup().await;
    let data = disk.path().to_str().unwrap();
    let on_disk = |args: &[&str]| {
        output(repool_command(dir.path()).args(args).env("REPOOL_DATA_DIR", data).env("AZURE_BATCH_ACCESS_KEY", &key))
    };
    let (code, _, err) = on_disk(&["recreate", "--pool", "p-render", "--until", "gone", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(common::pool_identity(&sim, "p-render").is_none());
    let (journal, run) = newest_journal(disk.path());
    // The journal's last page filled with blank lines (read as nothing), then the disk: the
    // next record needs a page the disk no longer has.
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let size = std::fs::metadata(&journal).unwrap().len();
    let mut file = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    std::io::Write::write_all(&mut file, &vec![b'\n'; (page - size % page) as usize]).unwrap();
    let filler = disk.path().join("filler");
    let mut fill = std::fs::File::create(&filler).unwrap();
    while std::io::Write::write_all(&mut fill, &[0u8; 4096]).is_ok() {}
    drop(fill);
    let (code, _, err) = on_disk(&["resume", "--yes"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains("Pool 'p-render' is deleted and not yet recreated")
            && err.contains(&format!("has space again, `repool resume {run}` recreates it")),
        "{err}"
    );
    assert_eq!(sim.stats().pools_created, 0, "nothing is created that the journal does not know of");
    std::fs::remove_file(&filler).unwrap();
    let (code, _, err) = on_disk(&["resume", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(common::pool_identity(&sim, "p-render").is_some());
    assert_eq!(sim.stats().pools_created, 1);
}

/// `runs` says which runs `resume` can continue (a `resumable` field, and where each pool resumes),
/// and `abandon` warns from the account as it is now: a pool the run deleted and someone restored
/// since is not named; one the run drained (0 targets where it had nodes) is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_says_what_is_resumable_and_abandon_warns_from_the_live_pools() {
    let (sim, dir, key) = setup().await;
    let run_id =
        |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap()["runId"].as_str().unwrap().to_string();
    let (code, out, err) =
        repool(dir.path(), &key, &["recreate", "--pool", "p-render", "--until", "delete", "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let deleted = run_id(&out);
    let (code, out, err) =
        repool(dir.path(), &key, &["recreate", "--pool", "p-ingest", "--until", "drain", "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let drained = run_id(&out);

    let runs = runs_json(dir.path(), &key);
    let run = |id: &str| runs.as_array().unwrap().iter().find(|r| r["runId"] == id).unwrap().clone();
    assert_eq!((&run(&deleted)["state"], &run(&deleted)["resumable"]), (&"paused".into(), &true.into()), "{runs:#}");
    assert_eq!(run(&deleted)["pools"][0]["resumesAt"], "wait-gone", "{runs:#}");
    assert_eq!(run(&drained)["pools"][0]["resumesAt"], "backup", "{runs:#}");
    let (_, text, _) = repool(dir.path(), &key, &["runs"]);
    assert!(text.contains(&format!("{deleted}  paused, resumable: `repool resume {deleted}`")), "{text}");

    // Without --yes nothing is abandoned: the warnings alone.
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &deleted]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'p-render' was deleted by the run and is not in the account"), "{err}");
    let (_, _, err) = repool(dir.path(), &key, &["abandon", &drained]);
    assert!(
        err.contains("'p-ingest' was drained by the run: 0 target nodes (before the run: 2 dedicated, 2 low-priority)"),
        "{err}"
    );

    // Someone put p-render back: abandoning its run warns about nothing.
    let client = common::client_for(&sim);
    client.add_pool(&common::pool_body("p-render", 1)).await.unwrap();
    let (code, _, err) = repool(dir.path(), &key, &["abandon", &deleted, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "p-render is in the account again: {err}");
    let runs = runs_json(dir.path(), &key);
    let abandoned = runs.as_array().unwrap().iter().find(|r| r["runId"] == deleted.as_str()).unwrap();
    assert_eq!((&abandoned["state"], &abandoned["resumable"]), (&"abandoned".into(), &false.into()), "{runs:#}");
}

/// `restore --pool` after a newer run's first line was garbled: the pool comes back as that newer
/// run found it (its pre-run backup, on disk though no readable journal names it), not as an
/// older run found it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_after_a_damaged_newer_run_takes_that_runs_backup() {
    let (sim, dir, key) = setup().await;
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-ingest", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = repool(dir.path(), &key, &["recreate", "--pool", "p-ingest", "--yes", "--until", "delete"]);
    assert_eq!(code, 0, "{err}");
    let (journal, _) = newest_journal(dir.path());
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[0] = 0xff;
    bytes[1] = 0xfe;
    std::fs::write(&journal, bytes).unwrap();
    common::wait_until("the deleted pool is gone", || sim.with_world(|w, _| w.find("p-ingest").is_none()));
    let newest = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .flatten()
        .flat_map(|account| std::fs::read_dir(account.path().join("p-ingest")).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-pre-run.json"))
        .max()
        .unwrap();
    let (code, _, err) = repool(dir.path(), &key, &["restore", "--pool", "p-ingest", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&newest.display().to_string()), "the newer run's backup: {}\n{err}", newest.display());
}
