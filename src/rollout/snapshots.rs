//! One view of every pool, refreshed by one paged list call per poll, shared by all waits (and
//! by the dashboard): waiting on 200 pools costs what waiting on one does.

mod pages;

use crate::batch::{BatchClient, BatchError, PoolNodeCounts, PoolSummary};
pub use pages::Pools;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// When the list call that produced it was sent; None before the first.
    pub requested: Option<Instant>,
    /// Keyed by lower-cased id: what waits and the pool table read (full bodies are read apart).
    /// A refresh that listed the same bytes as the one before shares its pools (`Arc::ptr_eq`).
    pub pools: Pools,
    /// Node counts of the pools in the health gate (lower-cased id), from the same poll.
    pub node_counts: HashMap<String, PoolNodeCounts>,
    pub error: Option<String>,
}

impl Snapshot {
    pub fn get(&self, id: &str) -> Option<&PoolSummary> {
        self.pools.get(&id.to_lowercase())
    }
}

pub struct Snapshots {
    client: BatchClient,
    tx: watch::Sender<Arc<Snapshot>>,
    /// Whether a list call is under way (the dashboard's refresh indicator).
    listing: watch::Sender<bool>,
    /// Each page of the listing under way, while someone subscribes (the dashboard's first
    /// listing: rows as the first page arrives). Waits never see a part of a listing.
    pages: watch::Sender<Arc<Vec<PoolSummary>>>,
    fast: AtomicBool,
    waiters: AtomicUsize,
    /// How often the poller looks while waits need it.
    pace: std::sync::Mutex<Pace>,
    /// How often a watcher (the dashboard) wants a view when nothing waits; None: nobody watches.
    watching: std::sync::Mutex<Option<Duration>>,
    /// A wait began, a watcher arrived or `r` was pressed: a view is wanted soon.
    wanted: Arc<Notify>,
    /// The poller is running (there is one per account view).
    polling: AtomicBool,
    /// Stops the poller when the last handle to the snapshots goes.
    stop: CancellationToken,
    /// Since when every list call was refused for its credentials (401/403, or no token), and why.
    signin_failing: std::sync::Mutex<Option<(Instant, String)>>,
    /// Pools in the health gate: each poll also fetches their node counts (ten pools a call).
    counting: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The last whole listing, page by page: the next refresh parses only what changed.
    listed: std::sync::Mutex<Option<pages::Listed>>,
}

/// How often the poller lists the account while waits need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub interval: Duration,
    /// After a change, or when a wait ended or began.
    pub fast: Duration,
}

/// A watcher's standing interest in fresh views; dropping it ends the interest.
pub struct Watching(Arc<Snapshots>);

