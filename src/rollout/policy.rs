//! How a recreation behaves: deallocation, timeouts, polling, parallelism.

use crate::batch::{BatchDuration, NodeDeallocationOption};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How many of a new pool's nodes must be healthy for the pool to pass the health gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthyPolicy {
    /// Every node the pool targets.
    All,
    /// At least this many nodes.
    Nodes(u32),
    /// At least this share of the target, in percent.
    Percent(u32),
}

impl HealthyPolicy {
    /// Healthy nodes needed out of `target`.
    pub fn needed(self, target: u32) -> u32 {
        match self {
            HealthyPolicy::All => target,
            HealthyPolicy::Nodes(n) => n.min(target),
            HealthyPolicy::Percent(p) => (target * p.min(100)).div_ceil(100),
        }
    }
}

impl std::str::FromStr for HealthyPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a health policy; use all, a node count (2) or a share (80%)");
        match s.trim() {
            "all" => Ok(HealthyPolicy::All),
            p if p.ends_with('%') => p.trim_end_matches('%').parse().map(HealthyPolicy::Percent).map_err(|_| bad()),
            n => n.parse().map(HealthyPolicy::Nodes).map_err(|_| bad()),
        }
    }
}

/// What to do with a new pool that fails its health gate, or a create the service refuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnhealthy {
    /// Stop the pool there (default); the run reports it.
    #[default]
    Stop,
    /// Delete the new pool and create the pool again from its pre-run backup.
    Rollback,
}

impl std::str::FromStr for OnUnhealthy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stop" => Ok(OnUnhealthy::Stop),
            "rollback" => Ok(OnUnhealthy::Rollback),
            other => Err(format!("'{other}' is not an unhealthy policy; use stop or rollback")),
        }
    }
}

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
pub struct RunPolicy {
    pub node_deallocation_option: NodeDeallocationOption,
    /// Sent with resizes that give a pool its nodes when its definition names no timeout.
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
    /// The health gate: how many nodes must be healthy, and how long they may take.
    pub healthy: HealthyPolicy,
    pub health_timeout: Duration,
    /// The first this many pools go all the way to healthy before any other starts.
    pub canary: usize,
    pub on_unhealthy: OnUnhealthy,
    /// At most this many pools between the resize to 0 and healthy at once (None: `parallel`).
    pub max_unavailable: Option<usize>,
    /// Let the service validate each create body with a throwaway 0-node pool before the run.
    pub probe: bool,
    /// Node batches (heal): at most this many of a pool's nodes acted on at once (None: a tenth
    /// of its target, at least one; `batches::max_unavailable_nodes`).
    pub max_unavailable_nodes: Option<u32>,
    /// Refresh: raise a pool's target by this many nodes before replacing any (0: no surge).
    pub surge: u32,
    /// `apply` rolls the nodes of a pool whose start task or packages change (false: `--no-roll`).
    pub roll: bool,
}

impl RunPolicy {
    /// The resize to 0 carries the drain's own timeout: with the service's default (15 minutes)
    /// a drain waiting on longer tasks would stop with AllocationTimedout long before
    /// `drain_timeout`. The service documents a minimum (5 minutes) and no maximum.
    pub fn drain_resize_timeout(&self) -> BatchDuration {
        let drain = BatchDuration::from_secs(self.drain_timeout.as_secs());
        if drain > self.resize_timeout { drain } else { self.resize_timeout }
    }
}

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            node_deallocation_option: NodeDeallocationOption::TaskCompletion,
            resize_timeout: BatchDuration::from_mins(15),
            poll_interval: Duration::from_secs(2),
            fast_poll_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(6 * 3600),
            wait_timeout: Duration::from_secs(3600),
            parallel: 4,
            on_drain_timeout: DrainTimeoutPolicy::Fail,
            sign_in_grace: Duration::from_secs(60),
            healthy: HealthyPolicy::All,
            health_timeout: Duration::from_secs(30 * 60),
            canary: 0,
            on_unhealthy: OnUnhealthy::Stop,
            max_unavailable: None,
            probe: false,
            max_unavailable_nodes: None,
            surge: 0,
            roll: true,
        }
    }
}

/// What the operator chose for one run, recorded when it starts: a resume from any entry point
/// continues with the same canary, bound, rollback and accepted losses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunChoices {
    pub canary: usize,
    pub max_unavailable: Option<usize>,
    pub on_unhealthy: OnUnhealthy,
    pub probe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable_nodes: Option<u32>,
    #[serde(skip_serializing_if = "is_zero")]
    pub surge: u32,
    /// Properties the operator accepted losing (`--accept-loss`).
    pub accept_loss: Vec<String>,
}

impl RunChoices {
    pub fn of(policy: &RunPolicy, accept_loss: &[String]) -> RunChoices {
        RunChoices {
            canary: policy.canary,
            max_unavailable: policy.max_unavailable,
            on_unhealthy: policy.on_unhealthy,
            probe: policy.probe,
            max_unavailable_nodes: policy.max_unavailable_nodes,
            surge: policy.surge,
            accept_loss: accept_loss.to_vec(),
        }
    }

    /// Sets these choices on `policy`; returns the accepted losses.
    pub fn apply(&self, policy: &mut RunPolicy) -> Vec<String> {
        policy.canary = self.canary;
        policy.max_unavailable = self.max_unavailable;
        policy.on_unhealthy = self.on_unhealthy;
        policy.probe = self.probe;
        policy.max_unavailable_nodes = self.max_unavailable_nodes;
        policy.surge = self.surge;
        self.accept_loss.clone()
    }

    /// "canary 1, at most 2 unavailable, rollback": what differs from the defaults.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.canary > 0 {
            parts.push(format!("canary {}", self.canary));
        }
        if let Some(n) = self.max_unavailable {
            parts.push(format!("at most {n} unavailable"));
        }
        if let Some(n) = self.max_unavailable_nodes {
            parts.push(format!("at most {n} node(s) of a pool at once"));
        }
        if self.surge > 0 {
            parts.push(format!("surge {}", self.surge));
        }
        if self.on_unhealthy == OnUnhealthy::Rollback {
            parts.push("rollback when unhealthy".into());
        }
        if self.probe {
            parts.push("probe".into());
        }
        if !self.accept_loss.is_empty() {
            parts.push(format!("accepting the loss of {}", self.accept_loss.join(", ")));
        }
        if parts.is_empty() { "defaults".into() } else { parts.join(", ") }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
