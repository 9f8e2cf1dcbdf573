//! `cargo bench`: repool's figures, not asserts. One line per case; docs/BENCHMARKS.md records
//! them. Its own target, so the product carries none of it; it shares the integration tests'
//! helpers (simulator clients, the pseudo-terminal).
//!
//! `cargo bench -- [--quick] [CASE…]`

mod capacity;
mod dashboard;
mod definition;
mod runs;
mod scale;

// The integration tests' helpers; the bench uses a few of them.
#[allow(dead_code, unreachable_pub)]
#[path = "../../tests/it/common/mod.rs"]
mod common;

use clap::Parser;
use repool::batch::{ApiVersion, BatchClient, RetryPolicy};
use repool::definition::Definition;
use repool::rollout::policy::RunPolicy;
use repool::rollout::report::RunReport;
use repool::rollout::run::{Intent, Until, Workspace};
use repool::sim::{self, RunningSim, SimOptions};
use std::time::Instant;

/// Simulated seconds per real second in the run benchmarks: a recreation takes about 5 s, long
/// enough that the simulator's own work for 200 pools (it shares the CPU) stays small.
const SPEED: f64 = 30.0;
/// Each benchmark pool runs 10-minute tasks on 2 nodes, so draining takes up to 10 simulated minutes.
const TASK_MINUTES: u32 = 10;

/// repool's figures: run wall time against the critical path, API calls, dashboard frame time,
/// start-up, idle CPU and memory, definition speed (release build: `cargo bench`).
#[derive(Parser)]
struct Args {
    /// Smaller sizes and a 10 s idle sample (about a minute in all)
    #[arg(long)]
    quick: bool,
    /// Only these cases (default: all)
    #[arg(value_enum)]
    cases: Vec<Case>,
    /// Pool counts for the sized cases instead of their defaults, e.g. `--sizes 200`
    #[arg(long, value_delimiter = ',', value_name = "N,N")]
    sizes: Vec<usize>,
    /// Passed by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Case {
    /// Recreation wall time against the critical path, calls per pool
    Recreate,
    /// apply against recreate: a metadata change and a VM size change, wall time and mutating calls
    Apply,
    /// API calls per dashboard refresh
    Refresh,
    /// Dashboard frame time
    Render,
    /// Validate + render + plan of 1,000 pools
    Definition,
    /// Dashboard start-up, idle CPU and memory (the real binary in a pseudo-terminal)
    Dashboard,
    /// What a change costs in capacity: busy pools changed by each strategy, lowest capacity, time below target
    Capacity,
    /// Issue 27's table: dashboard on 10,000 and 1,000 pools (against `REPOOL_BENCH_BASELINE`, if set), recreate 200 and 1,000
    Scale,
}

