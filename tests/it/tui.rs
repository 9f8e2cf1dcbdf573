//! The dashboard: update(Action) state tests, screen snapshots on simulator data, and the real
//! `repool demo` driven in a pseudo-terminal.

use crate::common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use repool::definition::{Definition, EXAMPLE};
use repool::rollout::engine::Progress;
use repool::rollout::journal::StepOutcome;
use repool::rollout::policy::{OnUnhealthy, RunChoices};
use repool::rollout::report::PoolStatus;
use repool::rollout::run::{Intent, Workspace};
use repool::rollout::step::Step;
use repool::tui::app::{Action, App, Command, Dialog, Identity, RunPoolSummary, RunSummary, Screen};
use repool::tui::keys::KeyMap;
use repool::tui::proposal::ProposalView;
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

/// What the dashboard's runtime does with a new run's command: the run driver's proposal against
/// the simulator, shown as the run's confirmation.
async fn proposed(app: &mut App, sim: &repool::sim::RunningSim, commands: Vec<Command>) {
    let (pools, intent, choices) = match commands.as_slice() {
        [Command::Run { run: None, pools, one_step: false, choices: Some(choices) }] => {
            (pools, Intent::Recreate, choices)
        }
        [Command::Apply { pools, choices }] => (pools, Intent::Apply, choices),
        other => panic!("not a new run's proposal: {other:?}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let (api, policy) = (repool::batch::ApiVersion::V2024_07_01, Default::default());
    let workspace = Workspace::new(common::client_for(sim), api, policy, dir.path().to_path_buf());
    let definition = app.definition.clone().unwrap();
    let proposal = workspace.propose(&definition, pools, intent, intent == Intent::Apply).await.unwrap();
    assert!(proposal.refusal().is_none(), "{:?}", proposal.findings);
    app.update(Action::Proposed(Box::new(ProposalView::of(&proposal, choices.clone()))));
}

fn typed(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

/// An app showing the frozen demo account, its clock pinned to the simulator's.
async fn demo_app(readonly: bool) -> (App, repool::sim::RunningSim) {
    let sim = common::frozen_sim(Some("demo")).await;
    let client = common::client_for(&sim);
    let pools = client.list_pools(Some(repool::rollout::snapshots::POOL_SUMMARY_SELECT), None, None).await.unwrap();
    let counts = client.list_node_counts().await.unwrap();
    let full = client.list_pools(None, None, None).await.unwrap();
    let identity = Identity {
        account: "simaccount".into(),
        endpoint: "http://127.0.0.1:PORT/".into(),
        auth: "shared-key".into(),
        refresh_secs: 5,
        readonly,
        demo: true,
        ..Default::default()
    };
    let definition = Arc::new(Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap());
    let mut app = App::new(identity, KeyMap::default(), Some(definition), repool::batch::ApiVersion::V2024_07_01);
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
    // The simulator's port and the seeded pools' times (relative to now) change from run to run;
    // each is replaced by text of the same width, so the layout stays as drawn.
    let text = terminal.backend().to_string();
    let same_width = |caps: &regex::Captures, word: &str| format!("{:<w$}", word, w = caps[0].len());
    let text = regex::Regex::new(r"127\.0\.0\.1:\d+")
        .unwrap()
        .replace_all(&text, |c: &regex::Captures| same_width(c, "127.0.0.1:PORT"));
    // A time's fraction has as many digits as it needs: the spaces after it absorb the difference.
    regex::Regex::new(r#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z("?,?) *"#)
        .unwrap()
        .replace_all(&text, |c: &regex::Captures| same_width(c, &format!("TIME{}", &c[2])))
        .into_owned()
}

/// The sizes every screen is pictured at: the smallest usual terminal, a laptop, a wide monitor.
const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

fn snapshots(app: &mut App, name: &str) {
    for (width, height) in SIZES {
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), render(app, width, height));
    }
}

#[tokio::test]
async fn screens() {
    let (mut app, sim) = demo_app(false).await;
    snapshots(&mut app, "table");
    app.update(key('?'));
    snapshots(&mut app, "help");
    app.update(key('x'));
    assert_eq!(app.screen, Screen::Table, "any key closes help");
    select(&mut app, "p-ingest");
    app.update(code(KeyCode::Enter));
    snapshots(&mut app, "details_summary");
    app.update(code(KeyCode::Tab));
    snapshots(&mut app, "details_plan");
    assert_eq!(app.update(code(KeyCode::Tab)), [Command::NodesFor("p-ingest".into())], "the nodes tab lists nodes");
    let nodes = common::client_for(&sim).list_nodes("p-ingest", None).await.unwrap();
    app.update(Action::Nodes { pool: "p-ingest".into(), result: Ok(nodes) });
    snapshots(&mut app, "details_nodes");
    app.update(code(KeyCode::Tab));
    snapshots(&mut app, "details_json");
    app.update(code(KeyCode::Esc));
    typed(&mut app, "/p-");
    app.update(code(KeyCode::Enter));
    app.update(key(' '));
    app.update(key(' '));
    let propose = app.update(key('R'));
    proposed(&mut app, &sim, propose).await;
    typed(&mut app, "recr");
    snapshots(&mut app, "confirm");
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
        error: Some("draining did not finish: 2 node(s) still run tasks after the drain timeout of 60 minutes".into()),
    }));
    snapshots(&mut app, "run");
    app.update(key('l'));
    // Log lines carry wall-clock times; pin them so the picture is reproducible.
    let pinned: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    app.log.iter_mut().for_each(|line| line.at = pinned);
    snapshots(&mut app, "log");
    app.update(code(KeyCode::Esc));
    app.accounts = vec![
        ("prod".into(), "https://prod.westeurope.batch.azure.com".into()),
        ("sim".into(), "http://127.0.0.1:PORT/".into()),
    ];
    app.update(key(':'));
    typed(&mut app, "ctx");
    app.update(code(KeyCode::Enter));
    snapshots(&mut app, "accounts");
    app.update(code(KeyCode::Esc));
    app.run_active = true;
    app.update(key('q'));
    snapshots(&mut app, "quit");
    app.update(key('n'));
    assert!(!app.quit, "any key but y stays");
}

