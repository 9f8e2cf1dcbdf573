//! What the pool table and the waits read of every pool at each poll: a few named properties,
//! no catch-all (a flattened map makes serde buffer every property of ten thousand pools).

use super::{AllocationState, Pool, PoolState, ResizeError, lenient_time};
use jiff::Timestamp;
use serde::Deserialize;

/// A pool as listed with `PoolSummary::SELECT`: the table's row and the snapshots' content.
/// Its full body is read only where it is needed (details, plan, the run's own reads).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSummary {
    pub id: Option<String>,
    #[serde(rename = "eTag")]
    pub e_tag: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub creation_time: Option<Timestamp>,
    pub state: Option<PoolState>,
    pub allocation_state: Option<AllocationState>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub allocation_state_transition_time: Option<Timestamp>,
    pub enable_auto_scale: Option<bool>,
    pub current_dedicated_nodes: Option<u32>,
    pub target_dedicated_nodes: Option<u32>,
    pub current_low_priority_nodes: Option<u32>,
    pub target_low_priority_nodes: Option<u32>,
    pub vm_size: Option<String>,
    pub resize_errors: Option<Vec<ResizeError>>,
}

impl PoolSummary {
    /// The `$select` that lists exactly these properties.
    pub const SELECT: &str = "id,eTag,creationTime,state,allocationState,allocationStateTransitionTime,\
enableAutoScale,currentDedicatedNodes,targetDedicatedNodes,currentLowPriorityNodes,targetLowPriorityNodes,vmSize,resizeErrors";
}

super::pool_facts!(PoolSummary);

/// The summary as a (partial) pool, as a `$select` read of the pool would have been.
impl From<PoolSummary> for Pool {
    fn from(s: PoolSummary) -> Pool {
        Pool {
            id: s.id,
            e_tag: s.e_tag,
            creation_time: s.creation_time,
            state: s.state,
            allocation_state: s.allocation_state,
            allocation_state_transition_time: s.allocation_state_transition_time,
            enable_auto_scale: s.enable_auto_scale,
            current_dedicated_nodes: s.current_dedicated_nodes,
            target_dedicated_nodes: s.target_dedicated_nodes,
            current_low_priority_nodes: s.current_low_priority_nodes,
            target_low_priority_nodes: s.target_low_priority_nodes,
            vm_size: s.vm_size,
            resize_errors: s.resize_errors,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A summary reads what the table and waits use, ignores the rest, and becomes the same pool
    /// a `$select` read gives.
    #[test]
    fn a_summary_is_the_selected_part_of_a_pool() {
        let body = json!({
            "id": "p1", "eTag": "0x1", "creationTime": "2026-01-02T03:04:05Z", "state": "active",
            "allocationState": "Steady", "enableAutoScale": false, "currentDedicatedNodes": 2,
            "targetDedicatedNodes": 3, "vmSize": "standard_d2s_v3",
            "resizeErrors": [{"code": "AllocationFailed", "message": "no"}],
            "startTask": {"commandLine": "x"}
        });
        let summary: PoolSummary = serde_json::from_value(body.clone()).unwrap();
        assert_eq!((summary.id(), summary.current_nodes(), summary.target_nodes()), ("p1", 2, 3));
        assert!(summary.is_steady() && !summary.autoscale());
        let mut pool: Pool = serde_json::from_value(body).unwrap();
        pool.rest.clear();
        assert_eq!(Pool::from(summary), pool);
    }
}