#[tokio::main]
async fn main() -> color_eyre::Result<()> {
    let args = Args::parse();
    let machine = format!("{} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("repool figures ({machine}, simulator at x{SPEED})");
    let quick = args.quick;
    let wanted = |case| args.cases.is_empty() || args.cases.contains(&case);
    let sizes = |quick_sizes: &'static [usize], full: &'static [usize]| -> Vec<usize> {
        match (args.sizes.is_empty(), quick) {
            (false, _) => args.sizes.clone(),
            (true, true) => quick_sizes.to_vec(),
            (true, false) => full.to_vec(),
        }
    };
    if wanted(Case::Recreate) {
        runs::recreation(&sizes(&[1, 10, 50], &[1, 10, 20, 100, 200, 1000])).await?;
    }
    if wanted(Case::Apply) {
        runs::apply_against_recreate(&sizes(&[1, 20], &[1, 20, 200])).await?;
    }
    if wanted(Case::Refresh) {
        runs::refresh_calls(&sizes(&[10, 100], &[10, 100, 1000])).await?;
    }
    if wanted(Case::Render) {
        dashboard::frames(&sizes(&[100, 1000], &[100, 1000, 10_000])).await?;
    }
    if wanted(Case::Capacity) {
        capacity::capacity(&sizes(&[1, 20], &[1, 20, 200])).await?;
    }
    if wanted(Case::Definition) {
        definition::definition(1000).await?;
    }
    if wanted(Case::Dashboard) {
        dashboard::idle(if quick { 10 } else { 60 }, 1000).await;
        dashboard::idle(10, if quick { 1000 } else { 10_000 }).await;
        dashboard::demo_start_up().await;
    }
    // Not part of "all": it repeats the dashboard and recreate cases at their largest sizes.
    if args.cases.contains(&Case::Scale) {
        scale::scale(if quick { 5 } else { 10 }).await?;
    }
    Ok(())
}

async fn simulator(speed: f64) -> color_eyre::Result<RunningSim> {
    sim::start(SimOptions { speed, ..Default::default() }, "127.0.0.1:0").await.map_err(color_eyre::eyre::Report::msg)
}

fn client_at(sim: &RunningSim, api_version: ApiVersion) -> BatchClient {
    common::client_at(sim, api_version, RetryPolicy::default())
}

fn client(sim: &RunningSim) -> BatchClient {
    client_at(sim, ApiVersion::V2024_07_01)
}

/// `count` identical busy pools in the simulator, seeded at one instant so their tasks end
/// together, and a definition for them.
fn busy_pools(sim: &RunningSim, count: usize) -> Definition {
    busy_pools_changed(sim, count, |_| {})
}

/// The same, with each pool's definition changed by `change` (the live pools as seeded).
fn busy_pools_changed(sim: &RunningSim, count: usize, change: impl Fn(&mut serde_json::Value)) -> Definition {
    let clock = sim.state.clock.lock().expect("clock").clone();
    let mut text = String::from("{");
    let mut seeds = Vec::new();
    for i in 0..count {
        let body = serde_json::json!({
            "id": format!("bench-{i:04}"), "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 2,
            "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSKUId": "batch.node.ubuntu 24.04"}
        });
        let mut seeded = body.clone();
        seeded["_sim"] = serde_json::json!({"taskMinutes": TASK_MINUTES});
        if let serde_json::Value::Object(map) = seeded {
            seeds.push(map);
        }
        let mut body = body;
        change(&mut body);
        text.push_str(&format!("{}\"bench-{i:04}\": {}", if i == 0 { "" } else { "," }, body));
    }
    sim.with_world(|world, now| {
        for map in seeds {
            sim::seed::add(world, &clock, now, map).expect("benchmark pools are valid");
        }
        world.advance(now, &clock);
    });
    text.push('}');
    Definition::from_text("bench.json", &text, false, &Default::default()).expect("benchmark definition")
}

/// A run of `intent` (with `surge`: refresh's) over every pool of `definition`, all in parallel at repool's default polling on
/// the simulator's clock; the whole run counts (the proposal and the pre-run backups too).
async fn timed_run(
    sim: &RunningSim,
    definition: &Definition,
    api_version: ApiVersion,
    canary: usize,
    intent: Intent,
    surge: u32,
) -> color_eyre::Result<Timed> {
    let defaults = RunPolicy::default();
    let policy = RunPolicy {
        poll_interval: defaults.poll_interval.div_f64(SPEED),
        fast_poll_interval: defaults.fast_poll_interval.div_f64(SPEED),
        parallel: definition.pools.len(),
        canary,
        surge,
        ..defaults
    };
    let dir = tempfile::tempdir()?;
    let workspace = Workspace::new(client_at(sim, api_version), api_version, policy, dir.path().to_path_buf());
    let ids: Vec<String> = definition.pools.iter().map(|p| p.id.clone()).collect();
    // The disk settled first: the last run's thousands of deleted files are not this one's to flush.
    let _ = std::process::Command::new("sync").status();
    let (started, at) = (Instant::now(), jiff::Timestamp::now());
    let sim_started = sim.with_world(|_, now| now);
    let proposal = match intent {
        Intent::Refresh => workspace.propose_refresh(&ids).await,
        _ => workspace.propose(definition, &ids, intent, false).await,
    };
    let proposal = proposal.map_err(color_eyre::eyre::Report::msg)?;
    let run = proposal.start().await.map_err(color_eyre::eyre::Report::msg)?;
    let prepared = run.prepare(Some(definition), None, &[], Until::End).await.map_err(color_eyre::eyre::Report::msg)?;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = prepared.execute(tx, Default::default()).await;
    let wall = started.elapsed().as_secs_f64();
    Ok(Timed { report, wall, at, sim_started })
}

/// What `timed_run` measured.
struct Timed {
    report: RunReport,
    /// Seconds from the proposal's start to the report.
    wall: f64,
    /// When the proposal started (the wall time's origin).
    at: jiff::Timestamp,
    /// The simulator's clock then (its seconds).
    sim_started: f64,
}
