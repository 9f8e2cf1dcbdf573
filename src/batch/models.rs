//! Wire types of the Batch data plane, shared by the client and the simulator.
//!
//! Every struct keeps the properties it does not name in `rest` (order preserved), so a pool
//! read from the service can be written back without loss. Enums accept any casing and
//! unknown values: the service answers `"Spread"` where the spec says `spread`, and new
//! values keep arriving.

use super::duration::BatchDuration;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A string enum as Batch sends it: known values by name, anything else kept verbatim.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)+ Other(String) }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self { $(Self::$variant => $wire,)+ Self::Other(s) => s }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($wire) { return Self::$variant; })+
                Self::Other(s.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from(String::deserialize(d)?.as_str()))
            }
        }
    };
}

wire_enum!(PoolState { Active = "active", Deleting = "deleting" });
wire_enum!(AllocationState { Steady = "steady", Resizing = "resizing", Stopping = "stopping" });
wire_enum!(
    /// What happens to running tasks when a node leaves the pool.
    NodeDeallocationOption {
        Requeue = "requeue",
        Terminate = "terminate",
        TaskCompletion = "taskcompletion",
        RetainedData = "retaineddata",
    }
);
wire_enum!(NodeState {
    Idle = "idle",
    Rebooting = "rebooting",
    Reimaging = "reimaging",
    Running = "running",
    Unusable = "unusable",
    Creating = "creating",
    Starting = "starting",
    WaitingForStartTask = "waitingforstarttask",
    StartTaskFailed = "starttaskfailed",
    Unknown = "unknown",
    LeavingPool = "leavingpool",
    Offline = "offline",
    Preempted = "preempted",
    UpgradingOs = "upgradingos",
    Deallocated = "deallocated",
    Deallocating = "deallocating",
});

/// A timestamp from the server, read so that one odd value cannot make a whole listing fail:
/// beyond jiff's range (.NET's `DateTime.MaxValue`, `9999-12-31T23:59:59.9999999Z`, is) it is
/// the nearest end of the range; without an offset, UTC; otherwise unreadable (None).
fn lenient_timestamp(text: &str) -> Option<Timestamp> {
    if let Ok(time) = text.parse() {
        return Some(time);
    }
    let civil: jiff::civil::DateTime = text.trim_end_matches(['Z', 'z']).parse().ok()?;
    let clamped = if civil.year() > 0 { Timestamp::MAX } else { Timestamp::MIN };
    Some(civil.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).unwrap_or(clamped))
}

/// An optional timestamp, read with `lenient_timestamp`; an unreadable one is missing.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let text = Option::<Value>::deserialize(d)?;
    Ok(text.as_ref().and_then(Value::as_str).and_then(lenient_timestamp))
}

/// A timestamp the type cannot do without, read with `lenient_timestamp`.
fn clamped_time<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    lenient_timestamp(&text).ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a timestamp")))
}

/// A part the pool can do without: one the client cannot read is missing, not a failed listing.
fn or_none<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| serde_json::from_value(v).ok()))
}

/// A pool as the service returns it (`CloudPool` / `BatchPool`). Fields are in wire order and
/// all optional, because `$select` may return any subset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "eTag", skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<PoolState>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub state_transition_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_state: Option<AllocationState>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub allocation_state_transition_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_dedicated_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_dedicated_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_low_priority_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_low_priority_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize_errors: Option<Vec<ResizeError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_auto_scale: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scale_formula: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scale_evaluation_interval: Option<BatchDuration>,
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub auto_scale_run: Option<AutoScaleRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_inter_node_communication: Option<bool>,
    /// Everything else (startTask, virtualMachineConfiguration, …), in the order received.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// What a pool's listing and its full body both answer, from the same fields (`Pool`, `PoolSummary`).
