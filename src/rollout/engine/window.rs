//! The `--max-unavailable` window: how many pools may be without their capacity at once.

use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Bounds how many pools are unavailable (between the resize to 0 and healthy) at once.
pub(super) struct Window {
    inside: std::sync::Mutex<usize>,
    max: Option<usize>,
    left: tokio::sync::Notify,
}

/// A pool's place in the window; leaving it (the pool's task ends) lets the next one in.
pub(super) struct InWindow(Arc<Window>);

impl Drop for InWindow {
    fn drop(&mut self) {
        *self.0.inside.lock().expect("window lock") -= 1;
        self.0.left.notify_waiters();
    }
}

impl Window {
    /// A window of `max` places (None: unbounded), `inside` of them taken already.
    pub(super) fn new(inside: usize, max: Option<usize>) -> Arc<Window> {
        Arc::new(Window { inside: std::sync::Mutex::new(inside), max, left: tokio::sync::Notify::new() })
    }

    pub(super) fn is_full(&self) -> bool {
        self.max.is_some_and(|max| *self.inside.lock().expect("window lock") >= max)
    }

    /// Takes a place, waiting while the window is full; `already` (a pool that is unavailable
    /// anyway, e.g. deleted) takes its place at once.
    pub(super) async fn enter(self: &Arc<Self>, already: bool, cancel: &CancellationToken) -> Option<InWindow> {
        loop {
            let left = self.left.notified();
            {
                let mut inside = self.inside.lock().expect("window lock");
                if already || self.max.is_none_or(|max| *inside < max) {
                    *inside += 1;
                    return Some(InWindow(self.clone()));
                }
            }
            tokio::select! {
                _ = left => {}
                _ = cancel.cancelled() => return None,
            }
        }
    }
}