/// At 80×24 nothing an operator reads is cut: every header whole, ages and states whole, and the
/// hint line ends with help and quit in every view.
#[tokio::test]
async fn every_screen_reads_whole_at_80_by_24() {
    let (mut app, _sim) = demo_app(false).await;
    let screen = render(&mut app, 80, 24);
    for header in ["ID", "AGE", "STATE", "ALLOC ", "DEF"] {
        assert!(screen.contains(header), "{header} in\n{screen}");
    }
    for cut in ["ALLOCATI", "DEDICA", "VM SIZ "] {
        assert!(!screen.contains(cut), "{cut} cut in\n{screen}");
    }
    let legacy = screen.lines().find(|l| l.contains("legacy-batch")).unwrap();
    assert!(legacy.contains("37d") && legacy.contains("steady 37d") && legacy.contains("active"), "{legacy}");
    let hints = |app: &mut App| render(app, 80, 24).lines().last().unwrap().to_string();
    for keys in [&[][..], &[KeyCode::Enter][..], &[KeyCode::Enter, KeyCode::Tab, KeyCode::Tab][..]] {
        app.update(code(KeyCode::Esc));
        app.update(code(KeyCode::Esc));
        for k in keys {
            app.update(code(*k));
        }
        let line = hints(&mut app);
        assert!(line.contains("? help") && line.contains("q quit"), "{:?}: {line}", app.screen);
    }
    app.update(code(KeyCode::Esc));
    app.update(key('U'));
    assert!(hints(&mut app).contains("q quit"));
    app.update(key('l'));
    assert!(hints(&mut app).contains("e errors only") && hints(&mut app).contains("q quit"));
    let (mut readonly, _sim) = demo_app(true).await;
    let line = hints(&mut readonly);
    assert!(!line.contains("recreate") && line.contains("q quit"), "read-only offers no recreate: {line}");
}