macro_rules! pool_facts {
    ($pool:ty) => {
        impl $pool {
            pub fn id(&self) -> &str {
                self.id.as_deref().unwrap_or("")
            }

            pub fn is_steady(&self) -> bool {
                self.allocation_state == Some(AllocationState::Steady)
            }

            pub fn autoscale(&self) -> bool {
                self.enable_auto_scale.unwrap_or(false)
            }

            pub fn current_nodes(&self) -> u32 {
                self.current_dedicated_nodes.unwrap_or(0) + self.current_low_priority_nodes.unwrap_or(0)
            }

            pub fn target_nodes(&self) -> u32 {
                self.target_dedicated_nodes.unwrap_or(0) + self.target_low_priority_nodes.unwrap_or(0)
            }
        }
    };
}
pub(crate) use pool_facts;

pool_facts!(Pool);

impl Pool {
    /// `pools` by lower-cased id (ids compare ignoring case, as Batch does): a thousand pools are
    /// each looked up once, not searched for.
    pub fn by_id(pools: &[Pool]) -> std::collections::HashMap<String, &Pool> {
        pools.iter().map(|p| (p.id().to_lowercase(), p)).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResizeError {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<NameValue>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoScaleRun {
    #[serde(deserialize_with = "clamped_time")]
    pub timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ResizeError>,
}

/// A page of a list operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Node counts by state for one kind of node (`NodeCounts`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeCounts {
    pub creating: u32,
    pub idle: u32,
    pub offline: u32,
    pub preempted: u32,
    pub rebooting: u32,
    pub reimaging: u32,
    pub running: u32,
    pub starting: u32,
    pub start_task_failed: u32,
    pub leaving_pool: u32,
    pub unknown: u32,
    pub unusable: u32,
    pub waiting_for_start_task: u32,
    pub deallocated: u32,
    pub deallocating: u32,
    #[serde(rename = "upgradingOS")]
    pub upgrading_os: u32,
    pub total: u32,
}

impl NodeCounts {
    /// Counts one node of `state` (and the total).
    pub fn add(&mut self, state: &NodeState) {
        let slot = match state {
            NodeState::Idle => &mut self.idle,
            NodeState::Rebooting => &mut self.rebooting,
            NodeState::Reimaging => &mut self.reimaging,
            NodeState::Running => &mut self.running,
            NodeState::Unusable => &mut self.unusable,
            NodeState::Creating => &mut self.creating,
            NodeState::Starting => &mut self.starting,
            NodeState::WaitingForStartTask => &mut self.waiting_for_start_task,
            NodeState::StartTaskFailed => &mut self.start_task_failed,
            NodeState::LeavingPool => &mut self.leaving_pool,
            NodeState::Offline => &mut self.offline,
            NodeState::Preempted => &mut self.preempted,
            NodeState::UpgradingOs => &mut self.upgrading_os,
            NodeState::Deallocated => &mut self.deallocated,
            NodeState::Deallocating => &mut self.deallocating,
            NodeState::Unknown | NodeState::Other(_) => &mut self.unknown,
        };
        *slot += 1;
        self.total += 1;
    }
}

/// One entry of `GET /nodecounts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolNodeCounts {
    pub pool_id: String,
    #[serde(default)]
    pub dedicated: NodeCounts,
    #[serde(default)]
    pub low_priority: NodeCounts,
}

/// One entry of `GET /supportedimages`: an image and node agent the account offers, and until when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportedImage {
    #[serde(rename = "nodeAgentSKUId")]
    pub node_agent_sku_id: String,
    #[serde(default)]
    pub image_reference: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub verification_type: Option<String>,
    /// When Batch stops accepting create-pool requests for the image.
    #[serde(default, deserialize_with = "lenient_time")]
    pub batch_support_end_of_life: Option<jiff::Timestamp>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl SupportedImage {
    /// Whether `image` (an imageReference) and `agent` are this entry, ignoring case as Batch does.
    pub fn offers(&self, image: &serde_json::Value, agent: &str) -> bool {
        let field = |map: &serde_json::Map<String, serde_json::Value>, key: &str| {
            map.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_ascii_lowercase()
        };
        let Some(wanted) = image.as_object() else { return false };
        ["publisher", "offer", "sku"].iter().all(|key| field(&self.image_reference, key) == field(wanted, key))
            && self.node_agent_sku_id.eq_ignore_ascii_case(agent)
    }
}

/// A compute node (`ComputeNode`), with the fields repool reads named.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<NodeState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_state: Option<String>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub state_transition_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub allocation_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_tasks_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_task_slots_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_dedicated: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A task a node reports in `recentTasks` (job, task, state, when it started).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeTask {
    pub job: String,
    pub task: String,
    pub state: String,
    pub started: Option<Timestamp>,
}

