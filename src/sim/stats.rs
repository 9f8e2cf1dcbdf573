//! Pool statistics for `$expand=stats` on get and list pools (the `BatchPoolStatistics` model of
//! azure-batch 15.1.0: `url`, `startTime`, `lastUpdateTime`, `usageStats`, `resourceStats`). The
//! figures follow the pool's nodes over their life: core time from node lifetimes and the VM size's
//! cores, CPU from whether nodes run tasks, memory and disk from the node count.

use super::clock::SimClock;
use super::world::SimPool;
use crate::batch::BatchDuration;
use serde_json::{Map, Value, json};

/// The `stats` object of `pool` at `now`.
pub(super) fn of(pool: &SimPool, base: &str, now: f64, clock: &SimClock) -> Value {
    let start = pool.wire.creation_time.map(|t| t.to_string());
    let updated = clock.timestamp(now).to_string();
    let cores = vm_cores(pool.wire.vm_size.as_deref().unwrap_or_default());
    let node_seconds = |dedicated: bool| -> f64 {
        let lived = pool.nodes.iter().filter(|n| n.dedicated == dedicated && n.appears_at <= now);
        lived.map(|n| n.leaving.as_ref().map_or(now, |l| l.removal_at.min(now)) - n.appears_at).sum()
    };
    let core_seconds = node_seconds(true) * f64::from(cores);
    let nodes = pool.visible_nodes(now).count() as f64;
    let running = pool.visible_nodes(now).filter(|n| pool.task_started(n, now).is_some()).count() as f64;
    let cpu = if nodes > 0.0 { 3.0 + 82.0 * running / nodes } else { 0.0 };
    let memory = nodes * f64::from(cores) * 4.0 * if running > 0.0 { 0.6 } else { 0.1 };
    let node_hours = (node_seconds(true) + node_seconds(false)) / 3600.0;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "url": format!("{base}/pools/{}/stats", pool.wire.id()),
        "startTime": start,
        "lastUpdateTime": updated,
        "usageStats": {
            "startTime": start,
            "lastUpdateTime": updated,
            "dedicatedCoreTime": BatchDuration::from_secs(core_seconds.max(0.0) as u64).to_string(),
        },
        "resourceStats": {
            "startTime": start,
            "lastUpdateTime": updated,
            "avgCPUPercentage": round(cpu),
            "avgMemoryGiB": round(memory),
            "peakMemoryGiB": round(memory * 1.4),
            "avgDiskGiB": round(nodes * 12.0),
            "peakDiskGiB": round(nodes * 15.0),
            "diskReadIOps": (node_hours * 3600.0 * 4.0) as u64,
            "diskWriteIOps": (node_hours * 3600.0 * 6.0) as u64,
            "diskReadGiB": round(node_hours * 0.5),
            "diskWriteGiB": round(node_hours * 0.8),
            "networkReadGiB": round(node_hours * 1.2),
            "networkWriteGiB": round(node_hours * 0.3),
        },
    })
}

/// Puts `stats` where the service does: after `upgradePolicy`, before the node communication modes.
pub(super) fn insert(pool: &mut Map<String, Value>, stats: Value) {
    let after: Vec<(String, Value)> = ["targetNodeCommunicationMode", "currentNodeCommunicationMode"]
        .iter()
        .filter_map(|key| pool.shift_remove(*key).map(|v| (key.to_string(), v)))
        .collect();
    pool.insert("stats".into(), stats);
    pool.extend(after);
}

/// The vCPUs of an Azure VM size (`standard_d4s_v3` → 4): the number after the family letters.
fn vm_cores(size: &str) -> u32 {
    let name = size.to_lowercase();
    let family = name.strip_prefix("standard_").or_else(|| name.strip_prefix("basic_")).unwrap_or(&name);
    let digits: String = family.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_come_from_the_size_name() {
        assert_eq!(vm_cores("standard_d4s_v3"), 4);
        assert_eq!(vm_cores("Standard_D16s_v3"), 16);
        assert_eq!(vm_cores("standard_nc24ads_a100_v4"), 24);
        assert_eq!(vm_cores("odd"), 1);
    }

    #[test]
    fn stats_go_before_the_communication_modes() {
        let mut pool = json!({"id": "p", "upgradePolicy": {}, "targetNodeCommunicationMode": "default"});
        insert(pool.as_object_mut().unwrap(), json!({}));
        let keys: Vec<&String> = pool.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "upgradePolicy", "stats", "targetNodeCommunicationMode"]);
    }
}