/// Details scroll, the nodes tab lists the open pool's nodes on every refresh (and no other's),
/// and `w` writes the JSON the details show.
#[tokio::test]
async fn details_scroll_list_nodes_and_write_json() {
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-ingest");
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::BackTab));
    assert_eq!(app.detail_tab.name(), "json");
    render(&mut app, 80, 24);
    assert!(app.detail_lines > 20, "the JSON is longer than the screen");
    app.update(key('G'));
    let screen = render(&mut app, 80, 24);
    assert!(app.detail_scroll > 0 && screen.contains(&format!("{}/{}", app.detail_scroll + 1, app.detail_lines)));
    let written = app.update(key('w'));
    let [Command::WriteJson { pool, body }] = written.as_slice() else { panic!("{written:?}") };
    assert_eq!(pool, "p-ingest");
    assert_eq!(body["vmSize"], "standard_d4s_v3");
    app.update(code(KeyCode::Tab));
    assert_eq!(app.detail_tab.name(), "summary");
    let pools = common::client_for(&sim)
        .list_pools(Some(repool::rollout::snapshots::POOL_SUMMARY_SELECT), None, None)
        .await
        .unwrap();
    let refreshed = app.update(Action::Refreshed(Ok(pools.clone())));
    assert!(!refreshed.iter().any(|c| matches!(c, Command::NodesFor(_))), "no node listing outside the nodes tab");
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Tab));
    let refreshed = app.update(Action::Refreshed(Ok(pools)));
    assert!(refreshed.contains(&Command::NodesFor("p-ingest".into())), "{refreshed:?}");
    // An answer for a pool no longer open is dropped.
    app.update(code(KeyCode::Esc));
    app.update(Action::Nodes { pool: "p-ingest".into(), result: Ok(vec![]) });
    assert!(app.nodes.is_none());
}

/// While a pool drains, its nodes tab says which nodes still run which tasks, and since when.
#[tokio::test]
async fn the_drain_inspector_names_the_nodes_and_tasks_still_running() {
    let (mut app, sim) = demo_app(false).await;
    // The frozen clock does not move: the tasks began a minute ago.
    sim.with_world(|world, now| {
        for node in &mut world.find_mut("p-ingest").unwrap().nodes {
            node.tasks_begin_at(now - 60.0);
        }
    });
    let client = common::client_for(&sim);
    let request = repool::batch::ResizeRequest {
        target_dedicated_nodes: Some(0),
        target_low_priority_nodes: Some(0),
        node_deallocation_option: Some(repool::batch::NodeDeallocationOption::TaskCompletion),
        ..Default::default()
    };
    client.resize_pool("p-ingest", &request).await.unwrap();
    let nodes = client.list_nodes("p-ingest", None).await.unwrap();
    app.update(Action::Progress(Progress::StepStarted { pool: "p-ingest".into(), step: Step::WaitDrained }));
    app.update(key(':'));
    typed(&mut app, "nodes p-ingest");
    let commands = app.update(code(KeyCode::Enter));
    assert!(commands.contains(&Command::NodesFor("p-ingest".into())), "{commands:?}");
    app.update(Action::Nodes { pool: "p-ingest".into(), result: Ok(nodes) });
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("drain: 4 of 4 node(s) still run tasks"), "{screen}");
    assert!(screen.contains("job-p-ingest/task-"), "{screen}");
}

