//! The dashboard: update(Action) state tests, screen snapshots on simulator data, and the real
//! `repool demo` driven in a pseudo-terminal.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use repool::definition::{Definition, EXAMPLE};
use repool::recreate::engine::Progress;
use repool::recreate::journal::StepOutcome;
use repool::recreate::policy::{OnUnhealthy, RunChoices};
use repool::recreate::report::PoolStatus;
use repool::recreate::step::Step;
use repool::tui::app::{Action, App, Command, Dialog, Identity, RunPoolSummary, RunSummary, Screen};
use repool::tui::keys::KeyMap;
use repool::tui::theme::Theme;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(k: KeyCode) -> Action {
    Action::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

/// An app showing the frozen demo account, its clock pinned to the simulator's.
async fn demo_app(readonly: bool) -> (App, repool::sim::RunningSim) {
    let sim = common::frozen_sim(Some("demo")).await;
    let client = common::client_for(&sim);
    let pools = client.list_pools(Some(repool::recreate::snapshots::POOL_SUMMARY_SELECT), None, None).await.unwrap();
    let counts = client.list_node_counts().await.unwrap();
    let full = client.list_pools(None, None, None).await.unwrap();
    let identity = Identity {
        account: "simaccount".into(),
        endpoint: "http://127.0.0.1:PORT/".into(),
        auth: "shared-key".into(),
        refresh_secs: 5,
        readonly,
        demo: true,
    };
    let definition = Arc::new(Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap());
    let mut app = App::new(identity, KeyMap::default(), Some(definition), "2024-07-01.20.0");
    let now = sim.state.clock.lock().unwrap().timestamp(0.0);
    app.update(Action::Tick(now));
    app.update(Action::Refreshed(Ok(pools)));
    app.update(Action::NodeCounts(counts));
    app.update(Action::FullPools(Ok(full)));
    app.update(Action::Tick(now.checked_add(jiff::SignedDuration::from_secs(3)).unwrap()));
    (app, sim)
}

fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| repool::tui::view::draw(frame, app, &Theme::default())).unwrap();
    terminal.backend().to_string()
}

#[tokio::test]
async fn screens() {
    let (mut app, _sim) = demo_app(false).await;
    insta::assert_snapshot!("table", render(&mut app, 150, 22));
    app.update(key('?'));
    insta::assert_snapshot!("help", render(&mut app, 150, 32));
    app.update(key('x'));
    assert_eq!(app.screen, Screen::Table, "any key closes help");
    typed(&mut app, "/p-");
    app.update(code(KeyCode::Enter));
    app.update(key(' '));
    app.update(key(' '));
    app.update(key('R'));
    typed(&mut app, "recr");
    insta::assert_snapshot!("confirm", render(&mut app, 150, 22));
    app.update(code(KeyCode::Esc));
    for (step, finished) in [(Step::DisableAutoscale, true), (Step::StopResize, true), (Step::WaitSteady, false)] {
        app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step }));
        if finished {
            let done = Progress::StepFinished {
                pool: "p-ingest".into(),
                step,
                outcome: StepOutcome::Ok,
                detail: Some("fine".into()),
                elapsed: Duration::from_millis(5),
            };
            app.update(Action::Progress(done));
        }
    }
    app.update(Action::Progress(Progress::PoolFinished {
        pool: "p-render".into(),
        status: PoolStatus::Failed,
        error: Some("draining did not finish".into()),
    }));
    app.show_log = true;
    // Log lines carry wall-clock times; pin them so the picture is reproducible.
    let pinned: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    app.log.iter_mut().for_each(|line| line.at = pinned);
    insta::assert_snapshot!("run_and_log", render(&mut app, 150, 34));
}

#[tokio::test]
async fn details_show_properties_redacted_and_the_plan() {
    let (mut app, _sim) = demo_app(false).await;
    typed(&mut app, "/p-render");
    app.update(code(KeyCode::Enter));
    let commands = app.update(code(KeyCode::Enter));
    assert_eq!(commands, [Command::RefreshFull]);
    assert_eq!(app.screen, Screen::Detail("p-render".into()));
    let screen = render(&mut app, 160, 60);
    assert!(screen.contains("plan: Recreate"), "{screen}");
    assert!(screen.contains("virtualMachineConfiguration.imageReference.offer"), "{screen}");
    assert!(screen.contains("\"vmSize\": \"standard_d8s_v3\""), "{screen}");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Table);
}

