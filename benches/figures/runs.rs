//! Runs against the simulator: recreation against the critical path, apply against recreate,
//! API calls per refresh.

use crate::{SPEED, TASK_MINUTES, Timed, busy_pools, busy_pools_changed, client, common, simulator, timed_run};
use repool::batch::ApiVersion;
use repool::rollout::policy::RunPolicy;
use repool::rollout::report::PoolReport;
use repool::rollout::run::Intent;
use repool::rollout::snapshots::{Pace, Snapshots};
use repool::rollout::step::Step;
use repool::sim;
use std::time::Instant;

/// Recreates `count` busy pools at once and compares the wall time with the critical path: the
/// longest service time (resizing, deleting, creating, then booting nodes and running their start
/// tasks) the simulator measured for any one pool, from the command's start (see
/// `draining_before_resize`). Polling is repool's default, on the simulator's clock. With a canary, the same run again: its critical path is the canary's, then the rest's.
pub(crate) async fn recreation(sizes: &[usize]) -> color_eyre::Result<()> {
    for &count in sizes {
        let plain = recreate_once(count, 0).await?;
        println!(
            "recreate pools={count:<4} recreated={:<4} wall={:.2}s critical_path={:.2}s ratio={:.3} \
             (from the engine's start: {:.3}) sequential={:.1}s speedup={:.0}x mutating_calls/pool={:.1}",
            plain.recreated,
            plain.wall,
            plain.critical,
            plain.wall / plain.critical,
            plain.wall / plain.critical_from_engine,
            plain.sequential,
            plain.sequential / plain.wall,
            plain.mutating as f64 / count as f64,
        );
        println!("calls    pools={count:<4} per pool: {} · whole run: list pools={}", plain.per_pool, plain.lists);
        if count > 1 {
            let canary = recreate_once(count, 1).await?;
            println!(
                "canary   pools={count:<4} recreated={:<4} wall={:.2}s critical_path={:.2}s ratio={:.3} \
                 cost={:+.2}s ({:+.0}% of the run without a canary)",
                canary.recreated,
                canary.wall,
                canary.critical,
                canary.wall / canary.critical,
                canary.wall - plain.wall,
                (canary.wall / plain.wall - 1.0) * 100.0,
            );
        }
    }
    Ok(())
}

/// A change to a pool's definition body.
type Change = dyn Fn(&mut serde_json::Value);

/// `apply` and `recreate` side by side on the same change of `count` busy pools: a metadata change
/// (apply: in place) and a VM size change (apply: rebuild when empty), api-version 2025-06-01.
pub(crate) async fn apply_against_recreate(sizes: &[usize]) -> color_eyre::Result<()> {
    let metadata =
        |body: &mut serde_json::Value| body["metadata"] = serde_json::json!([{"name": "owner", "value": "bench"}]);
    let vm_size = |body: &mut serde_json::Value| body["vmSize"] = "standard_d4s_v3".into();
    let changes: [(&str, &Change); 2] = [("metadata", &metadata), ("vm-size", &vm_size)];
    for &count in sizes {
        for (name, change) in changes {
            let mut line = format!("apply    pools={count:<4} change={name:<8}");
            for intent in [Intent::Apply, Intent::Recreate] {
                let (done, wall, mutating, created) = change_once(count, change, intent).await?;
                let label = if intent == Intent::Apply { "apply" } else { "recreate" };
                line.push_str(&format!(
                    " {label}: done={done} wall={wall:.2}s mutating_calls={mutating} pools_created={created} ·"
                ));
            }
            println!("{}", line.trim_end_matches(" ·"));
        }
    }
    Ok(())
}

/// One run of `intent` over `count` busy pools whose definition differs by `change`: how many
/// finished, wall time, mutating calls, pools created.
async fn change_once(count: usize, change: &Change, intent: Intent) -> color_eyre::Result<(usize, f64, u64, u64)> {
    let sim = simulator(SPEED).await?;
    let definition = busy_pools_changed(&sim, count, change);
    let Timed { report, wall, .. } = timed_run(&sim, &definition, ApiVersion::V2025_06_01, 0, intent, 0).await?;
    let stats = sim.stats();
    let done = report.pools.iter().filter(|p| p.status.is_done()).count();
    Ok((done, wall, common::mutating_calls(&sim), stats.pools_created))
}

/// What one benchmark recreation measured.
pub(crate) struct Figures {
    recreated: usize,
    pub(crate) wall: f64,
    /// The longest pool's service time from the proposal's start (the wall time's origin).
    pub(crate) critical: f64,
    /// The same from the engine's start, the measure before 2026-12-03: it left the proposal
    /// (where the pools' tasks go on running) out of the critical path but not of the wall time.
    pub(crate) critical_from_engine: f64,
    sequential: f64,
    mutating: u64,
    per_pool: String,
    lists: u64,
}

