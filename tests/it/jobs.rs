//! What a run's drains will wait for, said before it starts: the command line's confirmation
//! and the dashboard's, from one read when proposing; a failed read says unknown and blocks nothing.

use crate::common;
use crate::tui::{code, demo_app, key, proposed, typed};

use crossterm::event::KeyCode;
use repool::tui::app::Dialog;

/// Multi-threaded: the simulator must keep serving while the test blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_lines_confirmation_says_what_draining_waits_for() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    // p-ingest's four nodes each run a task of its background job; no --yes: nothing starts.
    let recreate = || {
        let mut command = common::repool_command(dir.path());
        command.args(["recreate", "--pool", "p-ingest"]).env("AZURE_BATCH_ACCESS_KEY", &key);
        command
    };
    let (code, _, err) = common::output(&mut recreate());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("draining waits for the tasks of 1 job(s) running on 4 node(s)"), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    // The jobs cannot be listed: the confirmation says so and goes on to its question.
    sim.set_faults(repool::sim::faults::Faults::parse("401@list-jobs=1").unwrap());
    let (code, _, err) = common::output(&mut recreate());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("draining waits for the running tasks of unknown jobs (cannot list jobs:"), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// The dashboard's confirmation of a recreation says the same (p-ingest's four nodes each run
/// a task of its background job: four busy nodes).
#[tokio::test]
async fn the_dashboards_confirmation_says_what_draining_waits_for() {
    let (mut app, sim) = demo_app(false).await;
    typed(&mut app, "/p-ingest");
    app.update(code(KeyCode::Enter));
    let propose = app.update(key('R'));
    proposed(&mut app, &sim, propose).await;
    let Some(Dialog::Confirm { lines, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert!(lines.iter().any(|l| l == "draining waits for the tasks of 1 job(s) running on 4 node(s)"), "{lines:?}");
}

/// `repool jobs --pool ID [--json]`: the jobs that run on a pool with their task counts; an
/// unknown pool is bad input naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_on_the_command_line() {
    let (sim, dir) = common::fast_demo_with_config().await;
    sim.add_job("render-frames", "win-test", &[("frame-1", "sleep 100000"), ("frame-2", "sleep 100000")]);
    let key = sim.key().to_string();
    let jobs = |args: &[&str]| {
        let mut command = common::repool_command(dir.path());
        command.arg("jobs").args(args).env("AZURE_BATCH_ACCESS_KEY", &key);
        common::output(&mut command)
    };
    let (code, out, err) = jobs(&["--pool", "win-test"]);
    assert_eq!(code, 0, "{err}");
    let row: Vec<&str> =
        out.lines().find(|l| l.starts_with("render-frames")).unwrap_or_default().split_whitespace().collect();
    // JOB STATE ACTIVE RUNNING COMPLETED SUCCEEDED FAILED: one node, one task runs.
    assert_eq!(row, ["render-frames", "active", "1", "1", "0", "0", "0"], "{out}");
    let (code, out, err) = jobs(&["--pool", "p-ingest", "--json"]);
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!((job["id"].as_str(), job["pool"].as_str()), (Some("job-p-ingest"), Some("p-ingest")), "{out}");
    assert_eq!(job["taskCounts"]["running"], 4, "{out}");
    let (code, out, err) = jobs(&["--pool", "sandbox"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "JOB  STATE  ACTIVE  RUNNING  COMPLETED  SUCCEEDED  FAILED\n(no job runs on this pool)\n"),
        "{err}"
    );
    let (code, _, err) = jobs(&["--pool", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("--pool nope: the account has no such pool"), "{err}");
}
