//! What runs on a pool in the dashboard: pool → jobs → tasks (state tests on simulator data, and
//! the real dashboard in a pseudo-terminal), and the drain inspector naming what it waits for.

use crate::common;
use crate::tui::{code, demo_app, key, render, select, typed};

use common::terminal::Terminal;
use crossterm::event::KeyCode;
use repool::batch::JobCounts;
use repool::rollout::engine::Progress;
use repool::rollout::step::Step;
use repool::tui::app::{Action, App, Command, Screen};

/// What the runtime answers to `JobsFor(pool)`: the pool's jobs and their task counts.
async fn jobs_of(sim: &repool::sim::RunningSim, pool: &str) -> Action {
    let result = common::client_for(sim).jobs_with_counts(&[pool.to_string()]).await.map_err(|e| e.to_string());
    Action::Jobs { pool: pool.into(), result }
}

async fn tasks_of(sim: &repool::sim::RunningSim, job: &str) -> Action {
    Action::Tasks { job: job.into(), result: Ok(common::client_for(sim).list_tasks(job).await.unwrap()) }
}

/// A rendered row without the quotes and border around it.
fn inside(row: &str) -> &str {
    row.trim_matches(|c| "\"│ ".contains(c))
}

fn open_details(app: &mut App, pool: &str) {
    select(app, pool);
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail(pool.into()));
}

/// From a pool's details, `J` lists the jobs bound to it with their counts; enter lists a job's
/// tasks with state, node and duration; esc goes back a level at a time. Only the view on
/// screen is listed again on a refresh, and answers for another pool or job are dropped.
#[tokio::test]
async fn the_jobs_view_goes_from_a_pool_to_its_jobs_to_a_jobs_tasks_and_back() {
    let (mut app, sim) = demo_app(false).await;
    sim.add_job("render-frames", "win-test", &[("frame-1", "sleep 600"), ("frame-2", "sleep 600; exit 2")]);
    open_details(&mut app, "win-test");
    assert_eq!(app.update(key('J')), [Command::JobsFor("win-test".into())]);
    assert_eq!(app.screen, Screen::Jobs);
    assert!(render(&mut app, 120, 40).contains("listing jobs…"));
    app.update(Action::Jobs { pool: "p-ingest".into(), result: Ok(vec![]) });
    assert!(app.jobs.as_ref().unwrap().jobs.is_none(), "an answer for another pool is dropped");
    app.update(jobs_of(&sim, "win-test").await);
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("jobs on win-test"), "{screen}");
    let row = screen.lines().find(|l| l.contains("render-frames")).unwrap_or_default();
    // One node: one task runs, the other waits. JOB STATE ACTIVE RUNNING COMPLETED FAILED.
    let cells: Vec<&str> = inside(row).split_whitespace().collect();
    assert_eq!(cells[cells.len() - 5..], ["active", "1", "1", "0", "0"], "{screen}");

    // A refresh lists the open view again, and nothing else.
    let refreshed = app.update(Action::Refreshed(Ok(app.pools.clone())));
    assert!(refreshed.contains(&Command::JobsFor("win-test".into())), "{refreshed:?}");
    assert!(!refreshed.iter().any(|c| matches!(c, Command::NodesFor(_) | Command::TasksFor(_))), "{refreshed:?}");

    assert_eq!(app.update(code(KeyCode::Enter)), [Command::TasksFor("render-frames".into())]);
    app.update(Action::Tasks { job: "other".into(), result: Ok(vec![]) });
    assert!(app.jobs.as_ref().unwrap().tasks.as_ref().unwrap().tasks.is_none(), "another job's answer is dropped");
    app.update(tasks_of(&sim, "render-frames").await);
    let node = common::client_for(&sim).list_nodes("win-test", None).await.unwrap()[0].id.clone().unwrap();
    let screen = render(&mut app, 200, 50);
    assert!(screen.contains("tasks of job render-frames on win-test"), "{screen}");
    let frame = |n: &str| screen.lines().find(|l| l.contains(n)).unwrap_or_default().to_string();
    assert!(frame("frame-1").contains("running") && frame("frame-1").contains(&node), "{screen}");
    assert!(frame("frame-2").contains("active"), "{screen}");
    let refreshed = app.update(Action::Refreshed(Ok(app.pools.clone())));
    assert!(refreshed.contains(&Command::TasksFor("render-frames".into())), "{refreshed:?}");
    assert!(!refreshed.contains(&Command::JobsFor("win-test".into())), "one listing per refresh: {refreshed:?}");

    // Later, the first task ends, the second runs and fails.
    sim.advance(1300.0);
    app.update(tasks_of(&sim, "render-frames").await);
    let screen = render(&mut app, 200, 50);
    let frame = |n: &str| screen.lines().find(|l| l.contains(n)).unwrap_or_default().to_string();
    assert!(frame("frame-1").contains("completed") && frame("frame-1").contains("10m"), "{screen}");
    assert!(frame("frame-2").contains("completed") && inside(&frame("frame-2")).ends_with('2'), "{screen}");
    let row = |n: &str| screen.lines().position(|l| l.contains(n)).unwrap();
    assert!(row("frame-2") < row("frame-1"), "a failed task comes before a succeeded one: {screen}");

    assert_eq!(app.update(code(KeyCode::Esc)), [Command::JobsFor("win-test".into())]);
    assert!(app.jobs.as_ref().unwrap().tasks.is_none());
    let back = app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Detail("win-test".into()), "{back:?}");
    assert!(app.jobs.is_none());
    let refreshed = app.update(Action::Refreshed(Ok(app.pools.clone())));
    assert!(!refreshed.iter().any(|c| matches!(c, Command::JobsFor(_) | Command::TasksFor(_))), "{refreshed:?}");
}

