//! The dashboard's single calls, state tests against the simulator: node actions from the nodes
//! section (reboot, remove, scheduling, start task output), the heat map, and the pool quick
//! actions (resize, autoscale evaluate then enable); read-only and a run holding the pool refuse.

use crate::common;
use crate::tui::{code, demo_app, key, render, select, typed};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use repool::batch::{NodeDeallocationOption, NodeState};
use repool::sim::RunningSim;
use repool::tui::app::{Action, App, Command, Dialog, PoolForm, RunPoolSummary, RunSummary};
use repool::tui::calls::{Answer, Call, perform};
use repool::tui::heatmap::{self, Heat};

/// What the runtime does with a call: made against the simulator, its answer given to the app.
async fn carried_out(app: &mut App, sim: &RunningSim, commands: Vec<Command>) -> Vec<Command> {
    let [Command::Call(call)] = commands.as_slice() else { panic!("not one call: {commands:?}") };
    let result = perform(&common::client_for(sim), call).await;
    app.update(Action::Called { call: call.clone(), result })
}

/// The app in pool `id`'s nodes section, its nodes listed from the simulator.
async fn nodes_of(app: &mut App, sim: &RunningSim, id: &str) {
    app.update(key(':'));
    typed(app, &format!("nodes {id}"));
    assert_eq!(app.update(code(KeyCode::Enter)), [Command::FullPool(id.into()), Command::NodesFor(id.into())]);
    crate::tui::full_pool(app, sim, id).await;
    list_again(app, sim, id).await;
}

async fn list_again(app: &mut App, sim: &RunningSim, id: &str) {
    let nodes = common::client_for(sim).list_nodes(id, None).await.unwrap();
    app.update(Action::Nodes { pool: id.into(), result: Ok(nodes) });
}

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn status(app: &App) -> String {
    app.status.clone().unwrap_or_default()
}

