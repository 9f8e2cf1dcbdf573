//! How a recreation behaves: deallocation, timeouts, polling, parallelism.

use crate::batch::{BatchDuration, NodeDeallocationOption};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do when draining does not finish in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrainTimeoutPolicy {
    /// Keep waiting for running tasks.
    Wait,
    /// Stop this pool and leave it steady (default).
    #[default]
    Fail,
    /// Delete anyway: running tasks are requeued.
    Force,
}

impl std::str::FromStr for DrainTimeoutPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wait" => Ok(Self::Wait),
            "fail" => Ok(Self::Fail),
            "force" => Ok(Self::Force),
            other => Err(format!("'{other}' is not a drain-timeout policy; use wait, fail or force")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecreatePolicy {
    pub node_deallocation_option: NodeDeallocationOption,
    /// Sent with the resize to 0.
    pub resize_timeout: BatchDuration,
    pub poll_interval: Duration,
    /// Poll interval right after a transition is expected (creation, stop resize).
    pub fast_poll_interval: Duration,
    /// How long draining may take before `on_drain_timeout` applies.
    pub drain_timeout: Duration,
    /// How long any other wait (steady, gone, ready) may take.
    pub wait_timeout: Duration,
    pub parallel: usize,
    pub on_drain_timeout: DrainTimeoutPolicy,
    /// How long sign-in may keep failing during a wait before the pool stops (safely, resumable).
    pub sign_in_grace: Duration,
}

impl Default for RecreatePolicy {
    fn default() -> Self {
        RecreatePolicy {
            node_deallocation_option: NodeDeallocationOption::TaskCompletion,
            resize_timeout: BatchDuration::from_mins(15),
            poll_interval: Duration::from_secs(2),
            fast_poll_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(6 * 3600),
            wait_timeout: Duration::from_secs(3600),
            parallel: 4,
            on_drain_timeout: DrainTimeoutPolicy::Fail,
            sign_in_grace: Duration::from_secs(60),
        }
    }
}
