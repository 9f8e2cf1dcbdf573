//! Bodies of the node operations: remove nodes, reboot, deallocate, disable scheduling.

use super::{BatchDuration, Deserialize, NodeDeallocationOption, Serialize};

/// Body of `POST /pools/{id}/removenodes` (at most 100 nodes a request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveNodesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_deallocation_option: Option<NodeDeallocationOption>,
}

/// Body of `POST …/nodes/{node}/reboot`: what happens to the running task (the service's
/// reboot options are the deallocation options' four values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebootNodeRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_reboot_option: Option<NodeDeallocationOption>,
}

/// Body of `POST …/nodes/{node}/deallocate` (2025-06-01).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeallocateNodeRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_deallocate_option: Option<NodeDeallocationOption>,
}

crate::named::named_enum! {
    /// What disabling scheduling on a node does to its running task (`nodeDisableSchedulingOption`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DisableSchedulingOption {
        Requeue = "requeue",
        Terminate = "terminate",
        TaskCompletion = "taskcompletion",
    }
}

impl From<DisableSchedulingOption> for NodeDeallocationOption {
    fn from(option: DisableSchedulingOption) -> Self {
        match option {
            DisableSchedulingOption::Requeue => NodeDeallocationOption::Requeue,
            DisableSchedulingOption::Terminate => NodeDeallocationOption::Terminate,
            DisableSchedulingOption::TaskCompletion => NodeDeallocationOption::TaskCompletion,
        }
    }
}

/// Body of `POST …/nodes/{node}/disablescheduling`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisableSchedulingRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_disable_scheduling_option: Option<DisableSchedulingOption>,
}
