//! The dashboard: update(Action) state tests, screen snapshots on simulator data, and the real
//! `repool demo` driven in a pseudo-terminal.

use crate::common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use repool::definition::{Definition, EXAMPLE};
use repool::rollout::engine::Progress;
use repool::rollout::journal::StepOutcome;
use repool::rollout::report::PoolStatus;
use repool::rollout::run::{Intent, Workspace};
use repool::rollout::step::Step;
use repool::tui::app::{Action, App, Command, Identity, RunPoolSummary, RunSummary, Screen};
use repool::tui::full::FullListing;
use repool::tui::keys::KeyMap;
use repool::tui::proposal::ProposalView;
use repool::tui::theme::Theme;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub(crate) fn code(k: KeyCode) -> Action {
    Action::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

/// What the dashboard's runtime does with a new run's command: the run driver's proposal against
/// the simulator, shown as the run's confirmation.
pub(crate) async fn proposed(app: &mut App, sim: &repool::sim::RunningSim, commands: Vec<Command>) {
    let (pools, intent, choices) = match commands.as_slice() {
        [Command::Run { run: None, pools, one_step: false, choices: Some(choices) }] => {
            (pools, Intent::Recreate, choices)
        }
        [Command::Apply { pools, choices }] => (pools, Intent::Apply, choices),
        [Command::Heal { pools, choices }] => (pools, Intent::Heal, choices),
        [Command::RefreshNodes { pools, choices }] => (pools, Intent::Refresh, choices),
        other => panic!("not a new run's proposal: {other:?}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let (api, policy) = (repool::batch::ApiVersion::V2024_07_01, Default::default());
    let workspace = Workspace::new(common::client_for(sim), api, policy, dir.path().to_path_buf());
    let definition = app.definition.clone().unwrap();
    let proposal = match intent {
        Intent::Heal => workspace.propose_heal(pools).await.unwrap(),
        Intent::Refresh => workspace.propose_refresh(pools).await.unwrap(),
        _ => workspace.propose(&definition, pools, intent, intent == Intent::Apply).await.unwrap(),
    };
    assert!(proposal.refusal().is_none(), "{:?}", proposal.findings);
    app.update(Action::Proposed(Box::new(ProposalView::of(&proposal, choices.clone()))));
}

/// What the runtime answers to `FullPool(id)`: the pool's full body, read on its own.
pub(crate) async fn full_pool(app: &mut App, sim: &repool::sim::RunningSim, id: &str) {
    let result = common::client_for(sim).get_pool(id, None).await.map(Box::new).map_err(|e| e.to_string());
    app.update(Action::FullPool { pool: id.into(), result });
}

pub(crate) fn typed(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

/// An app showing the frozen demo account, its clock pinned to the simulator's.
pub(crate) async fn demo_app(readonly: bool) -> (App, repool::sim::RunningSim) {
    let sim = common::frozen_sim(Some("demo")).await;
    let client = common::client_for(&sim);
    let pools = client.list_pool_summaries().await.unwrap();
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
    app.update(Action::FullPools(Ok(FullListing::of(full, app.definition.as_deref()))));
    app.update(Action::Tick(now.checked_add(jiff::SignedDuration::from_secs(3)).unwrap()));
    (app, sim)
}

pub(crate) fn render(app: &mut App, width: u16, height: u16) -> String {
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
    let pools = common::client_for(&sim).list_pool_summaries().await.unwrap();
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
    let (mut app, sim) = demo_app(false).await;
    typed(&mut app, "/p-render");
    app.update(code(KeyCode::Enter));
    let commands = app.update(code(KeyCode::Enter));
    assert_eq!(commands, [Command::FullPool("p-render".into())], "details read their pool's body alone");
    assert_eq!(app.screen, Screen::Detail("p-render".into()));
    full_pool(&mut app, &sim, "p-render").await;
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
async fn readonly_disables_every_mutating_key() {
    let (mut app, _sim) = demo_app(true).await;
    for k in ['n', 'R', 'u', 'H'] {
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

/// Selects `id` in the table by moving down to it, as an operator would.
pub(crate) fn select(app: &mut App, id: &str) {
    app.update(key('g'));
    while app.selected_pool().map(|p| p.id().to_string()).as_deref() != Some(id) {
        let before = app.selected;
        app.update(key('j'));
        assert_ne!(app.selected, before, "{id} is not in the table");
    }
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
    let pools = common::client_for(&sim).list_pool_summaries().await.unwrap();
    app.update(Action::Refreshed(Ok(pools)));
    let screen = render(&mut app, 160, 30);
    assert!(!screen.contains("deleted, not yet recreated"), "p-render exists: {screen}");
    assert!(screen.contains("1 unfinished run(s), newest run-0"), "{screen}");
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