pub(crate) async fn recreate_once(count: usize, canary: usize) -> color_eyre::Result<Figures> {
    let sim = simulator(SPEED).await?;
    let definition = busy_pools(&sim, count);
    let seeded = sim.stats().service_seconds;
    let tasks_end = tasks_end(&sim);
    let Timed { report, wall, at, sim_started } =
        timed_run(&sim, &definition, ApiVersion::V2024_07_01, canary, Intent::Recreate, 0).await?;
    let stats = sim.stats();
    let recreated = report.pools.iter().filter(|p| p.status.is_done()).count();
    let mutating = common::mutating_calls(&sim);
    // "METHOD operation status" → operation → count.
    let mut by_operation = std::collections::BTreeMap::<&str, u64>::new();
    for (key, n) in &stats.requests {
        let operation = key.split_once(' ').map_or(key.as_str(), |(_, rest)| rest);
        *by_operation.entry(operation.rsplit_once(' ').map_or(operation, |(op, _)| op)).or_default() += n;
    }
    let lists = by_operation.remove("list pools").unwrap_or(0);
    let per_pool: Vec<String> =
        by_operation.iter().map(|(op, n)| format!("{op}={:.2}", *n as f64 / count as f64)).collect();
    // Booting and start tasks come after the allocation the simulator counts as service time
    // (lower-cased id → seconds; one look at the world).
    let booting: std::collections::HashMap<String, f64> = sim.with_world(|world, _| {
        let boot = |nodes: &[sim::world::SimNode]| {
            let allocated = nodes.iter().map(|n| n.appears_at).fold(0.0f64, f64::max);
            nodes.iter().map(|n| n.ready_at - allocated).fold(0.0f64, f64::max) / SPEED
        };
        world.pools.iter().map(|(key, pool)| (key.clone(), boot(&pool.nodes))).collect()
    });
    let boot = |id: &str| booting.get(&id.to_lowercase()).copied().unwrap_or(0.0);
    let service = |id: &str| {
        let key = id.to_lowercase();
        (stats.service_seconds.get(&key).unwrap_or(&0.0) - seeded.get(&key).unwrap_or(&0.0)) / SPEED + boot(id)
    };
    let tasks_left = |id: &str| (tasks_end.get(&id.to_lowercase()).copied().unwrap_or(0.0) - sim_started) / SPEED;
    let path = |pool: &PoolReport| service(&pool.id) + draining_before_resize(pool, at, Some(tasks_left(&pool.id)));
    let path_from_engine = |pool: &PoolReport| service(&pool.id) + draining_before_resize(pool, report.started, None);
    let sequential: f64 = report.pools.iter().map(path).sum();
    let critical_of = |path: &dyn Fn(&PoolReport) -> f64| {
        if canary > 0 {
            // The others start once the canaries are healthy: their tasks had ended meanwhile.
            let (first, rest) = report.pools.split_at(canary.min(report.pools.len()));
            first.iter().map(path).fold(0.0f64, f64::max) + rest.iter().map(|p| service(&p.id)).fold(0.0f64, f64::max)
        } else {
            report.pools.iter().map(path).fold(0.0f64, f64::max)
        }
    };
    let (critical, critical_from_engine) = (critical_of(&path), critical_of(&path_from_engine));
    Ok(Figures {
        recreated,
        wall,
        critical,
        critical_from_engine,
        sequential,
        mutating,
        per_pool: per_pool.join(" "),
        lists,
    })
}

/// When each seeded pool's running tasks end (lower-cased id → the simulator's seconds): its
/// drain cannot end before, whoever resizes it when.
fn tasks_end(sim: &sim::RunningSim) -> std::collections::HashMap<String, f64> {
    sim.with_world(|world, now| {
        let ends = |pool: &sim::world::SimPool| {
            let started = pool.nodes.iter().filter_map(|n| pool.task_started(n, now));
            started.map(|s| s + f64::from(TASK_MINUTES) * 60.0).fold(now, f64::max)
        };
        world.pools.iter().map(|(key, pool)| (key.clone(), ends(pool))).collect()
    })
}

/// The part of a pool's drain before its resize to 0, which the simulator's service time lacks
/// (it counts from the resize), measured from `origin`. A pool's running tasks end when they
/// end, so when they outlast the resize the drain ends at the same instant whenever the resize
/// came: the time until the resize is the pool's, not the caller's. `tasks_left`: seconds from
/// `origin` until the tasks end (None: credit the whole wait before the resize, the measure from
/// the engine's start before 2026-12-03). A pool whose tasks ended before its resize gets no
/// credit: the wait until the resize was the caller's.
fn draining_before_resize(pool: &PoolReport, origin: jiff::Timestamp, tasks_left: Option<f64>) -> f64 {
    let resized = pool
        .steps
        .iter()
        .find(|s| s.step == Step::ResizeToZero)
        .map(|s| (s.started - origin).total(jiff::Unit::Second).unwrap_or(0.0) + s.duration_seconds);
    match resized {
        Some(resized) if tasks_left.is_none_or(|left| left >= resized) => resized,
        _ => 0.0,
    }
}

pub(crate) async fn refresh_calls(sizes: &[usize]) -> color_eyre::Result<()> {
    for &count in sizes {
        let sim = simulator(0.0).await?;
        let clock = sim.state.clock.lock().expect("clock").clone();
        sim.with_world(|world, _| sim::seed::generated(world, &clock, count)).map_err(color_eyre::eyre::Report::msg)?;
        let client = client(&sim);
        let defaults = RunPolicy::default();
        let pace = Pace { interval: defaults.poll_interval, fast: defaults.fast_poll_interval };
        let snapshots = Snapshots::new(client.clone(), pace);
        let started = Instant::now();
        snapshots.refresh().await?;
        let visible: Vec<String> = snapshots.latest().pools.values().take(40).map(|p| p.id().to_string()).collect();
        client.list_node_counts_for(&visible).await?;
        let took = started.elapsed();
        let stats = sim.stats();
        let count_of = |op: &str| stats.requests.iter().filter(|(k, _)| k.contains(op)).map(|(_, n)| n).sum::<u64>();
        println!(
            "refresh pools={count:<5} list_pages={} nodecounts_pages={} (40 visible rows) time={:.1}ms",
            count_of("list pools"),
            count_of("list node counts"),
            took.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