impl Drop for Watching {
    fn drop(&mut self) {
        *self.0.watching.lock().expect("watching") = None;
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[derive(Debug)]
pub enum WaitError {
    Timeout(Option<Box<PoolSummary>>),
    Cancelled,
    /// Sign-in kept failing for the whole grace period: why.
    SignIn(String),
}

/// What a direct read says of a pool a list answer lacked.
enum Absence {
    Confirmed,
    Present(Box<PoolSummary>),
    Unknown,
}

struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Snapshots {
    pub fn new(client: BatchClient, pace: Pace) -> Arc<Self> {
        let (tx, _) = watch::channel(Arc::new(Snapshot::default()));
        Arc::new(Snapshots {
            client,
            tx,
            listing: watch::channel(false).0,
            pages: watch::channel(Arc::default()).0,
            fast: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            pace: std::sync::Mutex::new(pace),
            watching: std::sync::Mutex::new(None),
            wanted: Arc::new(Notify::new()),
            polling: AtomicBool::new(false),
            stop: CancellationToken::new(),
            signin_failing: std::sync::Mutex::new(None),
            counting: std::sync::Mutex::new(Default::default()),
            listed: std::sync::Mutex::new(None),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Whether a list call is under way, as it changes.
    pub fn subscribe_listing(&self) -> watch::Receiver<bool> {
        self.listing.subscribe()
    }

    /// The pages of each listing as they arrive; a page a slow subscriber misses comes with
    /// the whole view. Drop the receiver once whole views are enough: pages cost a copy each.
    pub fn subscribe_pages(&self) -> watch::Receiver<Arc<Vec<PoolSummary>>> {
        self.pages.subscribe()
    }

    /// One paged list call; the result (or its error) is published to every waiter and watcher.
    pub async fn refresh(&self) -> Result<(), BatchError> {
        self.listing.send_replace(true);
        let refreshed = self.list().await;
        self.listing.send_replace(false);
        refreshed
    }

    async fn list(&self) -> Result<(), BatchError> {
        let requested = Instant::now();
        let mut reading = pages::Reading::after(self.listed.lock().expect("listed").clone());
        let listed = self.client.list_pool_summary_raw_pages(|page| {
            let shown = self.pages.receiver_count() > 0;
            reading.add(page, shown, |items| {
                self.pages.send_replace(Arc::new(items.to_vec()));
            })
        });
        let listed = match listed.await {
            Ok(()) => reading.finish(),
            Err(e) => Err(e),
        };
        match listed {
            Ok(listed) => {
                *self.signin_failing.lock().expect("sign-in state") = None;
                let pools = listed.pools.clone();
                *self.listed.lock().expect("listed") = Some(listed);
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

    /// Ask for a view as soon as the spacing rule allows (the dashboard's `r`).
    pub fn request_now(&self) {
        self.request_fast();
        self.wanted.notify_one();
    }

    pub fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Sets how often waits are polled (the run's policy) and makes sure the poller runs.
    pub fn poll_for_waits(self: &Arc<Self>, pace: Pace) {
        *self.pace.lock().expect("pace") = pace;
        self.ensure_polling();
    }

    /// A view every `every` while the returned guard lives, the first at once (the dashboard).
    pub fn watch(self: &Arc<Self>, every: Duration) -> Watching {
        *self.watching.lock().expect("watching") = Some(every);
        self.ensure_polling();
        self.wanted.notify_one();
        Watching(self.clone())
    }

    /// Starts the one poller of these snapshots unless it runs; it ends when they are dropped.
    fn ensure_polling(self: &Arc<Self>) {
        if !self.polling.swap(true, Ordering::SeqCst) {
            tokio::spawn(poll(Arc::downgrade(self), self.wanted.clone(), self.stop.clone()));
        }
    }

    /// How long after a poll that took `took` the next one comes (None: nobody needs one).
    /// Never closer than three times the last list call took, so a large account is not listed
    /// back to back; sooner than the interval when a change was just made, a wait just ended
    /// (its siblings are likely close behind) or began (so a wait that is already satisfied
    /// ends at once, not a whole interval later).
    fn next_pause(&self, took: Duration) -> (Duration, Duration) {
        let pace = *self.pace.lock().expect("pace");
        let watching = *self.watching.lock().expect("watching");
        let soonest = pace.fast.max(took * 3);
        let interval = match (self.has_waiters(), watching) {
            (true, _) | (false, None) => pace.interval,
            (false, Some(every)) => every,
        };
        let pause = if self.fast.swap(false, Ordering::SeqCst) { soonest } else { interval.max(soonest) };
        (pause, soonest)
    }

    fn is_wanted(&self) -> bool {
        self.has_waiters() || self.watching.lock().expect("watching").is_some()
    }

    /// Whether pool `id`, missing from a list answer, is really gone: a direct read decides.
    async fn confirm_absent(&self, id: &str) -> Absence {
        match self.client.get_pool_summary(id).await {
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
        done: impl Fn(Option<&PoolSummary>) -> bool,
    ) -> Result<Option<PoolSummary>, WaitError> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _guard = WaiterGuard(&self.waiters);
        // Each view is looked at by every wait: what can be made once is made here.
        let key = id.to_lowercase();
        let began = Instant::now();
        self.wanted.notify_one();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            {
                let snapshot = rx.borrow_and_update().clone();
                let fresh = snapshot.requested.is_some_and(|t| t >= began) && snapshot.error.is_none();
                let pool = snapshot.pools.get(&key);
                if fresh && done(pool) {
                    // A list answer can leave a pool out (pages shift while pools come and go):
                    // absence counts only once a direct read of the pool answers 404.
                    let seen = match pool {
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

/// The one poller: lists the account while a wait or a watcher needs a view, spaced by
/// `Snapshots::next_pause`. Holds the snapshots only while it lists, so dropping them ends it.
async fn poll(snapshots: std::sync::Weak<Snapshots>, wanted: Arc<Notify>, stop: CancellationToken) {
    loop {
        let polled = tokio::time::Instant::now();
        let (pause, soonest) = {
            let Some(snapshots) = snapshots.upgrade() else { return };
            if snapshots.is_wanted()
                && let Err(e) = snapshots.refresh().await
            {
                tracing::warn!("refreshing pools failed: {e}");
            }
            snapshots.next_pause(polled.elapsed())
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(polled + pause) => {}
            _ = wanted.notified() => tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(polled + soonest) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::http::HttpSettings;
    use crate::batch::{ApiVersion, AuthMethod, AuthSettings, Credential, RetryPolicy};

    fn snapshots(pace: Pace) -> Arc<Snapshots> {
        let auth = AuthSettings {
            method: AuthMethod::SharedKey,
            account_name: "acct".into(),
            account_key: Some(crate::secret::Secret::new("a2V5")),
            ..Default::default()
        };
        let http = HttpSettings::default();
        let credential = Credential::from_settings(&auth, &http).expect("credential");
        let client = BatchClient::new(
            "https://acct.westeurope.batch.azure.com",
            ApiVersion::default(),
            credential,
            &http,
            RetryPolicy::default(),
        )
        .expect("client");
        Snapshots::new(client, pace)
    }

    const SEC: Duration = Duration::from_secs(1);

    /// The one spacing rule for runs and the dashboard alike: waits poll at the run's pace, the
    /// dashboard alone at its refresh interval, a change asks for the fast pace, and nothing comes
    /// closer than three times what the last list call took.
    #[tokio::test]
    async fn one_spacing_rule_for_waits_and_the_dashboard() {
        let s = snapshots(Pace { interval: 2 * SEC, fast: SEC });
        assert!(!s.is_wanted(), "nobody waits or watches: the poller lists nothing");
        let watching = s.watch(5 * SEC);
        assert!(s.is_wanted());
        assert_eq!(s.next_pause(Duration::ZERO).0, 5 * SEC, "the dashboard alone: its refresh interval");
        s.waiters.fetch_add(1, Ordering::SeqCst);
        assert_eq!(s.next_pause(Duration::ZERO).0, 2 * SEC, "a run waits: the run's pace");
        s.request_fast();
        assert_eq!(s.next_pause(Duration::ZERO).0, SEC, "after a change: the fast pace");
        assert_eq!(s.next_pause(Duration::ZERO).0, 2 * SEC, "the fast pace is asked for once");
        s.request_fast();
        assert_eq!(s.next_pause(3 * SEC).0, 9 * SEC, "never closer than 3x the last list call");
        s.waiters.fetch_sub(1, Ordering::SeqCst);
        drop(watching);
        assert!(!s.is_wanted(), "the dashboard switched away: its interest ended");
    }
}