/// Read leniently from the node's other properties: an odd shape from the server shows as
/// missing, never as a failed listing.
impl Node {
    fn text(value: &Value, key: &str) -> String {
        crate::output::escape(value.get(key).and_then(Value::as_str).unwrap_or("?")).into_owned()
    }

    pub fn start_task_exit(&self) -> Option<i64> {
        self.rest.get("startTaskInfo")?.get("exitCode")?.as_i64()
    }

    /// `FailureExitCode: The task process exited …`, when the start task failed.
    pub fn start_task_failure(&self) -> Option<String> {
        let failure = self.rest.get("startTaskInfo")?.get("failureInfo").filter(|f| !f.is_null())?;
        Some(format!("{}: {}", Self::text(failure, "code"), Self::text(failure, "message")))
    }

    /// What the start task did, for a listing: `exit 3 (FailureExitCode: …)`, `exit 0`, the
    /// failure alone when no exit code came (it could not start); None without a result.
    pub fn start_task_result(&self) -> Option<String> {
        match (self.start_task_exit(), self.start_task_failure()) {
            (Some(code), Some(failure)) => Some(format!("exit {code} ({failure})")),
            (Some(code), None) => Some(format!("exit {code}")),
            (None, failure) => failure,
        }
    }

    /// Failed as the health gate and heal see it: its start task failed (or says why), or it is unusable.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, Some(NodeState::StartTaskFailed | NodeState::Unusable))
            || self.start_task_failure().is_some()
    }

    /// The start task ran to completion with exit code 0, or the pool has none.
    pub fn start_task_succeeded(&self) -> bool {
        self.rest.get("startTaskInfo").is_none_or(|i| {
            i.get("state").and_then(Value::as_str) == Some("completed") && self.start_task_exit() == Some(0)
        })
    }

    /// The node's `errors`, as `code: message`.
    pub fn errors(&self) -> Vec<String> {
        let errors = self.rest.get("errors").and_then(Value::as_array);
        errors
            .into_iter()
            .flatten()
            .map(|e| format!("{}: {}", Self::text(e, "code"), Self::text(e, "message")))
            .collect()
    }

    /// Tasks the node reports as running now.
    pub fn running_tasks(&self) -> Vec<NodeTask> {
        let tasks = self.rest.get("recentTasks").and_then(Value::as_array);
        tasks
            .into_iter()
            .flatten()
            .filter(|t| t.get("taskState").and_then(Value::as_str) == Some("running"))
            .map(|t| NodeTask {
                job: Self::text(t, "jobId"),
                task: Self::text(t, "taskId"),
                state: Self::text(t, "taskState"),
                started: t
                    .get("executionInfo")
                    .and_then(|e| e.get("startTime"))
                    .and_then(Value::as_str)
                    .and_then(lenient_timestamp),
            })
            .collect()
    }
}

/// Body of `POST /pools/{id}/resize`. Counts are read as numbers or numeric strings: the Azure
/// CLI sends `"targetDedicatedNodes": "1"`, and the service accepts it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResizeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count_or_numeric_string")]
    pub target_dedicated_nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count_or_numeric_string")]
    pub target_low_priority_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_deallocation_option: Option<NodeDeallocationOption>,
}

fn count_or_numeric_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(u32),
        Text(String),
    }
    match Option::<Count>::deserialize(d)? {
        None => Ok(None),
        Some(Count::Number(n)) => Ok(Some(n)),
        Some(Count::Text(text)) => {
            text.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("'{text}' is not a node count")))
        }
    }
}