#[tokio::test]
async fn moving_marking_filtering_sorting() {
    let (mut app, _sim) = demo_app(false).await;
    assert_eq!(app.selected_pool().unwrap().id(), "ci-runners");
    app.update(key('G'));
    assert_eq!(app.selected_pool().unwrap().id(), "win-test");
    app.update(key('g'));
    app.update(key(' '));
    assert!(app.marks.contains("ci-runners"));
    assert_eq!(app.selected_pool().unwrap().id(), "etl-nightly", "space marks and moves on");
    app.update(key('a'));
    assert_eq!(app.marks.len(), 12);
    app.update(key('A'));
    assert!(app.marks.is_empty());
    typed(&mut app, "/win");
    assert_eq!(app.rows().len(), 2);
    app.update(code(KeyCode::Esc));
    assert!(app.filter.is_empty() && !app.filter_editing);
    app.update(key('s'));
    assert_eq!(app.selected_pool().unwrap().id(), "win-test", "id descending");
    app.update(key('s'));
    assert_eq!(app.sort.0.name(), "age");
    let oldest = app.pools.iter().filter_map(|p| p.creation_time).min();
    assert_eq!(app.selected_pool().unwrap().creation_time, oldest, "oldest first: the pools most due");
    app.update(key('s'));
    app.update(key('s'));
    assert_eq!(app.sort.0.name(), "state");
    assert_eq!(app.update(key('r')), [Command::Refresh]);
}

#[tokio::test]
async fn destructive_runs_need_the_typed_confirmation() {
    let (mut app, _sim) = demo_app(false).await;
    typed(&mut app, "/p-render");
    app.update(code(KeyCode::Enter));
    assert!(app.update(key('R')).is_empty());
    assert!(matches!(app.dialog, Some(Dialog::Confirm { ref expected, .. }) if expected == "p-render"));
    typed(&mut app, "p-rendr");
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "a wrong word runs nothing");
    typed(&mut app, "p-render");
    let commands = app.update(code(KeyCode::Enter));
    assert_eq!(
        commands,
        [Command::Run {
            run: None,
            pools: vec!["p-render".into()],
            one_step: false,
            choices: Some(RunChoices::default())
        }]
    );
    assert!(app.run_active);
    // While it runs: no second run, and quitting asks first.
    assert!(app.update(key('R')).is_empty());
    assert!(app.status.as_ref().unwrap().contains("a run is active"));
    assert!(app.update(key('q')).is_empty());
    assert_eq!(app.dialog, Some(Dialog::Quit { running: true, gone: vec![] }));
    assert_eq!(app.update(key('y')), [Command::Cancel, Command::Quit]);
}

/// A new run's confirmation offers canary, bound, rollback and probe (tab, ←/→); a refusal for
/// live properties the new pool would lack names them and, typed `accept`, starts again accepting them.
#[tokio::test]
async fn a_new_run_offers_its_choices_and_losses_can_be_accepted() {
    let (mut app, _sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(key('R'));
    app.update(code(KeyCode::Right));
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Right));
    app.update(code(KeyCode::Right));
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Right));
    let screen = render(&mut app, 160, 40);
    assert!(screen.contains("canary 1") && screen.contains("max unavailable 1"), "{screen}");
    assert!(screen.contains("on unhealthy: rollback") && screen.contains("probe off"), "{screen}");
    typed(&mut app, "p-render");
    let chosen =
        RunChoices { canary: 1, max_unavailable: Some(1), on_unhealthy: OnUnhealthy::Rollback, ..Default::default() };
    let run = |choices: RunChoices| Command::Run {
        run: None,
        pools: vec!["p-render".into()],
        one_step: false,
        choices: Some(choices),
    };
    assert_eq!(app.update(code(KeyCode::Enter)), [run(chosen.clone())], "one pool: canary and bound stay at 1");
    app.update(Action::LossesFound {
        command: run(chosen.clone()),
        losses: vec![("p-render".into(), "identity".into())],
    });
    app.update(Action::RunEnded(Err("preflight found 1 problem(s)".into())));
    let Some(Dialog::Confirm { lines, expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "accept");
    assert!(lines.iter().any(|l| l.contains("p-render: identity")), "{lines:?}");
    typed(&mut app, "accept");
    let accepted = RunChoices { accept_loss: vec!["identity".into()], ..chosen };
    assert_eq!(app.update(code(KeyCode::Enter)), [run(accepted)]);
}

