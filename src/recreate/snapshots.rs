//! One view of every pool, refreshed by one paged list call per poll, shared by all waits (and
//! by the dashboard): waiting on 200 pools costs what waiting on one does.

use crate::batch::{BatchClient, BatchError, Pool, PoolNodeCounts};
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
    /// Node counts of the pools in the health gate (lower-cased id), from the same poll.
    pub node_counts: HashMap<String, PoolNodeCounts>,
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
    /// Pools in the health gate: each poll also fetches their node counts (ten pools a call).
    counting: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

#[derive(Debug)]
pub enum WaitError {
    Timeout(Option<Box<Pool>>),
    Cancelled,
    /// Sign-in kept failing for the whole grace period: why.
    SignIn(String),
}

/// What a direct read says of a pool a list answer lacked.
enum Absence {
    Confirmed,
    Present(Box<Pool>),
    Unknown,
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
            counting: std::sync::Mutex::new(Default::default()),
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
                let counting: Vec<String> = self.counting.lock().expect("counting").iter().cloned().collect();
                let node_counts = match counting.is_empty() {
                    true => HashMap::new(),
                    false => match self.client.list_node_counts_for(&counting).await {
                        Ok(counts) => counts.into_iter().map(|c| (c.pool_id.to_lowercase(), c)).collect(),
                        Err(e) => {
                            tracing::warn!("node counts for the health gate failed: {e}");
                            HashMap::new()
                        }
                    },
                };
                self.tx.send_replace(Arc::new(Snapshot {
                    requested: Some(requested),
                    pools,
                    node_counts,
                    error: None,
                }));
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

    /// Whether pool `id`, missing from a list answer, is really gone: a direct read decides.
    async fn confirm_absent(&self, id: &str) -> Absence {
        match self.client.get_pool(id, Some(POOL_SUMMARY_SELECT)).await {
            Err(e) if e.is_not_found() => Absence::Confirmed,
            Ok(pool) => {
                tracing::warn!(pool = id, "a list answer left the pool out, but it exists; its absence is ignored");
                Absence::Present(Box::new(pool))
            }
            Err(e) => {
                tracing::warn!(pool = id, "a list answer left the pool out and reading it failed ({e}); waiting on");
                Absence::Unknown
            }
        }
    }

    /// Waits until the node counts of pool `id` (from the shared poll, ten pools a call) satisfy
    /// `done`; as `wait_for` otherwise. The health gate waits here until no node is still on its
    /// way, then looks at the nodes once.
    pub async fn wait_for_nodes(
        &self,
        id: &str,
        timeout: Duration,
        sign_in_grace: Duration,
        cancel: &CancellationToken,
        done: impl Fn(&PoolNodeCounts) -> bool,
    ) -> Result<(), WaitError> {
        let key = id.to_lowercase();
        self.counting.lock().expect("counting").insert(key.clone());
        let waited = self
            .wait_for(id, timeout, sign_in_grace, cancel, |_| self.latest().node_counts.get(&key).is_some_and(&done))
            .await;
        self.counting.lock().expect("counting").remove(&key);
        waited.map(drop)
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
                    // A list answer can leave a pool out (pages shift while pools come and go):
                    // absence counts only once a direct read of the pool answers 404.
                    let seen = match snapshot.get(id) {
                        Some(pool) => Some(Some(pool.clone())),
                        None => match self.confirm_absent(id).await {
                            Absence::Confirmed => Some(None),
                            Absence::Present(pool) if done(Some(&pool)) => Some(Some(*pool)),
                            Absence::Present(_) | Absence::Unknown => None,
                        },
                    };
                    if let Some(seen) = seen {
                        // Pools started together finish together: look again soon for the others.
                        self.request_fast();
                        return Ok(seen);
                    }
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
