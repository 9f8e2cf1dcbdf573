//! The snapshots poller on a large account: a refresh that lists the same bytes as the one
//! before publishes the very same pools (nothing parsed, and nothing copied or sorted by the
//! dashboard), yet counts as a fresh view for waits and reports the listing's health; a change
//! on one page only publishes new pools.

use crate::common;
use repool::batch::{BatchClient, PoolState};
use repool::rollout::snapshots::{Pace, Snapshot, Snapshots};
use repool::sim::RunningSim;
use repool::sim::faults::{Rate, Rule};
use std::sync::Arc;
use std::time::Duration;

/// The demo account and 2,000 more pools: three pages (1,000, 1,000, 12).
async fn large_account() -> (RunningSim, BatchClient, Arc<Snapshots>) {
    let sim = common::frozen_sim(Some("demo")).await;
    let clock = sim.state.clock.lock().unwrap().clone();
    sim.with_world(|w, _| repool::sim::seed::generated(w, &clock, 2000)).unwrap();
    let client = common::client_for(&sim);
    let pace = Pace { interval: Duration::from_millis(50), fast: Duration::from_millis(10) };
    let snapshots = Snapshots::new(client.clone(), pace);
    (sim, client, snapshots)
}

async fn refreshed(snapshots: &Snapshots) -> Arc<Snapshot> {
    snapshots.refresh().await.expect("the listing succeeds");
    snapshots.latest()
}

#[tokio::test]
async fn an_unchanged_refresh_publishes_the_same_pools_and_a_change_on_one_page_new_ones() {
    let (sim, client, snapshots) = large_account().await;
    let first = refreshed(&snapshots).await;
    assert_eq!(first.pools.len(), 2012);

    let same = refreshed(&snapshots).await;
    assert!(Arc::ptr_eq(&first.pools, &same.pools), "nothing changed: the very same pools, nothing parsed");
    assert!(same.requested > first.requested, "still a view of its own, requested later");

    // A state changed on the second page only.
    client.delete_pool("gen-1500", None).await.unwrap();
    let deleting = refreshed(&snapshots).await;
    assert!(!Arc::ptr_eq(&same.pools, &deleting.pools), "a changed page publishes new pools");
    assert_eq!(deleting.get("gen-1500").and_then(|p| p.state.clone()), Some(PoolState::Deleting));
    assert_eq!(same.get("gen-1500").and_then(|p| p.state.clone()), Some(PoolState::Active));
    assert_eq!(deleting.pools.len(), 2012, "the unchanged pages' pools are all there");
    assert_eq!(deleting.get("gen-0001"), same.get("gen-0001"));

    let again = refreshed(&snapshots).await;
    assert!(Arc::ptr_eq(&deleting.pools, &again.pools), "unchanged again after the change");

    // A pool added on the last page only, then one removed from the first page only.
    let body = serde_json::json!({
        "id": "zz-added", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 0,
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"
        }
    });
    client.add_pool(&body).await.unwrap();
    let added = refreshed(&snapshots).await;
    assert_eq!(added.pools.len(), 2013);
    assert!(added.get("zz-added").is_some() && added.get("gen-1500").is_some());
    sim.with_world(|w, _| w.pools.remove("gen-0002").map(drop).ok_or("no gen-0002".to_string())).unwrap();
    let removed = refreshed(&snapshots).await;
    assert_eq!(removed.pools.len(), 2012);
    assert!(removed.get("gen-0002").is_none() && removed.get("zz-added").is_some());
}

/// A failed listing is reported (the pools kept, stale); the next one, though the same as the
/// last whole listing, clears the error.
#[tokio::test]
async fn an_unchanged_refresh_after_a_failed_one_reports_the_listing_healthy_again() {
    let (sim, _client, snapshots) = large_account().await;
    let first = refreshed(&snapshots).await;
    sim.with_world(|w, _| {
        w.faults.unauthorized_401 =
            Rate { rules: vec![Rule { next: 1, only: Some("list-pools".into()), ..Default::default() }] };
        Ok::<_, String>(())
    })
    .unwrap();
    assert!(snapshots.refresh().await.is_err(), "the listing was refused");
    let failed = snapshots.latest();
    assert!(failed.error.is_some(), "the failure is reported");
    assert!(Arc::ptr_eq(&first.pools, &failed.pools), "the last pools are kept");
    let healthy = refreshed(&snapshots).await;
    assert!(healthy.error.is_none(), "the listing is healthy again");
    assert!(Arc::ptr_eq(&first.pools, &healthy.pools));
}

/// A wait needs a view requested after it began: an unchanged refresh is one.
#[tokio::test]
async fn a_wait_is_satisfied_by_an_unchanged_refresh_after_it_began() {
    let (_sim, _client, snapshots) = large_account().await;
    let before = refreshed(&snapshots).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    snapshots.poll_for_waits(Pace { interval: Duration::from_millis(50), fast: Duration::from_millis(10) });
    let seen = snapshots
        .wait_for("gen-0007", Duration::from_secs(60), Duration::from_secs(60), &cancel, |p| p.is_some())
        .await
        .expect("the wait ends on the next refresh");
    assert_eq!(seen.as_ref().map(|p| p.id()), Some("gen-0007"));
    let after = snapshots.latest();
    assert!(after.requested > before.requested && Arc::ptr_eq(&before.pools, &after.pools));
}