/// Reboot (the node under the cursor) and disable scheduling go with `taskcompletion`: the task
/// running on the node finishes first, none is cut short; each is logged, and the nodes are
/// listed again. A second reboot of a rebooting node is refused by the service, worded.
#[tokio::test]
async fn reboot_and_disable_scheduling_reach_the_simulator_with_taskcompletion() {
    let (mut app, sim) = demo_app(false).await;
    nodes_of(&mut app, &sim, "p-ingest").await;
    let first = app.nodes.as_ref().unwrap().listed()[0].id.clone().unwrap();
    assert!(app.update(key('b')).is_empty(), "a reboot asks first");
    let Some(Dialog::Confirm { title, expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!((title.as_str(), expected.as_str()), ("Reboot 1 node(s) of p-ingest", ""));
    let sent = app.update(code(KeyCode::Enter));
    let expected_call = Call::Reboot {
        pool: "p-ingest".into(),
        nodes: vec![first.clone()],
        option: NodeDeallocationOption::TaskCompletion,
    };
    assert_eq!(sent, [Command::Call(expected_call)]);
    let after = carried_out(&mut app, &sim, sent).await;
    assert_eq!(after, [Command::Refresh, Command::FullPool("p-ingest".into()), Command::NodesFor("p-ingest".into())]);
    let (down_at, now) = sim.with_world(|w, now| {
        let node = w.find("p-ingest").unwrap().nodes.iter().find(|n| n.id == first).unwrap().clone();
        (node.outage.expect("rebooting").down_at, now)
    });
    assert!(down_at > now, "taskcompletion: the node reboots when its task ends");
    assert_eq!(sim.stats().tasks_killed_by_node_ops, 0);
    assert!(status(&app).contains("done"), "{}", status(&app));
    let logged: Vec<String> = app.log.shown().iter().map(|l| l.text.clone()).collect();
    assert!(logged.iter().any(|l| l.starts_with("p-ingest: reboot of") && l.ends_with("done")), "{logged:?}");

    // Once its task ended, again on the same node: the service says it is being rebooted.
    sim.advance(down_at - now + 1.0);
    app.update(key('b'));
    let again = app.update(code(KeyCode::Enter));
    carried_out(&mut app, &sim, again).await;
    assert!(status(&app).contains("failed") && status(&app).contains("NodeBeingRebooted"), "{}", status(&app));

    // Scheduling on the second node: disabled with taskcompletion, then enabled again.
    app.update(key('j'));
    let second = app.nodes.as_ref().unwrap().listed()[1].id.clone().unwrap();
    app.update(key('S'));
    let sent = app.update(code(KeyCode::Enter));
    let [Command::Call(Call::DisableScheduling { nodes, option, .. })] = sent.as_slice() else { panic!("{sent:?}") };
    assert_eq!((nodes, option), (&vec![second.clone()], &NodeDeallocationOption::TaskCompletion));
    carried_out(&mut app, &sim, sent).await;
    let node =
        sim.with_world(|w, _| w.find("p-ingest").unwrap().nodes.iter().find(|n| n.id == second).unwrap().clone());
    assert!(!node.scheduling_enabled);
    assert_eq!(sim.stats().tasks_killed_by_node_ops, 0, "taskcompletion lets the task finish");
    list_again(&mut app, &sim, "p-ingest").await;
    assert_eq!(app.nodes.as_ref().unwrap().cursor, 1, "the cursor stays on its node across a listing");
    app.update(key('S'));
    let sent = app.update(code(KeyCode::Enter));
    assert!(matches!(sent.as_slice(), [Command::Call(Call::EnableScheduling { .. })]), "{sent:?}");
    carried_out(&mut app, &sim, sent).await;
    assert!(sim.with_world(|w, _| {
        w.find("p-ingest").unwrap().nodes.iter().find(|n| n.id == second).unwrap().scheduling_enabled
    }));
}

/// Removing marked nodes takes the typed word; ←/→ change the deallocation option and
/// `taskcompletion` is where it starts; the pool's target drops by the nodes removed.
#[tokio::test]
async fn removing_marked_nodes_is_typed_and_keeps_their_tasks_with_taskcompletion() {
    let (mut app, sim) = demo_app(false).await;
    nodes_of(&mut app, &sim, "p-ingest").await;
    app.update(key(' '));
    app.update(key(' '));
    let marked: Vec<String> = app.nodes.as_ref().unwrap().marks.iter().cloned().collect();
    assert_eq!(marked.len(), 2);
    app.update(key('D'));
    let Some(Dialog::Confirm { expected, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "remove");
    assert!(app.update(code(KeyCode::Enter)).is_empty(), "enter alone does not remove");
    app.update(code(KeyCode::Right));
    let Some(Dialog::Confirm { command: Command::Call(call), .. }) = &app.dialog else { panic!() };
    assert_eq!(call.option(), Some(&NodeDeallocationOption::Requeue), "→ steps the option");
    app.update(code(KeyCode::Left));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("‹ taskcompletion ›") && screen.contains("Type remove"), "{screen}");
    let sent = typed(&mut app, "remove").into_iter().chain(app.update(code(KeyCode::Enter))).collect::<Vec<_>>();
    let [Command::Call(Call::RemoveNodes { nodes, option, .. })] = sent.as_slice() else { panic!("{sent:?}") };
    let mut sorted = nodes.clone();
    sorted.sort();
    assert_eq!((sorted, option), (marked.clone(), &NodeDeallocationOption::TaskCompletion));
    let targets = |sim: &RunningSim| {
        sim.with_world(|w, _| {
            let p = &w.find("p-ingest").unwrap().wire;
            p.target_dedicated_nodes.unwrap_or(0) + p.target_low_priority_nodes.unwrap_or(0)
        })
    };
    let before = targets(&sim);
    carried_out(&mut app, &sim, sent).await;
    assert_eq!(targets(&sim), before - 2);
    assert!(app.nodes.as_ref().unwrap().marks.is_empty(), "removed: the marks are cleared");
    sim.with_world(|w, _| {
        for node in w.find("p-ingest").unwrap().nodes.iter().filter(|n| marked.contains(&n.id)) {
            let leave = node.leaving.as_ref().expect("leaving");
            assert!(leave.task_until > leave.since, "taskcompletion: the running task finishes first");
        }
    });
    assert_eq!(sim.stats().tasks_killed_by_resize, 0);
}

/// A pool whose start task failed: `o` shows the node's stdout and stderr (server text escaped);
/// a long file shows its tail and says so; esc returns to the nodes.
#[tokio::test]
async fn the_start_task_output_of_a_failed_node() {
    let (mut app, sim) = demo_app(false).await;
    common::fail_start_tasks(&sim, "win-test");
    nodes_of(&mut app, &sim, "win-test").await;
    let node = app.nodes.as_ref().unwrap().listed()[0].clone();
    assert_eq!(node.state, Some(NodeState::StartTaskFailed));
    // Its row says the exit code first: what an operator reads at 80 columns.
    let row = render(&mut app, 80, 24).lines().find(|l| l.contains("starttaskfailed")).unwrap().to_string();
    assert!(row.contains("exit 3 (Failure"), "{row}");
    let sent = app.update(key('o'));
    assert!(render(&mut app, 80, 24).contains("reading startup/stdout.txt"));
    carried_out(&mut app, &sim, sent).await;
    let screen = render(&mut app, 80, 24);
    for text in [
        "start task output of",
        "cmd /c exit 3",
        "start task exited with code 3",
        "── stderr.txt",
        "failed with exit code 3",
    ] {
        assert!(screen.contains(text), "{text} in\n{screen}");
    }
    // A long file with terminal escapes in it, as a node could write.
    let long: String = (0..1000).map(|i| format!("line {i} \x1b[31mred\x1b[0m\n")).collect();
    let id = node.id.clone().unwrap();
    let call = Call::StartTaskOutput { pool: "win-test".into(), node: id };
    let answer = Answer::StartTask { stdout: Ok(long), stderr: Err("FileNotFound".into()) };
    app.update(Action::Called { call, result: Ok(answer) });
    let output = app.nodes.as_ref().unwrap().output.clone().unwrap().lines.unwrap();
    assert!(output[0].contains("1000 lines") && output[0].contains("showing the last 400"), "{}", output[0]);
    assert!(output.iter().any(|l| l.contains("line 999")) && !output.iter().any(|l| l.contains("line 599 ")));
    assert!(output.iter().all(|l| !l.contains('\x1b')), "escapes never reach the terminal");
    render(&mut app, 80, 24);
    app.update(key('G'));
    assert!(render(&mut app, 80, 24).contains("line 999"), "the output scrolls to its end");
    app.update(code(KeyCode::Esc));
    assert!(app.nodes.as_ref().unwrap().output.is_none());
    assert!(render(&mut app, 80, 24).contains("NODE"), "back in the node list");
}

/// The heat map counts each node once, in its category; running by slot use (p-render has four
/// slots a node); the legend reads without colour.
#[tokio::test]
async fn the_heat_map_counts_nodes_by_state() {
    let (mut app, sim) = demo_app(false).await;
    common::fail_start_tasks(&sim, "win-test");
    let client = common::client_for(&sim);
    let render_nodes = client.list_nodes("p-render", None).await.unwrap();
    let counts = heatmap::counts(&render_nodes, 4);
    let running = counts.iter().find(|(h, _)| *h == Heat::Running(4)).unwrap().1;
    assert_eq!(running, render_nodes.len(), "{counts:?}");
    assert!(render_nodes.iter().all(|n| Heat::of(n, 4) == Heat::Running(1)), "one task of four slots: ◔");

    sim.with_world(|w, _| w.find_mut("p-ingest").unwrap().nodes[0].unusable = true);
    let ids: Vec<String> =
        client.list_nodes("p-ingest", None).await.unwrap().into_iter().filter_map(|n| n.id).collect();
    client.disable_node_scheduling("p-ingest", &ids[1], repool::batch::DisableSchedulingOption::Requeue).await.unwrap();
    let nodes = client.list_nodes("p-ingest", None).await.unwrap();
    let counts: Vec<(Heat, usize)> = heatmap::counts(&nodes, 1).into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(counts, [(Heat::Running(4), 2), (Heat::Unusable, 1), (Heat::Offline, 1)]);

    nodes_of(&mut app, &sim, "win-test").await;
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("✗ start task failed 1") && screen.contains("○ idle 0"), "{screen}");
    let map = screen.lines().find(|l| l.contains('✗') && !l.contains("start task failed")).unwrap();
    assert_eq!(map.matches('✗').count(), 1, "one glyph a node: {map}");
}

/// Resize: growing goes at once, lowering a target needs the pool id typed; the deallocation
/// option starts at taskcompletion and reaches the service.
#[tokio::test]
async fn resize_shrinking_is_confirmed_and_goes_with_taskcompletion() {
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "etl-nightly");
    app.update(key('z'));
    assert!(matches!(app.dialog, Some(Dialog::Pool(PoolForm::Resize(_)))));
    app.update(code(KeyCode::Backspace));
    let sent = typed(&mut app, "2").into_iter().chain(app.update(code(KeyCode::Enter))).collect::<Vec<_>>();
    assert!(sent.is_empty(), "lowering a target asks first: {sent:?}");
    let Some(Dialog::Confirm { expected, lines, .. }) = &app.dialog else { panic!("{:?}", app.dialog) };
    assert_eq!(expected, "etl-nightly");
    assert!(lines[0].contains("target 4 → 2"), "{lines:?}");
    let sent = typed(&mut app, "etl-nightly").into_iter().chain(app.update(code(KeyCode::Enter))).collect::<Vec<_>>();
    let [Command::Call(Call::Resize { request, .. })] = sent.as_slice() else { panic!("{sent:?}") };
    assert_eq!(request.target_dedicated_nodes, Some(2));
    assert_eq!(request.node_deallocation_option, Some(NodeDeallocationOption::TaskCompletion));
    carried_out(&mut app, &sim, sent).await;
    sim.with_world(|w, _| {
        let pool = w.find("etl-nightly").unwrap();
        assert_eq!(pool.wire.target_dedicated_nodes, Some(2));
        let leaving: Vec<_> = pool.nodes.iter().filter_map(|n| n.leaving.as_ref()).collect();
        assert_eq!(leaving.len(), 2);
        assert!(leaving.iter().all(|l| l.task_until > l.since), "taskcompletion: tasks finish first");
    });
    // Growing: no question.
    select(&mut app, "gpu-train");
    app.update(key('z'));
    app.update(code(KeyCode::Backspace));
    let sent = typed(&mut app, "3").into_iter().chain(app.update(code(KeyCode::Enter))).collect::<Vec<_>>();
    carried_out(&mut app, &sim, sent).await;
    assert_eq!(sim.with_world(|w, _| w.find("gpu-train").unwrap().wire.target_dedicated_nodes), Some(3));
    // An autoscale pool's targets are the formula's.
    select(&mut app, "ci-runners");
    assert!(app.update(key('z')).is_empty() && app.dialog.is_none());
    assert!(status(&app).contains("autoscale sets its targets"), "{}", status(&app));
}

