//! One view of every pool, refreshed by one paged list call per poll, shared by all waits (and
//! by the dashboard): waiting on 200 pools costs what waiting on one does.

use crate::batch::{BatchClient, BatchError, Pool};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// The properties waits and the pool table need.
pub const POOL_SUMMARY_SELECT: &str = "id,eTag,creationTime,state,allocationState,allocationStateTransitionTime,\
enableAutoScale,currentDedicatedNodes,targetDedicatedNodes,currentLowPriorityNodes,targetLowPriorityNodes,vmSize,resizeErrors";

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// When the list call that produced it was sent; None before the first.
    pub requested: Option<Instant>,
    /// Keyed by lower-cased id.
    pub pools: HashMap<String, Pool>,
    pub error: Option<String>,
}

impl Snapshot {
    pub fn get(&self, id: &str) -> Option<&Pool> {
        self.pools.get(&id.to_lowercase())
    }
}

pub struct Snapshots {
    client: BatchClient,
    tx: watch::Sender<Arc<Snapshot>>,
    fast: AtomicBool,
    waiters: AtomicUsize,
    /// A wait began and needs a view newer than itself.
    wanted: Notify,
    /// Since when every list call was refused for its credentials (401/403, or no token), and why.
    signin_failing: std::sync::Mutex<Option<(Instant, String)>>,
}

#[derive(Debug)]
pub enum WaitError {
    Timeout(Option<Box<Pool>>),
    Cancelled,
    /// Sign-in kept failing for the whole grace period: why.
    SignIn(String),
}

struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Snapshots {
    pub fn new(client: BatchClient) -> Arc<Self> {
        let (tx, _) = watch::channel(Arc::new(Snapshot::default()));
        Arc::new(Snapshots {
            client,
            tx,
            fast: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            wanted: Notify::new(),
            signin_failing: std::sync::Mutex::new(None),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// One paged list call; the result (or its error) is published to every waiter.
    pub async fn refresh(&self) -> Result<(), BatchError> {
        let requested = Instant::now();
        match self.client.list_pools(Some(POOL_SUMMARY_SELECT), None, None).await {
            Ok(pools) => {
                *self.signin_failing.lock().expect("sign-in state") = None;
                let pools = pools.into_iter().map(|p| (p.id().to_lowercase(), p)).collect();
                self.tx.send_replace(Arc::new(Snapshot { requested: Some(requested), pools, error: None }));
                Ok(())
            }
            Err(e) => {
                if matches!(e.status(), Some(401 | 403)) || matches!(e, BatchError::Auth { .. }) {
                    let mut failing = self.signin_failing.lock().expect("sign-in state");
                    let since = failing.as_ref().map_or_else(Instant::now, |(since, _)| *since);
                    *failing = Some((since, e.to_string()));
                }
                let mut stale = (*self.latest()).clone();
                stale.error = Some(e.to_string());
                self.tx.send_replace(Arc::new(stale));
                Err(e)
            }
        }
    }

    /// Ask for the next poll soon: a transition is expected.
    pub fn request_fast(&self) {
        self.fast.store(true, Ordering::SeqCst);
    }

    pub fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Polls while anyone waits, until cancelled: every `interval`, or `fast_interval` after a
    /// poll when a change was just made, a wait just ended (its siblings are likely close behind)
    /// or a new wait began (so a wait that is already satisfied ends at once, not a whole
    /// interval later). Never closer than three times the last list call took, so a large
    /// account is not listed back to back.
    pub async fn poll(self: Arc<Self>, interval: Duration, fast_interval: Duration, cancel: CancellationToken) {
        loop {
            let polled = tokio::time::Instant::now();
            if self.has_waiters()
                && let Err(e) = self.refresh().await
            {
                tracing::warn!("refreshing pools failed: {e}");
            }
            let soonest = fast_interval.max(polled.elapsed() * 3);
            let pause = if self.fast.swap(false, Ordering::SeqCst) { soonest } else { interval.max(soonest) };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(polled + pause) => {}
                _ = self.wanted.notified() => tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep_until(polled + soonest) => {}
                },
            }
        }
    }

    /// Waits until `done` holds for pool `id` (None: absent) in a snapshot requested after this
    /// wait began, so a view from before our own change never counts. Gives up when sign-in has
    /// failed for `sign_in_grace` without a break: waiting on would only hide it.
    pub async fn wait_for(
        &self,
        id: &str,
        timeout: Duration,
        sign_in_grace: Duration,
        cancel: &CancellationToken,
        done: impl Fn(Option<&Pool>) -> bool,
    ) -> Result<Option<Pool>, WaitError> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _guard = WaiterGuard(&self.waiters);
        let began = Instant::now();
        self.wanted.notify_one();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            {
                let snapshot = rx.borrow_and_update().clone();
                let fresh = snapshot.requested.is_some_and(|t| t >= began) && snapshot.error.is_none();
                if fresh && done(snapshot.get(id)) {
                    // Pools started together finish together: look again soon for the others.
                    self.request_fast();
                    return Ok(snapshot.get(id).cloned());
                }
                let failing = self.signin_failing.lock().expect("sign-in state").clone();
                if let Some((_, why)) = failing.filter(|(since, _)| since.elapsed() >= sign_in_grace) {
                    return Err(WaitError::SignIn(why));
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(WaitError::Cancelled),
                _ = tokio::time::sleep_until(deadline) => return Err(WaitError::Timeout(self.latest().get(id).cloned().map(Box::new))),
                changed = rx.changed() => if changed.is_err() { return Err(WaitError::Cancelled) },
            }
        }
    }
}
