//! The dashboard's runs as state tests: a new run proposed by the run driver and confirmed by
//! typing, its choices, step-through, continuing and resuming, and the run panel.

use super::tui::{code, demo_app, key, proposed, render, select, typed};
use crate::common;

use crossterm::event::KeyCode;
use repool::rollout::engine::Progress;
use repool::rollout::journal::StepOutcome;
use repool::rollout::policy::{OnUnhealthy, RunChoices};
use repool::rollout::report::PoolStatus;
use repool::rollout::step::Step;
use repool::tui::app::{Action, Command, Dialog, RunPoolSummary, RunSummary, Screen};
use std::collections::BTreeMap;
use std::time::Duration;

/// A run of `run` on `pool` started, its pools' `done` steps already finished.
fn started(run: &str, pool: &str, done: BTreeMap<String, Step>) -> Action {
    Action::RunStarted {
        run: run.into(),
        pools: vec![pool.into()],
        warnings: vec![],
        strategies: Default::default(),
        finished: done,
    }
}

#[tokio::test]
async fn destructive_runs_need_the_typed_confirmation() {
    let (mut app, sim) = demo_app(false).await;
    typed(&mut app, "/p-render");
    app.update(code(KeyCode::Enter));
    let propose = app.update(key('R'));
    assert!(app.dialog.is_none() && !app.run_active, "the run driver plans and checks first");
    assert!(app.status.as_deref().unwrap().starts_with("checking p-render"), "{:?}", app.status);
    proposed(&mut app, &sim, propose).await;
    let Some(Dialog::Confirm { expected, lines, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "p-render");
    assert!(lines.iter().any(|l| l.starts_with("p-render: plan says recreate")), "the proposal's plan: {lines:?}");
    assert_eq!(app.update(code(KeyCode::Esc)), [Command::DropProposal], "esc drops the proposal");
    assert!(app.dialog.is_none());
    assert_eq!(app.status.as_deref(), Some("cancelled: nothing was changed"));
    let propose = app.update(key('R'));
    proposed(&mut app, &sim, propose).await;
    typed(&mut app, "p-rendr");
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "a wrong word runs nothing");
    assert_eq!(app.status.as_deref(), Some("type exactly 'p-render' to confirm, or esc"));
    typed(&mut app, "p-renderx");
    app.update(code(KeyCode::Backspace));
    let commands = app.update(code(KeyCode::Enter));
    assert_eq!(commands, [Command::Start { pools: vec!["p-render".into()], choices: RunChoices::default() }]);
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
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-render");
    let propose = app.update(key('R'));
    proposed(&mut app, &sim, propose).await;
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
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        [Command::Start { pools: vec!["p-render".into()], choices: chosen.clone() }],
        "one pool: canary and bound stay at 1"
    );
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
    assert_eq!(app.update(code(KeyCode::Enter)), [run(accepted)], "accepted: proposed again, accepting them");
    assert!(app.status.as_deref().unwrap().starts_with("checking p-render"), "{:?}", app.status);
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
    app.update(started("run-1", "p-ingest", BTreeMap::new()));
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
async fn the_run_panel_shows_nodes_still_draining() {
    let (mut app, _sim) = demo_app(false).await;
    app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step: Step::WaitDrained }));
    let screen = render(&mut app, 200, 30);
    assert!(screen.contains("4 node(s) left (:nodes)"), "{screen}");
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("drain") && screen.contains("4 node(s) left"), "{screen}");
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
    app.update(started("run-1", "p-render", BTreeMap::new()));
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
    let without: Vec<_> =
        client.list_pool_summaries().await.unwrap().into_iter().filter(|p| p.id() != "p-render").collect();
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
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(started("run-1", "p-render", BTreeMap::new()));
    let propose = app.update(key('R'));
    proposed(&mut app, &sim, propose).await;
    typed(&mut app, "p-render");
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        [Command::Start { pools: vec!["p-render".into()], choices: RunChoices::default() }]
    );
    app.update(Action::RunEnded(Ok("done".into())));
    let summary = RunSummary {
        id: "run-0".into(),
        pools: vec![RunPoolSummary {
            id: "p-ingest".into(),
            state: "paused after wait-drained".into(),
            resumes_at: Some(Step::Backup),
            gone: false,
            held: true,
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

/// `:apply` confirms a new apply run naming how each chosen pool changes and why; pools that
/// match their definition are left out, and a choice of pools with nothing to do starts nothing.
#[tokio::test]
async fn apply_from_the_dashboard_says_how_each_pool_changes() {
    let (mut app, sim) = demo_app(false).await;
    typed(&mut app, "/^p-");
    app.update(code(KeyCode::Enter));
    app.update(key('a'));
    app.update(key(':'));
    typed(&mut app, "apply");
    let propose = app.update(code(KeyCode::Enter));
    assert!(app.dialog.is_none(), "nothing starts before the proposal and its confirmation");
    proposed(&mut app, &sim, propose).await;
    let Some(Dialog::Confirm { lines, expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "apply");
    // Under 2024-07-01 (the demo app's api-version) a VM image change needs a new pool.
    assert!(lines.iter().any(|l| l.starts_with("p-render: recreate (only a new pool can change")), "{lines:?}");
    let commands = typed(&mut app, "apply");
    assert!(commands.is_empty());
    let commands = app.update(code(KeyCode::Enter));
    let [Command::Start { pools, .. }] = commands.as_slice() else { panic!("{commands:?}") };
    assert_eq!(pools, &["p-ingest".to_string(), "p-render".to_string()], "pools matching already are left out");
    // Read-only refuses it like any change.
    let (mut readonly, _sim) = demo_app(true).await;
    readonly.update(key(':'));
    typed(&mut readonly, "apply");
    assert!(readonly.update(code(KeyCode::Enter)).is_empty() && readonly.dialog.is_none());
    assert!(readonly.status.as_deref().unwrap_or("").contains("READ-ONLY"));
}

/// The run panel follows each pool's chain: a rebuilt pool shows patch and scale, never delete.
#[tokio::test]
async fn the_run_panel_shows_a_rebuilds_own_steps() {
    let (mut app, _sim) = demo_app(false).await;
    let strategies = [("reporting".to_string(), repool::rollout::strategy::Strategy::Rebuild)].into();
    app.update(Action::RunStarted {
        run: "run-1".into(),
        pools: vec!["reporting".into()],
        warnings: vec![],
        strategies,
        finished: Default::default(),
    });
    app.update(Action::Progress(Progress::StepStarted { pool: "reporting".into(), step: Step::Patch }));
    let screen = render(&mut app, 200, 30);
    let run = screen.lines().rev().find(|l| l.contains("reporting")).unwrap();
    assert!(run.contains("▶patch") && run.contains("·scale") && !run.contains("delete"), "{screen}");
    assert_eq!(app.next_step("reporting"), Step::Patch, "step-through continues the rebuild's chain");
}

fn finished(pool: &str, step: Step) -> Action {
    Action::Progress(Progress::StepFinished {
        pool: pool.into(),
        step,
        outcome: StepOutcome::Ok,
        detail: None,
        elapsed: Duration::ZERO,
    })
}

/// Step-through says what comes next: a paused pool names its next step; the panel shows only
/// the run in hand, with what an earlier execution of it did marked done; `R` on a pool an
/// unfinished run holds offers to resume that run instead of a new run the engine would refuse;
/// `n` continues it; a continued step's confirmation quotes no plan (the pool differs by the
/// run's own drain).
#[tokio::test]
async fn step_through_names_the_next_step_and_continues_the_unfinished_run() {
    let (mut app, _sim) = demo_app(false).await;
    app.update(started("run-0", "p-ingest", BTreeMap::new()));
    app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step: Step::DisableAutoscale }));
    app.update(finished("p-ingest", Step::DisableAutoscale));
    app.update(Action::Progress(Progress::PoolFinished {
        pool: "p-ingest".into(),
        status: PoolStatus::Paused,
        error: None,
    }));
    app.update(Action::RunEnded(Ok("paused".into())));
    let screen = render(&mut app, 120, 40);
    let row = screen.lines().find(|l| l.contains("p-ingest ✓")).unwrap();
    assert!(row.contains("paused next: stop-resize (n runs it, u resumes the rest)"), "{row}");
    assert!(!row.contains("paused paused"), "{row}");
    // A later execution of another run: only its pool, its earlier steps done.
    let earlier = [("p-render".to_string(), Step::WaitDrained)].into();
    app.update(started("run-1", "p-render", earlier));
    assert_eq!(app.run.keys().collect::<Vec<_>>(), ["p-render"], "only the run in hand");
    let screen = render(&mut app, 200, 40);
    let row = screen.lines().find(|l| l.contains("p-render ✓")).unwrap();
    assert!(row.contains("✓auto ✓stop ✓steady ✓resize0 ✓drain ·backup"), "{row}");
    // The account's journal: run-1 holds p-render after wait-drained.
    let held = RunSummary {
        id: "run-1".into(),
        pools: vec![RunPoolSummary {
            id: "p-render".into(),
            state: "paused after wait-drained".into(),
            resumes_at: Some(Step::Backup),
            gone: false,
            held: true,
        }],
        differs: vec![],
    };
    app.run_id = None;
    app.update(Action::RunEnded(Ok("paused".into())));
    app.update(Action::Runs(vec![held]));
    select(&mut app, "p-render");
    assert!(app.update(key('R')).is_empty());
    let Some(Dialog::Confirm { title, expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!((title.as_str(), expected.as_str()), ("Resume run run-1", "resume"), "offers the unfinished run");
    assert!(app.status.as_deref().unwrap().contains("unfinished run run-1"), "{:?}", app.status);
    app.update(code(KeyCode::Esc));
    assert_eq!(
        app.update(key('n')),
        [Command::Run { run: Some("run-1".into()), pools: vec!["p-render".into()], one_step: true, choices: None }],
        "n continues the unfinished run at backup"
    );
    // At delete the confirmation names the step, not a plan of the drained pool.
    app.update(started("run-1", "p-render", [("p-render".to_string(), Step::Backup)].into()));
    app.update(Action::RunEnded(Ok("paused".into())));
    app.update(key('n'));
    let Some(Dialog::Confirm { lines, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(lines[0], "p-render: delete");
    assert!(!lines.iter().any(|l| l.contains("plan says")), "{lines:?}");
}
