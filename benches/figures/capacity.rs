//! What a change costs in capacity: busy pools changed side by side by each strategy repool has,
//! sampled on the simulator's clock while the run goes (common::capacity): recreate and apply's
//! rebuild take busy pools to zero; a roll and a refresh never below target − max-unavailable
//! (refresh with surge: never below target).

use crate::{SPEED, busy_pools_changed, common, simulator, timed_run};
use common::capacity::CapacitySampler;
use repool::batch::ApiVersion;
use repool::rollout::run::Intent;
use repool::sim::RunningSim;
use std::time::Duration;

/// A change to a pool's definition body.
type Change = dyn Fn(&mut serde_json::Value);

/// Recreate (no change: new pools), apply's rebuild (a VM size change, only possible on an empty
/// pool), apply's roll (a start task change) and refresh (no change; without a surge, with a surge
/// of one node, and of the whole 2-node pool) over `count` busy pools each: wall time, the lowest capacity any pool had (nodes able
/// to take tasks / target), simulated node-minutes below target per pool, tasks cut short, mutating calls.
pub(crate) async fn capacity(sizes: &[usize]) -> color_eyre::Result<()> {
    let unchanged = |_: &mut serde_json::Value| {};
    let vm_size = |body: &mut serde_json::Value| body["vmSize"] = "standard_d4s_v3".into();
    let start_task = |body: &mut serde_json::Value| {
        body["startTask"] = serde_json::json!({"commandLine": "/bin/sh -c 'echo v2'", "waitForSuccess": true})
    };
    let strategies: [(&str, &Change, Intent, u32); 6] = [
        ("recreate", &unchanged, Intent::Recreate, 0),
        ("rebuild", &vm_size, Intent::Apply, 0),
        ("roll", &start_task, Intent::Apply, 0),
        ("refresh", &unchanged, Intent::Refresh, 0),
        ("refresh+1", &unchanged, Intent::Refresh, 1),
        ("refresh+2", &unchanged, Intent::Refresh, 2),
    ];
    for (&count, tasks) in sizes.iter().flat_map(|c| [(c, Tasks::Aligned), (c, Tasks::Staggered)]) {
        for (label, change, intent, surge) in strategies {
            let sim = simulator(SPEED).await?;
            let definition = busy_pools_changed(&sim, count, change);
            let ids: Vec<String> = definition.pools.iter().map(|p| p.id.clone()).collect();
            every_node_takes_tasks(&sim, &ids);
            if tasks == Tasks::Staggered {
                stagger(&sim, &ids);
            }
            let sampler = CapacitySampler::start(&sim, &ids, Duration::from_millis(20));
            let crate::Timed { report, wall, .. } =
                timed_run(&sim, &definition, ApiVersion::V2025_06_01, 0, intent, surge).await?;
            let figures = sampler.finish().await;
            let stats = sim.stats();
            let done = report.pools.iter().filter(|p| p.status.is_done()).count();
            let lowest =
                figures.values().map(|f| f64::from(f.lowest) / f64::from(f.target.max(1))).fold(1.0f64, f64::min);
            let below: f64 = figures.values().map(|f| f.below_target).sum::<f64>() / 60.0 / count as f64;
            let killed = stats.tasks_killed_by_resize + stats.tasks_killed_by_node_ops + stats.tasks_killed_by_delete;
            println!(
                "capacity pools={count:<4} tasks={:<9} strategy={label:<9} done={done:<4} wall={wall:.2}s lowest={:.0}% \
                 below_target={below:.1} node-min/pool tasks_cut_short={killed} mutating_calls/pool={:.1}",
                tasks.name(),
                lowest * 100.0,
                common::mutating_calls(&sim) as f64 / count as f64,
            );
        }
    }
    Ok(())
}

/// How the tasks of a pool's nodes lie in time: all started at one instant (the nodes booted
/// together; the worst case for a roll: a node kept in service starts a whole new task while its
/// neighbour is replaced), or spread evenly over a task's length, as in a pool long in service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tasks {
    Aligned,
    Staggered,
}

impl Tasks {
    fn name(self) -> &'static str {
        match self {
            Tasks::Aligned => "aligned",
            Tasks::Staggered => "staggered",
        }
    }
}

/// Spreads each pool's running tasks evenly over one task length (node i's tasks started i/n of a
/// length earlier), so their ends are staggered.
fn stagger(sim: &RunningSim, ids: &[String]) {
    sim.with_world(|world, _| {
        for id in ids {
            let Some(pool) = world.find_mut(id) else { continue };
            let Some(seconds) = pool.workload.as_ref().map(|w| w.task_seconds) else { continue };
            let n = pool.nodes.len() as f64;
            for (i, node) in pool.nodes.iter_mut().enumerate() {
                node.tasks_from -= i as f64 * seconds / n;
            }
        }
    });
}

/// Moves the simulated clock on until every node of `ids` has booted and takes tasks, so the
/// figures measure the change, not the pools' first boot.
fn every_node_takes_tasks(sim: &RunningSim, ids: &[String]) {
    let settled = || {
        sim.with_world(|world, now| {
            ids.iter().all(|id| {
                world.find(id).is_some_and(|p| {
                    p.usable_nodes(now)
                        == p.wire.target_dedicated_nodes.unwrap_or(0) + p.wire.target_low_priority_nodes.unwrap_or(0)
                })
            })
        })
    };
    while !settled() {
        sim.advance(30.0);
    }
}