/// `:jobs` completes pool ids and opens the jobs of the one named; a seeded busy pool shows its
/// background job; text from the account is escaped.
#[tokio::test]
async fn jobs_command_completes_pools_and_escapes_what_the_account_says() {
    let (mut app, sim) = demo_app(true).await;
    app.update(key(':'));
    typed(&mut app, "jobs p-in");
    app.update(code(KeyCode::Tab));
    assert_eq!(app.command.as_deref(), Some("jobs p-ingest"));
    assert_eq!(app.update(code(KeyCode::Enter)), [Command::JobsFor("p-ingest".into())]);
    app.update(jobs_of(&sim, "p-ingest").await);
    let screen = render(&mut app, 120, 40);
    let row = screen.lines().find(|l| l.contains("job-p-ingest")).unwrap_or_default();
    assert!(row.contains("active") && row.split_whitespace().any(|c| c == "4"), "4 nodes run its tasks: {screen}");

    let hostile: repool::batch::Job =
        serde_json::from_value(serde_json::json!({"id": "evil\u{1b}[2Jjob", "state": "active\u{7}"})).unwrap();
    app.update(Action::Jobs { pool: "p-ingest".into(), result: Ok(vec![JobCounts { job: hostile, counts: None }]) });
    let screen = render(&mut app, 120, 40);
    assert!(!screen.contains('\u{1b}') && !screen.contains('\u{7}'), "{screen:?}");
    assert!(screen.contains("evil"), "{screen}");
    app.update(Action::Jobs { pool: "p-ingest".into(), result: Err("JobNotFound".into()) });
    assert!(render(&mut app, 120, 40).contains("cannot list jobs: JobNotFound"));
}

/// While a pool drains, its nodes section names the jobs and tasks the drain waits for.
#[tokio::test]
async fn the_drain_inspector_names_the_jobs_and_tasks_it_waits_for() {
    let (mut app, sim) = demo_app(false).await;
    sim.add_job("render-frames", "win-test", &[("frame-1", "sleep 600")]);
    let client = common::client_for(&sim);
    let request = repool::batch::ResizeRequest {
        target_dedicated_nodes: Some(0),
        node_deallocation_option: Some(repool::batch::NodeDeallocationOption::TaskCompletion),
        ..Default::default()
    };
    client.resize_pool("win-test", &request).await.unwrap();
    let nodes = client.list_nodes("win-test", None).await.unwrap();
    app.update(Action::Progress(Progress::StepStarted { pool: "win-test".into(), step: Step::WaitDrained }));
    app.update(key(':'));
    typed(&mut app, "nodes win-test");
    app.update(code(KeyCode::Enter));
    app.update(Action::Nodes { pool: "win-test".into(), result: Ok(nodes) });
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("drain: 1 of 1 node(s) still run tasks"), "{screen}");
    assert!(screen.contains("waits for 1 task(s) of job(s) render-frames"), "{screen}");
    assert!(screen.contains("render-frames/frame-1"), "{screen}");
}

/// The real dashboard: details → J → the pool's jobs → enter → the job's tasks → esc → esc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_what_runs_on_a_pool() {
    let (sim, dir) = common::fast_demo_with_config().await;
    sim.add_job("render-frames", "win-test", &[("frame-1", "sleep 100000"), ("frame-2", "sleep 100000")]);
    let key = sim.key().to_string();
    let mut terminal = Terminal::repool(dir.path(), &[], &[("AZURE_BATCH_ACCESS_KEY", &key)]);
    terminal.wait_for("win-test");
    terminal.send("/win-test\r");
    terminal.send("\r");
    terminal.wait_for("summary  plan  nodes  json");
    terminal.send("J");
    terminal.wait_for("jobs on win-test");
    terminal.wait_for("render-frames");
    terminal.send("\r");
    terminal.wait_for("tasks of job render-frames on win-test");
    terminal.wait_for("2 task(s), 1 running");
    terminal.send("\x1b");
    terminal.wait_without("tasks of job");
    terminal.wait_for("jobs on win-test");
    terminal.send("\x1b");
    terminal.wait_for("summary  plan  nodes  json");
    terminal.send("\x1b");
    terminal.send("q");
    assert!(terminal.end().success);
}