/// Body of `POST /pools/{id}/enableautoscale`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnableAutoScaleRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scale_formula: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scale_evaluation_interval: Option<BatchDuration>,
}

/// The error body every Batch operation may return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: ErrorMessage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ErrorDetail>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub lang: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub key: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_accept_any_case_and_unknown_values() {
        assert_eq!(AllocationState::from("Steady"), AllocationState::Steady);
        assert_eq!(NodeDeallocationOption::from("TaskCompletion"), NodeDeallocationOption::TaskCompletion);
        let unknown: PoolState = serde_json::from_str("\"upgrading\"").unwrap();
        assert_eq!(unknown, PoolState::Other("upgrading".into()));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"upgrading\"");
    }

    #[test]
    fn resize_counts_may_arrive_as_strings() {
        let r: ResizeRequest =
            serde_json::from_str(r#"{"targetDedicatedNodes": "1", "targetLowPriorityNodes": 2}"#).unwrap();
        assert_eq!((r.target_dedicated_nodes, r.target_low_priority_nodes), (Some(1), Some(2)));
        assert!(serde_json::from_str::<ResizeRequest>(r#"{"targetDedicatedNodes": "many"}"#).is_err());
        assert_eq!(serde_json::from_str::<ResizeRequest>("{}").unwrap(), ResizeRequest::default());
    }

    #[test]
    fn pool_keeps_unknown_properties_in_order() {
        let text = r#"{"id":"p","zeta":1,"vmSize":"standard_d2_v2","alpha":{"x":[1,2]},"taskSlotsPerNode":1}"#;
        let pool: Pool = serde_json::from_str(text).unwrap();
        assert_eq!(pool.rest.keys().collect::<Vec<_>>(), ["zeta", "alpha", "taskSlotsPerNode"]);
        let back: Value = serde_json::to_value(&pool).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn one_odd_timestamp_spoils_only_itself() {
        // .NET's DateTime.MaxValue: past jiff's last instant (9999-12-30T22:00:00Z), seven fraction digits.
        assert_eq!(lenient_timestamp("9999-12-31T23:59:59.9999999Z"), Some(Timestamp::MAX));
        assert_eq!(lenient_timestamp("-009999-01-01T00:00:00Z"), Some(Timestamp::MIN));
        let exact: Timestamp = "2024-05-01T10:00:00.1234567Z".parse().unwrap();
        assert_eq!(lenient_timestamp("2024-05-01T10:00:00.1234567Z"), Some(exact));
        assert_eq!(lenient_timestamp("2024-05-01T10:00:00.1234567"), Some(exact), "no offset: UTC");
        assert_eq!(
            lenient_timestamp("0001-01-01T00:00:00Z").map(|t| t.to_string()).as_deref(),
            Some("0001-01-01T00:00:00Z")
        );
        assert_eq!(lenient_timestamp("yesterday"), None);
        let pool: Pool = serde_json::from_value(serde_json::json!({
            "id": "p-odd",
            "creationTime": "9999-12-31T23:59:59.9999999Z",
            "lastModified": "not a time",
            "stateTransitionTime": 17,
            "allocationStateTransitionTime": "2024-05-01T10:00:00Z",
            "autoScaleRun": {"timestamp": "never"},
            "targetDedicatedNodes": 2
        }))
        .unwrap();
        assert_eq!(pool.id(), "p-odd");
        assert_eq!(pool.creation_time, Some(Timestamp::MAX));
        assert_eq!((pool.last_modified, pool.state_transition_time, pool.auto_scale_run), (None, None, None));
        assert_eq!(pool.allocation_state_transition_time, Some("2024-05-01T10:00:00Z".parse().unwrap()));
        assert_eq!(pool.target_dedicated_nodes, Some(2));
    }
}

mod jobs;
mod node_ops;
mod summary;
pub use jobs::*;
pub use node_ops::*;
pub use summary::PoolSummary;