/// A node on which no start task ran (its pool has none) has no files to read: `o` says so
/// instead of showing the service's 404.
#[tokio::test]
async fn a_node_without_a_start_task_has_no_output_to_read() {
    let (mut app, sim) = demo_app(false).await;
    nodes_of(&mut app, &sim, "p-ingest").await;
    assert!(app.update(key('o')).is_empty(), "no call");
    assert!(status(&app).contains("no start task has run on this node"), "{}", status(&app));
    assert!(app.nodes.as_ref().unwrap().output.is_none());
}

/// Autoscale: the form starts from the pool's formula; enabling waits for an evaluation of the
/// formula shown; a failing formula is shown with the service's error and cannot be enabled.
#[tokio::test]
async fn autoscale_is_evaluated_before_it_is_enabled() {
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "ci-runners");
    app.update(key('f'));
    let form = |app: &App| match &app.dialog {
        Some(Dialog::Pool(PoolForm::Autoscale(form))) => form.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(form(&app).formula, "$TargetLowPriorityNodes = 4;", "prefilled with the pool's formula");
    assert!(app.update(ctrl('e')).is_empty(), "not before an evaluation");
    assert!(status(&app).contains("evaluate it first"), "{}", status(&app));
    // A formula the service cannot evaluate.
    typed(&mut app, " $x = $something_useless;");
    let sent = app.update(code(KeyCode::Enter));
    assert!(form(&app).waiting);
    carried_out(&mut app, &sim, sent).await;
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("error AutoScalingFormulaEvaluationError"), "{screen}");
    assert!(app.update(ctrl('e')).is_empty(), "a failing formula is not enabled");
    for _ in 0..25 {
        app.update(code(KeyCode::Backspace));
    }
    typed(&mut app, " $TargetDedicatedNodes = 1;");
    assert!(app.update(ctrl('e')).is_empty(), "a changed formula is evaluated again first");
    let sent = app.update(code(KeyCode::Enter));
    carried_out(&mut app, &sim, sent).await;
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("$TargetDedicatedNodes=1") && screen.contains("ctrl-e enables this formula"), "{screen}");
    let sent = app.update(ctrl('e'));
    let formula = "$TargetLowPriorityNodes = 4; $TargetDedicatedNodes = 1;".to_string();
    assert_eq!(sent, [Command::Call(Call::EnableAutoscale { pool: "ci-runners".into(), formula: formula.clone() })]);
    let after = carried_out(&mut app, &sim, sent).await;
    assert!(after.contains(&Command::Refresh), "the pool view refreshes");
    assert!(app.dialog.is_none(), "enabled: the form closes");
    assert_eq!(sim.with_world(|w, _| w.find("ci-runners").unwrap().wire.auto_scale_formula.clone()), Some(formula));
    let logged: Vec<String> = app.log.shown().iter().map(|l| l.text.clone()).collect();
    assert!(logged.iter().any(|l| l == "ci-runners: enabling autoscale: done"), "{logged:?}");
    // Disabling.
    app.update(key('f'));
    let sent = app.update(ctrl('d'));
    carried_out(&mut app, &sim, sent).await;
    assert!(!sim.with_world(|w, _| w.find("ci-runners").unwrap().wire.autoscale()));
}