/// `:` commands with completion, the regex filter and its inversion, sorting by any column.
#[tokio::test]
async fn command_mode_regex_filter_and_sorting_every_column() {
    let (mut app, _sim) = demo_app(false).await;
    app.accounts = vec![("prod".into(), "https://prod".into()), ("staging".into(), "https://staging".into())];
    app.update(key(':'));
    typed(&mut app, "ct");
    app.update(code(KeyCode::Tab));
    assert_eq!(app.command.as_deref(), Some("ctx"));
    typed(&mut app, " st");
    app.update(code(KeyCode::Tab));
    assert_eq!(app.command.as_deref(), Some("ctx staging"));
    assert_eq!(app.update(code(KeyCode::Enter)), [Command::SwitchAccount("staging".into())]);
    app.update(key(':'));
    typed(&mut app, "ctx nope");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert!(app.status.as_deref().unwrap().contains("prod, staging"), "{:?}", app.status);
    app.update(key(':'));
    typed(&mut app, "ctx");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Accounts);
    app.update(code(KeyCode::Esc));
    typed(&mut app, "/^(p-|win)");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.rows().len(), 4);
    app.update(code(KeyCode::Esc));
    typed(&mut app, "/!^(p-|win)");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.rows().len(), 8, "inverted");
    app.update(code(KeyCode::Esc));
    // Text that is not a regex yet is matched literally, and the status line (which wraps) says why.
    typed(&mut app, "/p-(");
    let status = app.status.clone().unwrap_or_default();
    assert!(status.contains("'p-(' is matched literally: not a regex"), "{status}");
    app.update(code(KeyCode::Esc));
    for column in repool::tui::columns::Column::ALL {
        app.update(key(':'));
        typed(&mut app, &format!("sort {}", column.name()));
        app.update(code(KeyCode::Enter));
        assert_eq!(app.sort.0, column);
    }
    app.update(key(':'));
    typed(&mut app, "sort errors");
    app.update(code(KeyCode::Enter));
    app.update(key('g'));
    assert_eq!(app.selected_pool().unwrap().id(), "legacy-batch", "pools with errors first");
    app.update(key(':'));
    typed(&mut app, "sort errors");
    app.update(code(KeyCode::Enter));
    assert!(!app.sort.1, "the same column again reverses");
    app.update(key(':'));
    typed(&mut app, "log ingest");
    app.update(code(KeyCode::Enter));
    assert_eq!((app.screen.clone(), app.log.filter.text()), (Screen::Log, "ingest"));
}

/// The log folds the refresh cycle's reads, filters by text (a pool id) and by errors.
#[tokio::test]
async fn the_log_folds_refresh_calls_and_filters() {
    let (mut app, _sim) = demo_app(false).await;
    let event = |method: &str, path: &str, status: u16| repool::batch::ApiEvent {
        operation: "test",
        method: method.into(),
        path: path.into(),
        status: Some(status),
        attempt: 1,
        elapsed: Duration::from_millis(3),
        error: None,
        date: None,
    };
    for _ in 0..20 {
        app.update(Action::Api(event("GET", "/pools?$select=id", 200)));
        app.update(Action::Api(event("GET", "/nodecounts", 200)));
    }
    app.update(Action::Api(event("POST", "/pools/p-ingest/resize", 202)));
    app.update(Action::Api(event("GET", "/pools/p-render", 404)));
    app.update(key('l'));
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("×20"), "{screen}");
    assert_eq!(screen.matches("GET /nodecounts").count(), 1, "{screen}");
    app.update(key('/'));
    typed(&mut app, "p-ingest");
    app.update(code(KeyCode::Enter));
    let shown: Vec<String> = app.log.shown().iter().map(|l| l.text.clone()).collect();
    assert!(shown.iter().all(|l| l.contains("p-ingest")) && !shown.is_empty(), "{shown:?}");
    app.update(code(KeyCode::Esc));
    app.update(key('e'));
    let shown: Vec<String> = app.log.shown().iter().map(|l| l.text.clone()).collect();
    assert!(shown.iter().all(|l| l.contains("404")) && !shown.is_empty(), "{shown:?}");
}

/// An account that does not answer gets a banner that says so, whole, and that it keeps trying.
#[tokio::test]
async fn an_unreachable_account_gets_a_banner() {
    let (mut app, _sim) = demo_app(false).await;
    let error = "cannot reach the Batch account at http://127.0.0.1:9/ (no answer since the first try, 6 s ago): \
                 connection refused. Check the account URL (`repool info` shows it)";
    app.update(Action::Refreshed(Err(error.into())));
    app.update(Action::Refreshed(Err(error.into())));
    let screen = render(&mut app, 80, 24);
    // Wrapped at spaces, whole: the error, how many tries failed, where to read more.
    let joined = screen.replace(['\n', ' ', '"'], "");
    assert!(screen.contains("does not answer") && joined.contains("2triesfailed)·llog"), "{screen}");
    assert!(joined.contains("connectionrefused.ChecktheaccountURL"), "{screen}");
}

