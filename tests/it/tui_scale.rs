//! A large account on the dashboard: only the rows that fit are built, the first page of the
//! first listing is drawn as it arrives and later pages merged, and a refresh that changes
//! nothing sorts and draws nothing.

use crate::common;
use crate::tui::{demo_app, key, render};
use repool::batch::PoolSummary;
use repool::tui::app::{Action, App, Command, RunPoolSummary, RunSummary};
use std::rc::Rc;

#[tokio::test]
async fn only_visible_rows_are_built() {
    let (mut app, sim) = demo_app(false).await;
    let clock = sim.state.clock.lock().unwrap().clone();
    sim.with_world(|w, _| repool::sim::seed::generated(w, &clock, 3000)).unwrap();
    let pools = common::client_for(&sim).list_pool_summaries().await.unwrap();
    assert_eq!(pools.len(), 3012, "3012 pools in 4 pages of 1000");
    app.update(Action::Refreshed(Ok(pools)));
    app.update(key('G'));
    let screen = render(&mut app, 150, 30);
    assert!(screen.contains("win-test") && screen.contains("pools 3012/3012"), "{screen}");
    assert!(app.visible_ids().len() <= 30);
}

fn selected(app: &App) -> String {
    app.selected_pool().map(|p| p.id().to_string()).unwrap_or_default()
}

/// The account's first listing, page by page as the service sends them: the first page is
/// drawn at once; each later page is merged (a pool again replaces its row), the selection
/// staying on its pool while rows sorting before it arrive; the whole listing replaces the rest.
#[tokio::test]
async fn the_first_page_is_drawn_at_once_and_later_pages_merged_keeping_the_selection() {
    let (_, sim) = demo_app(false).await;
    let clock = sim.state.clock.lock().unwrap().clone();
    sim.with_world(|w, _| repool::sim::seed::generated(w, &clock, 1500)).unwrap();
    let client = common::client_for(&sim);
    let mut pages: Vec<Vec<PoolSummary>> = Vec::new();
    client.list_pool_summary_pages(|page| pages.push(page)).await.unwrap();
    assert_eq!(pages.len(), 2, "1512 pools in two pages");
    let mut app = App::new(Default::default(), Default::default(), None, repool::batch::ApiVersion::V2024_07_01);

    app.update(Action::PoolsPage(pages[0].clone()));
    let screen = render(&mut app, 150, 30);
    let first = pages[0].len();
    assert!(screen.contains(&format!("pools 1/{first}")) && screen.contains("loading…"), "{screen}");
    // The service pages in id order: by id descending, every pool of the second page sorts
    // before those of the first.
    app.update(key('s'));
    app.update(key('g'));
    for _ in 0..first {
        if selected(&app) == "gen-0500" {
            break;
        }
        app.update(key('j'));
    }
    let at = app.selected;

    app.update(Action::PoolsPage(pages[1].clone()));
    assert_eq!(selected(&app), "gen-0500", "the selection stays on its pool");
    assert_eq!(app.selected, at + pages[1].len(), "the rows merged sort before it");
    let screen = render(&mut app, 150, 30);
    assert!(screen.contains(&format!("pools {}/1512", app.selected + 1)), "{screen}");
    app.update(Action::PoolsPage(pages[1].clone()));
    assert_eq!(app.pools.len(), 1512, "a page again replaces its pools' rows");

    let all = client.list_pool_summaries().await.unwrap();
    app.update(Action::Refreshed(Ok(all)));
    assert_eq!((app.pools.len(), selected(&app).as_str()), (1512, "gen-0500"));
    assert!(!render(&mut app, 150, 30).contains("loading…"));
}

/// A refresh that brings what the table already shows makes no rows and asks for no frame; one
/// that changes a pool does both.
#[tokio::test]
async fn a_refresh_that_changes_nothing_sorts_and_draws_nothing() {
    let (mut app, sim) = demo_app(false).await;
    let client = common::client_for(&sim);
    let pools = client.list_pool_summaries().await.unwrap();
    app.update(Action::Refreshed(Ok(pools.clone())));
    render(&mut app, 150, 30);
    app.dirty = false;
    let rows = app.rows();
    app.update(Action::Refreshed(Ok(pools.clone())));
    assert!(!app.dirty, "nothing changed: no frame");
    assert!(Rc::ptr_eq(&rows, &app.rows()), "nothing changed: the rows are not made again");

    let mut changed = pools;
    changed[0].target_dedicated_nodes = Some(99);
    app.update(Action::Refreshed(Ok(changed)));
    assert!(app.dirty, "a changed pool is drawn");
    assert!(!Rc::ptr_eq(&rows, &app.rows()), "and the rows made again");
}

/// The poller listed the same bytes again: the app is told so (`RefreshedSame`) and neither
/// copies, compares, sorts nor draws, yet counts the refresh (the error cleared, node counts
/// asked for; the same node counts again change nothing either) and still shows a pool a run
/// deleted meanwhile as a row of its own.
#[tokio::test]
async fn the_same_listing_again_costs_nothing_but_still_shows_a_pool_a_run_deleted() {
    let (mut app, sim) = demo_app(false).await;
    let pools = common::client_for(&sim).list_pool_summaries().await.unwrap();
    app.update(Action::Refreshed(Ok(pools.clone())));
    app.update(Action::Refreshed(Err("list pools: 503".into())));
    render(&mut app, 150, 30);
    app.dirty = false;
    let rows = app.rows();
    let commands = app.update(Action::RefreshedSame);
    assert!(app.refresh_error.is_none(), "the listing is healthy again");
    assert!(app.dirty, "the error leaves the screen");
    assert!(commands.iter().any(|c| matches!(c, Command::NodeCountsFor(_))), "{commands:?}");
    assert!(Rc::ptr_eq(&rows, &app.rows()), "the rows are not made again");
    render(&mut app, 150, 30);
    app.dirty = false;
    app.update(Action::RefreshedSame);
    assert!(!app.dirty, "nothing changed: no frame");
    assert!(Rc::ptr_eq(&rows, &app.rows()));
    assert_eq!(app.pools, pools);

    // The node counts asked for after each refresh: the same again sort and draw nothing.
    let counts = common::client_for(&sim).list_node_counts().await.unwrap();
    app.update(Action::NodeCounts(counts.clone()));
    app.dirty = false;
    let rows = app.rows();
    app.update(Action::NodeCounts(counts.clone()));
    assert!(!app.dirty && Rc::ptr_eq(&rows, &app.rows()), "the same node counts: no sorting, no frame");
    let mut more = counts;
    more[0].dedicated.running += 1;
    app.update(Action::NodeCounts(more));
    assert!(app.dirty && !Rc::ptr_eq(&rows, &app.rows()), "changed node counts are drawn (and may sort)");

    // A run deleted a pool the account never had (say, already gone when the run paused).
    let run = RunSummary {
        id: "run-0".into(),
        pools: vec![RunPoolSummary {
            id: "p-vanished".into(),
            state: "paused after delete".into(),
            resumes_at: None,
            gone: true,
            held: true,
        }],
        differs: vec![],
    };
    app.update(Action::Runs(vec![run]));
    app.update(Action::RefreshedSame);
    assert_eq!(app.pools.len(), pools.len() + 1, "the gone pool has a row");
    assert_eq!(app.pools.last().map(|p| p.id()), Some("p-vanished"));
    app.dirty = false;
    let rows = app.rows();
    app.update(Action::RefreshedSame);
    assert!(!app.dirty && Rc::ptr_eq(&rows, &app.rows()), "and again nothing to do");
    assert_eq!(app.pools.len(), pools.len() + 1);
}
