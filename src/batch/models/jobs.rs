//! Jobs and tasks as an operator tool reads them: the jobs bound to a pool, their task counts,
//! and their tasks with state, node and times. Only what repool shows is named; an answer
//! without an id is refused, any other missing or odd field reads as missing.

use super::{Deserialize, Deserializer, Map, Serialize, Serializer, Timestamp, Value, lenient_time};

wire_enum!(JobState {
    Active = "active",
    Disabling = "disabling",
    Disabled = "disabled",
    Enabling = "enabling",
    Terminating = "terminating",
    Completed = "completed",
    Deleting = "deleting",
});

wire_enum!(TaskState { Active = "active", Preparing = "preparing", Running = "running", Completed = "completed" });

/// A job (`CloudJob`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Job {
    /// The pool it runs on: `executionInfo.poolId`, else `poolInfo.poolId`.
    pub fn pool_id(&self) -> Option<&str> {
        let at = |outer: &str| self.rest.get(outer)?.get("poolId")?.as_str();
        at("executionInfo").or_else(|| at("poolInfo"))
    }
}

/// A job and its task counts (None when they could not be read).
#[derive(Clone, Debug, PartialEq)]
pub struct JobCounts {
    pub job: Job,
    pub counts: Option<TaskCounts>,
}

/// `GET /jobs/{job}/taskcounts`; counts the answer lacks are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskCounts {
    pub active: u64,
    pub running: u64,
    pub completed: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCountsResult {
    pub task_counts: TaskCounts,
    #[serde(default)]
    pub task_slot_counts: TaskCounts,
}

/// A task (`CloudTask`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub state_transition_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_part", skip_serializing_if = "Option::is_none")]
    pub execution_info: Option<TaskExecutionInfo>,
    #[serde(default, deserialize_with = "lenient_part", skip_serializing_if = "Option::is_none")]
    pub node_info: Option<TaskNodeInfo>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionInfo {
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// `success` or `failure` once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default)]
    pub requeue_count: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskNodeInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
}

/// A part of a task that does not read is missing, not a failed listing.
fn lenient_part<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

impl Task {
    /// How long it ran or has run by `now`; None before it started.
    pub fn duration(&self, now: Timestamp) -> Option<std::time::Duration> {
        let info = self.execution_info.as_ref()?;
        let end = if self.state == Some(TaskState::Completed) { info.end_time? } else { now };
        let span = end.duration_since(info.start_time?);
        Some(std::time::Duration::try_from(span).unwrap_or_default())
    }

    /// The node it runs or ran on.
    pub fn node(&self) -> Option<&str> {
        self.node_info.as_ref()?.node_id.as_deref()
    }

    /// Completed with a failure (a non-zero exit code, or terminated).
    pub fn failed(&self) -> bool {
        self.state == Some(TaskState::Completed)
            && self.execution_info.as_ref().is_some_and(|i| i.result.as_deref() == Some("failure"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_parts_read_as_missing_and_an_answer_without_an_id_is_refused() {
        let task: Task = serde_json::from_value(json!({
            "id": "t1", "state": "weird", "executionInfo": 5, "nodeInfo": {"nodeId": "n1"},
            "stateTransitionTime": "not a time"
        }))
        .unwrap();
        assert_eq!(task.state, Some(TaskState::Other("weird".into())));
        assert_eq!((&task.execution_info, task.node(), task.state_transition_time), (&None, Some("n1"), None));
        assert!(serde_json::from_value::<Task>(json!({"state": "active"})).is_err());
        let counts: TaskCountsResult = serde_json::from_value(json!({"taskCounts": {"running": 2}})).unwrap();
        assert_eq!((counts.task_counts.running, counts.task_counts.active), (2, 0));
        let job: Job = serde_json::from_value(json!({"id": "j", "poolInfo": {"poolId": "p"}})).unwrap();
        assert_eq!(job.pool_id(), Some("p"));
    }

    #[test]
    fn a_tasks_duration_runs_to_now_until_it_completes() {
        let mut task: Task = serde_json::from_value(json!({
            "id": "t", "state": "running",
            "executionInfo": {"startTime": "2026-12-01T10:00:00Z", "endTime": "2026-12-01T10:00:30Z"}
        }))
        .unwrap();
        let now: Timestamp = "2026-12-01T10:01:00Z".parse().unwrap();
        assert_eq!(task.duration(now), Some(std::time::Duration::from_secs(60)));
        task.state = Some(TaskState::Completed);
        assert_eq!(task.duration(now), Some(std::time::Duration::from_secs(30)));
    }
}