#[tokio::test]
async fn details_show_properties_redacted_and_the_plan() {
    let (mut app, _sim) = demo_app(false).await;
    typed(&mut app, "/p-render");
    app.update(code(KeyCode::Enter));
    let commands = app.update(code(KeyCode::Enter));
    assert_eq!(commands, [Command::RefreshFull]);
    assert_eq!(app.screen, Screen::Detail("p-render".into()));
    app.update(code(KeyCode::Tab));
    let screen = render(&mut app, 160, 60);
    assert!(screen.contains("plan: recreate"), "{screen}");
    assert!(screen.contains("virtualMachineConfiguration.imageReference.offer"), "{screen}");
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Tab));
    let screen = render(&mut app, 160, 60);
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
    // The cursor stays on its pool across sorting and filtering, wherever its row moves.
    select(&mut app, "etl-nightly");
    app.update(key('s'));
    assert_eq!(app.selected_pool().unwrap().id(), "etl-nightly", "id descending, the same pool");
    assert_eq!(app.pools[app.rows()[0]].id(), "win-test", "id descending");
    app.update(key('s'));
    assert_eq!(app.sort.0.name(), "age");
    assert_eq!(app.selected_pool().unwrap().id(), "etl-nightly");
    let oldest = app.pools.iter().filter_map(|p| p.creation_time).min();
    assert_eq!(app.pools[app.rows()[0]].creation_time, oldest, "oldest first: the pools most due");
    typed(&mut app, "/e");
    assert_eq!(app.selected_pool().unwrap().id(), "etl-nightly", "still shown: still selected");
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.selected_pool().unwrap().id(), "etl-nightly");
    app.update(key('s'));
    app.update(key('s'));
    assert_eq!(app.sort.0.name(), "state");
    assert_eq!(app.update(key('r')), [Command::Refresh]);
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
    app.update(Action::RunStarted {
        run: "run-1".into(),
        pools: vec!["p-ingest".into()],
        warnings: vec![],
        strategies: Default::default(),
        finished: Default::default(),
    });
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
        .list_pools(Some(repool::rollout::snapshots::POOL_SUMMARY_SELECT), None, None)
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
    assert!(screen.contains("4 node(s) left (:nodes)"), "{screen}");
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("drain") && screen.contains("4 node(s) left"), "{screen}");
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
    app.update(Action::RunStarted {
        run: "run-1".into(),
        pools: vec!["p-render".into()],
        warnings: vec![],
        strategies: Default::default(),
        finished: Default::default(),
    });
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
        .list_pools(Some(repool::rollout::snapshots::POOL_SUMMARY_SELECT), None, None)
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
    let (mut app, sim) = demo_app(false).await;
    select(&mut app, "p-render");
    app.update(Action::RunStarted {
        run: "run-1".into(),
        pools: vec!["p-render".into()],
        warnings: vec![],
        strategies: Default::default(),
        finished: Default::default(),
    });
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
            held: true,
        }],
        differs: vec![],
    };
    app.update(Action::Runs(vec![summary]));
    let pools = common::client_for(&sim)
        .list_pools(Some(repool::rollout::snapshots::POOL_SUMMARY_SELECT), None, None)
        .await
        .unwrap();
    app.update(Action::Refreshed(Ok(pools)));
    let screen = render(&mut app, 160, 30);
    assert!(!screen.contains("deleted, not yet recreated"), "p-render exists: {screen}");
    assert!(screen.contains("1 unfinished run(s), newest run-0"), "{screen}");
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
    let started = |run: &str, pool: &str, finished: BTreeMap<String, Step>| Action::RunStarted {
        run: run.into(),
        pools: vec![pool.into()],
        warnings: vec![],
        strategies: Default::default(),
        finished,
    };
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