#[tokio::test]
async fn step_through_confirms_only_destructive_steps() {
    let (mut app, _sim) = demo_app(false).await;
    typed(&mut app, "/p-ingest");
    app.update(code(KeyCode::Enter));
    let first = app.update(key('n'));
    assert_eq!(
        first,
        [Command::Run {
            run: None,
            pools: vec!["p-ingest".into()],
            one_step: true,
            choices: Some(RunChoices::default())
        }]
    );
    app.update(Action::RunStarted { run: "run-1".into(), pools: vec!["p-ingest".into()], warnings: vec![] });
    for step in [Step::DisableAutoscale, Step::StopResize, Step::WaitSteady] {
        app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step }));
        app.update(Action::Progress(Progress::StepFinished {
            pool: "p-ingest".into(),
            step,
            outcome: StepOutcome::Ok,
            detail: None,
            elapsed: Duration::ZERO,
        }));
    }
    app.update(Action::RunEnded(Ok("paused".into())));
    assert_eq!(app.next_step("p-ingest"), Step::ResizeToZero);
    assert!(app.update(key('n')).is_empty(), "resize to 0 asks first");
    assert!(matches!(app.dialog, Some(Dialog::Confirm { .. })));
}

#[tokio::test]
async fn readonly_disables_every_mutating_key() {
    let (mut app, _sim) = demo_app(true).await;
    for k in ['n', 'R', 'u'] {
        assert!(app.update(key(k)).is_empty(), "{k}");
        assert!(app.status.as_ref().unwrap().contains("READ-ONLY"), "{k}: {:?}", app.status);
        assert!(app.dialog.is_none());
    }
    assert_eq!(app.update(key('r')), [Command::Refresh], "reading still works");
}

#[tokio::test]
async fn rebound_keys_and_bad_bindings() {
    let mut overrides = BTreeMap::new();
    overrides.insert("mark".to_string(), "x".to_string());
    let keys = KeyMap::with_overrides(&overrides).unwrap();
    assert_eq!(
        keys.action(&KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)),
        Some(repool::tui::keys::KeyAction::Mark)
    );
    assert_eq!(keys.action(&KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE)), None);
    overrides.insert("explode".into(), "e".into());
    assert!(KeyMap::with_overrides(&overrides).unwrap_err().contains("not an action"));
    let mut colours = BTreeMap::new();
    colours.insert("ok".to_string(), "mauve-ish".to_string());
    assert!(Theme::with_overrides(&colours).unwrap_err().contains("not a colour"));
}

#[tokio::test]
async fn only_visible_rows_are_built() {
    let (mut app, sim) = demo_app(false).await;
    let clock = sim.state.clock.lock().unwrap().clone();
    sim.with_world(|w, _| repool::sim::seed::generated(w, &clock, 3000)).unwrap();
    let pools = common::client_for(&sim)
        .list_pools(Some(repool::recreate::snapshots::POOL_SUMMARY_SELECT), None, None)
        .await
        .unwrap();
    assert_eq!(pools.len(), 3012, "3012 pools in 4 pages of 1000");
    app.update(Action::Refreshed(Ok(pools)));
    app.update(key('G'));
    let screen = render(&mut app, 150, 30);
    assert!(screen.contains("win-test") && screen.contains("pools 3012/3012"), "{screen}");
    assert!(app.visible_ids().len() <= 30);
}

#[tokio::test]
async fn the_run_panel_shows_nodes_still_draining() {
    let (mut app, _sim) = demo_app(false).await;
    app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step: Step::WaitDrained }));
    let screen = render(&mut app, 200, 30);
    assert!(screen.contains("draining: 4 node(s) left"), "{screen}");
}

/// Selects `id` in the table by moving down to it, as an operator would.
fn select(app: &mut App, id: &str) {
    app.update(key('g'));
    while app.selected_pool().map(|p| p.id().to_string()).as_deref() != Some(id) {
        let before = app.selected;
        app.update(key('j'));
        assert_ne!(app.selected, before, "{id} is not in the table");
    }
}

#[tokio::test]
async fn in_details_every_key_acts_on_the_pool_shown() {
    let (mut app, _sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail("p-render".into()));
    let selected = app.selected;
    for k in ['j', 'k', 'G', 'g', ' ', 'a', 's'] {
        app.update(key(k));
    }
    assert_eq!((app.selected, app.marks.len()), (selected, 0), "the hidden table did not move");
    assert_eq!(app.screen, Screen::Detail("p-render".into()));
    assert_eq!(
        app.update(key('n')),
        [Command::Run {
            run: None,
            pools: vec!["p-render".into()],
            one_step: true,
            choices: Some(RunChoices::default())
        }]
    );
}