/// On a pool with fixed targets the service refuses to evaluate (409): the form says why in
/// plain words, not as a fault with a misleading remedy, and lets the formula be enabled.
#[tokio::test]
async fn a_fixed_pools_formula_is_enabled_after_the_services_refusal_to_evaluate() {
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-ingest");
    app.update(key('f'));
    let sent = app.update(code(KeyCode::Enter));
    carried_out(&mut app, &sim, sent).await;
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("not evaluated: Batch evaluates only on a pool with autoscale on"), "{screen}");
    assert!(!screen.contains("409") && !screen.contains("autoscale off"), "{screen}");
    let sent = app.update(ctrl('e'));
    assert!(matches!(sent.as_slice(), [Command::Call(Call::EnableAutoscale { .. })]), "{sent:?}");
}

/// Read-only refuses every node and pool action with the reason (reading the start task output
/// still works); a pool a repool run holds refuses them too.
#[tokio::test]
async fn readonly_and_a_run_holding_the_pool_refuse_single_calls() {
    let (mut app, sim) = demo_app(true).await;
    for k in ['z', 'f'] {
        assert!(app.update(key(k)).is_empty() && app.dialog.is_none());
        assert!(status(&app).starts_with("READ-ONLY"), "{}", status(&app));
    }
    nodes_of(&mut app, &sim, "p-render").await;
    for k in ['b', 'D', 'S'] {
        assert!(app.update(key(k)).is_empty() && app.dialog.is_none(), "{k}");
        assert!(status(&app).starts_with("READ-ONLY"), "{}", status(&app));
    }
    assert!(matches!(app.update(key('o')).as_slice(), [Command::Call(Call::StartTaskOutput { .. })]));
    assert_eq!(common::mutating_calls(&sim), 0);

    let (mut app, sim) = demo_app(false).await;
    let held = RunPoolSummary {
        id: "p-ingest".into(),
        state: "paused after wait-drained".into(),
        resumes_at: None,
        gone: false,
        held: true,
    };
    app.update(Action::Runs(vec![RunSummary { id: "r-1".into(), pools: vec![held], differs: vec![] }]));
    nodes_of(&mut app, &sim, "p-ingest").await;
    assert!(app.update(key('b')).is_empty() && app.dialog.is_none());
    assert!(status(&app).contains("a repool run holds p-ingest"), "{}", status(&app));
    assert!(app.update(key('z')).is_empty() && app.dialog.is_none());
    assert!(status(&app).contains("a repool run holds p-ingest"), "{}", status(&app));
}

/// The node actions and pool forms at 80×24, as an operator sees them.
#[tokio::test]
async fn pictures_at_80_by_24() {
    let (mut app, sim) = demo_app(false).await;
    common::fail_start_tasks(&sim, "win-test");
    nodes_of(&mut app, &sim, "p-render").await;
    app.update(key(' '));
    insta::assert_snapshot!("node_actions_80x24", render(&mut app, 80, 24));
    app.update(key('D'));
    typed(&mut app, "rem");
    insta::assert_snapshot!("remove_nodes_80x24", render(&mut app, 80, 24));
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Esc));
    select(&mut app, "etl-nightly");
    app.update(key('z'));
    app.update(code(KeyCode::Backspace));
    typed(&mut app, "1");
    insta::assert_snapshot!("resize_80x24", render(&mut app, 80, 24));
    app.update(code(KeyCode::Esc));
    select(&mut app, "p-render");
    app.update(key('f'));
    let sent = app.update(code(KeyCode::Enter));
    carried_out(&mut app, &sim, sent).await;
    insta::assert_snapshot!("autoscale_80x24", render(&mut app, 80, 24));
}