/// Warnings reach the status line and the log; `e` and `w` in the list say where they work; a
/// pool a run deleted plans as "create"; ages run on the account's clock.
#[tokio::test]
async fn notes_idle_keys_deleted_rows_and_the_accounts_clock() {
    let (mut app, sim) = demo_app(false).await;
    app.update(Action::Note("warning: config.toml holds a secret".into()));
    assert_eq!(app.status.as_deref(), Some("warning: config.toml holds a secret"));
    assert!(app.log.shown().iter().any(|l| l.error && l.text.contains("holds a secret")));
    app.update(key('w'));
    assert!(app.status.as_deref().unwrap().contains("from its details"), "{:?}", app.status);
    app.update(key('e'));
    assert!(app.status.as_deref().unwrap().contains("activity log"), "{:?}", app.status);
    assert_eq!(app.update(Action::Key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL))), [Command::Repaint]);
    // p-render deleted by a run: its row plans as "create", as the run will.
    let gone = RunSummary {
        id: "run-0".into(),
        pools: vec![RunPoolSummary {
            id: "p-render".into(),
            state: "paused after delete".into(),
            resumes_at: Some(Step::WaitGone),
            gone: true,
            held: true,
        }],
        differs: vec![],
    };
    app.update(Action::Runs(vec![gone]));
    let without: Vec<_> = app.pools.iter().filter(|p| p.id() != "p-render").cloned().collect();
    app.update(Action::Refreshed(Ok(without)));
    assert_eq!(repool::tui::columns::definition_label(&app, "p-render"), "create");
    // The account's clock is two days ahead of this machine's (a simulator at speed): ages follow it.
    let ahead = app.now.checked_add(jiff::SignedDuration::from_hours(48)).unwrap();
    app.update(Action::Api(repool::batch::ApiEvent {
        operation: "test",
        method: "GET".into(),
        path: "/pools".into(),
        status: Some(200),
        attempt: 1,
        elapsed: Duration::from_millis(3),
        error: None,
        date: Some(ahead),
    }));
    let created = sim.with_world(|w, _| w.find("sandbox").unwrap().wire.creation_time).unwrap();
    let sandbox = app.pools.iter().find(|p| p.id() == "sandbox").unwrap().clone();
    let shown = repool::tui::columns::Column::Age.text(&app, &sandbox, false);
    assert_eq!(shown, repool::output::age(ahead, created), "age on the account's clock");
    assert_ne!(shown, repool::output::age(app.now, created));
}

#[tokio::test]
async fn a_pool_on_a_retiring_vm_family_shows_when_its_support_ends() {
    let (mut app, _sim) = demo_app(false).await;
    let pool = app.pools.iter_mut().find(|p| p.id() == "reporting").unwrap();
    pool.vm_size = Some("standard_ds2_v2".into());
    let table = render(&mut app, 120, 40);
    let row = table.lines().find(|l| l.contains("reporting")).unwrap();
    assert!(row.contains("ds2_v2") && row.contains("† EOL 2028-05-01"), "{table}");
    // A resize error is what the column says first; the details say both.
    let row = table.lines().find(|l| l.contains("legacy-batch")).unwrap();
    assert!(row.contains("⚠ AccountCoreQuotaReached") && !row.contains("EOL"), "{table}");
    // Sorted by that column: errors first, then the earliest end of support.
    app.update(key(':'));
    typed(&mut app, "sort errors");
    app.update(code(KeyCode::Enter));
    app.update(key('g'));
    assert_eq!(app.selected_pool().unwrap().id(), "legacy-batch");
    app.update(key('j'));
    assert_eq!(app.selected_pool().unwrap().id(), "ci-runners", "Ubuntu 22.04 ends before Dsv2");
    select(&mut app, "reporting");
    app.update(code(KeyCode::Enter));
    let details = render(&mut app, 120, 40);
    assert!(details.contains("† Batch support: VM family Dsv2 ends 2028-05-01 (Azure/Batch#140)"), "{details}");
    app.update(code(KeyCode::Esc));
    select(&mut app, "legacy-batch");
    app.update(code(KeyCode::Enter));
    let details = render(&mut app, 120, 40);
    assert!(details.contains("† Batch support: Ubuntu 18.04 ended 2024-12-31 (Azure/Batch#180)"), "{details}");
}