#[tokio::test]
async fn a_pool_deleted_by_a_run_keeps_its_row_and_the_selection() {
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(Action::RunStarted { run: "run-1".into(), pools: vec!["p-render".into()], warnings: vec![] });
    app.update(Action::Progress(Progress::StepStarted { pool: "p-render".into(), step: Step::Delete }));
    app.update(Action::Progress(Progress::StepFinished {
        pool: "p-render".into(),
        step: Step::Delete,
        outcome: StepOutcome::Ok,
        detail: None,
        elapsed: Duration::ZERO,
    }));
    app.update(Action::Progress(Progress::PoolFinished {
        pool: "p-render".into(),
        status: PoolStatus::Paused,
        error: None,
    }));
    app.update(Action::RunEnded(Ok("paused".into())));
    let client = common::client_for(&sim);
    let without: Vec<_> = client
        .list_pools(Some(repool::recreate::snapshots::POOL_SUMMARY_SELECT), None, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.id() != "p-render")
        .collect();
    app.update(Action::Refreshed(Ok(without)));
    assert_eq!(app.selected_pool().unwrap().id(), "p-render", "the selection stays on the deleted pool");
    let screen = render(&mut app, 160, 30);
    assert!(screen.contains("deleted, not yet recreated: p-render") && screen.contains("DELETED"), "{screen}");
    assert!(app.update(key('q')).is_empty(), "quitting asks while a pool is deleted");
    assert_eq!(app.dialog, Some(Dialog::Quit { running: false, gone: vec!["p-render".into()] }));
    app.update(code(KeyCode::Esc));
    assert!(!app.quit);
    // `n` continues the same run on the same pool: wait-gone, then create.
    assert_eq!(
        app.update(key('n')),
        [Command::Run { run: Some("run-1".into()), pools: vec!["p-render".into()], one_step: true, choices: None }]
    );
}

#[tokio::test]
async fn r_always_starts_a_new_run_and_u_asks_with_what_each_pool_will_do() {
    let (mut app, _sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(Action::RunStarted { run: "run-1".into(), pools: vec!["p-render".into()], warnings: vec![] });
    app.update(key('R'));
    typed(&mut app, "p-render");
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        [Command::Run {
            run: None,
            pools: vec!["p-render".into()],
            one_step: false,
            choices: Some(RunChoices::default())
        }]
    );
    app.update(Action::RunEnded(Ok("done".into())));
    let summary = RunSummary {
        id: "run-0".into(),
        pools: vec![RunPoolSummary {
            id: "p-ingest".into(),
            state: "paused after wait-drained".into(),
            resumes_at: Some(Step::Backup),
            gone: false,
        }],
        differs: vec!["p-ingest: vmSize differ".into()],
    };
    app.update(Action::Runs(vec![summary]));
    assert!(app.update(key('u')).is_empty(), "resume asks first");
    let Some(Dialog::Confirm { lines, expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "resume");
    assert!(lines.iter().any(|l| l == "p-ingest: paused after wait-drained → resumes at backup"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("p-ingest: vmSize differ")), "{lines:?}");
    typed(&mut app, "resume");
    assert_eq!(app.update(code(KeyCode::Enter)), [Command::Resume("run-0".into())]);
    app.update(Action::RunEnded(Ok("done".into())));
    // The runs view abandons the chosen run after its own typed word.
    app.update(key('U'));
    assert_eq!(app.screen, Screen::Runs);
    app.update(key('x'));
    typed(&mut app, "abandon");
    assert_eq!(app.update(code(KeyCode::Enter)), [Command::Abandon("run-0".into())]);
}

#[tokio::test]
async fn the_deleted_banner_is_only_for_pools_the_account_lacks() {
    let (mut app, sim) = demo_app(false).await;
    let summary = RunSummary {
        id: "run-0".into(),
        pools: vec![RunPoolSummary {
            id: "p-render".into(),
            state: "interrupted in delete".into(),
            resumes_at: Some(Step::Delete),
            gone: true,
        }],
        differs: vec![],
    };
    app.update(Action::Runs(vec![summary]));
    let pools = common::client_for(&sim)
        .list_pools(Some(repool::recreate::snapshots::POOL_SUMMARY_SELECT), None, None)
        .await
        .unwrap();
    app.update(Action::Refreshed(Ok(pools)));
    let screen = render(&mut app, 160, 30);
    assert!(!screen.contains("deleted, not yet recreated"), "p-render exists: {screen}");
    assert!(screen.contains("1 unfinished run(s), newest run-0"), "{screen}");
}
