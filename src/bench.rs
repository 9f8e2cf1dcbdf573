//! `repool bench`: figures, not asserts. One line per case; docs/BENCHMARKS.md records them.

use crate::batch::http::HttpSettings;
use crate::batch::{ApiVersion, AuthMethod, AuthSettings, BatchClient, Credential, RetryPolicy};
use crate::cli::BenchCase;
use crate::definition::Definition;
use crate::definition::plan::Plan;
use crate::errors::Exit;
use crate::recreate::policy::RecreatePolicy;
use crate::recreate::report::{PoolReport, RunReport};
use crate::recreate::run::{Intent, Until, Workspace};
use crate::recreate::snapshots::{POOL_SUMMARY_SELECT, Pace, Snapshots};
use crate::recreate::step::Step;
use crate::secret::Secret;
use crate::sim::{self, RunningSim, SimOptions};
use std::time::{Duration, Instant};

/// /proc reports CPU time in USER_HZ ticks, 100 a second on Linux.
const USER_HZ: f64 = 100.0;
/// Simulated seconds per real second in the recreation benchmark: a recreation takes about 5 s,
/// long enough that the simulator's own work for 200 pools (it shares the CPU) stays small.
const SPEED: f64 = 30.0;
/// Each benchmark pool runs 10-minute tasks on 2 nodes, so draining takes up to 10 simulated minutes.
const TASK_MINUTES: u32 = 10;

pub async fn run(quick: bool, cases: &[BenchCase]) -> color_eyre::Result<Exit> {
    let machine = format!("{} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("repool bench ({machine}, simulator at ×{SPEED}, release build recommended)");
    let wanted = |case| cases.is_empty() || cases.contains(&case);
    if wanted(BenchCase::Recreate) {
        recreation(if quick { &[1, 10, 50] } else { &[1, 10, 20, 100, 200, 1000] }).await?;
    }
    if wanted(BenchCase::Apply) {
        apply_against_recreate(if quick { &[1, 20] } else { &[1, 20, 200] }).await?;
    }
    if wanted(BenchCase::Refresh) {
        refresh_calls(if quick { &[10, 100] } else { &[10, 100, 1000] }).await?;
    }
    if wanted(BenchCase::Render) {
        frames(if quick { &[100, 1000] } else { &[100, 1000, 10_000] }).await?;
    }
    if wanted(BenchCase::Definition) {
        definition(1000).await?;
    }
    if wanted(BenchCase::Dashboard) {
        dashboard_idle(if quick { 10 } else { 60 }, 1000).await;
        dashboard_idle(10, if quick { 1000 } else { 10_000 }).await;
        demo_start_up().await;
    }
    Ok(Exit::Done)
}

async fn simulator(speed: f64) -> color_eyre::Result<RunningSim> {
    sim::start(SimOptions { speed, ..Default::default() }, "127.0.0.1:0").await.map_err(color_eyre::eyre::Report::msg)
}

fn client(sim: &RunningSim) -> BatchClient {
    client_at(sim, ApiVersion::V2024_07_01)
}

fn client_at(sim: &RunningSim, api_version: ApiVersion) -> BatchClient {
    let auth = AuthSettings {
        method: AuthMethod::SharedKey,
        account_name: sim.account().into(),
        account_key: Some(Secret::new(sim.key())),
        ..Default::default()
    };
    let credential = Credential::from_settings(&auth, &HttpSettings::default()).expect("simulator credentials");
    BatchClient::new(&sim.url, api_version, credential, &HttpSettings::default(), RetryPolicy::default())
        .expect("client")
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

/// Recreates `count` busy pools at once and compares the wall time with the critical path: the
/// longest service time (resizing, deleting, creating, then booting nodes and running their start
/// tasks) the simulator measured for any one pool. Polling is repool's default, on the simulator's
/// clock. With a canary, the same run again: its critical path is the canary's, then the rest's.
async fn recreation(sizes: &[usize]) -> color_eyre::Result<()> {
    for &count in sizes {
        let plain = recreate_once(count, 0).await?;
        println!(
            "recreate pools={count:<4} recreated={:<4} wall={:.2}s critical_path={:.2}s ratio={:.3} sequential={:.1}s \
             speedup={:.0}x mutating_calls/pool={:.1}",
            plain.recreated,
            plain.wall,
            plain.critical,
            plain.wall / plain.critical,
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
async fn apply_against_recreate(sizes: &[usize]) -> color_eyre::Result<()> {
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
    let (report, wall) = timed_run(&sim, &definition, ApiVersion::V2025_06_01, 0, intent).await?;
    let stats = sim.stats();
    let done = report.pools.iter().filter(|p| p.status.is_done()).count();
    Ok((done, wall, mutating_calls(&stats), stats.pools_created))
}

/// A run of `intent` over every pool of `definition`, all in parallel at repool's default polling on
/// the simulator's clock; the whole run counts (the pre-run backups too).
async fn timed_run(
    sim: &RunningSim,
    definition: &Definition,
    api_version: ApiVersion,
    canary: usize,
    intent: Intent,
) -> color_eyre::Result<(RunReport, f64)> {
    let defaults = RecreatePolicy::default();
    let policy = RecreatePolicy {
        poll_interval: defaults.poll_interval.div_f64(SPEED),
        fast_poll_interval: defaults.fast_poll_interval.div_f64(SPEED),
        parallel: definition.pools.len(),
        canary,
        ..defaults
    };
    let dir = tempfile_dir()?;
    let workspace = Workspace::new(client_at(sim, api_version), api_version, policy, dir.clone());
    let ids: Vec<String> = definition.pools.iter().map(|p| p.id.clone()).collect();
    let started = Instant::now();
    let proposal = workspace.propose(definition, &ids, intent, false).await.map_err(color_eyre::eyre::Report::msg)?;
    let run = proposal.start().await.map_err(color_eyre::eyre::Report::msg)?;
    let prepared = run.prepare(Some(definition), None, &[], Until::End).await.map_err(color_eyre::eyre::Report::msg)?;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = prepared.execute(tx, Default::default()).await;
    let wall = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((report, wall))
}

fn mutating_calls(stats: &crate::sim::world::Stats) -> u64 {
    stats.requests.iter().filter(|(k, _)| !k.starts_with("GET") && !k.starts_with("HEAD")).map(|(_, n)| n).sum()
}

/// What one benchmark recreation measured.
struct Figures {
    recreated: usize,
    wall: f64,
    critical: f64,
    sequential: f64,
    mutating: u64,
    per_pool: String,
    lists: u64,
}

async fn recreate_once(count: usize, canary: usize) -> color_eyre::Result<Figures> {
    let sim = simulator(SPEED).await?;
    let definition = busy_pools(&sim, count);
    let seeded = sim.stats().service_seconds;
    let (report, wall) = timed_run(&sim, &definition, ApiVersion::V2024_07_01, canary, Intent::Recreate).await?;
    let stats = sim.stats();
    let recreated = report.pools.iter().filter(|p| p.status.is_done()).count();
    let mutating = mutating_calls(&stats);
    // "METHOD operation status" → operation → count.
    let mut by_operation = std::collections::BTreeMap::<&str, u64>::new();
    for (key, n) in &stats.requests {
        let operation = key.split_once(' ').map_or(key.as_str(), |(_, rest)| rest);
        *by_operation.entry(operation.rsplit_once(' ').map_or(operation, |(op, _)| op)).or_default() += n;
    }
    let lists = by_operation.remove("list pools").unwrap_or(0);
    let per_pool: Vec<String> =
        by_operation.iter().map(|(op, n)| format!("{op}={:.2}", *n as f64 / count as f64)).collect();
    // Booting and start tasks come after the allocation the simulator counts as service time.
    let boot = |id: &str| {
        sim.with_world(|world, _| {
            let nodes = world.find(id).map(|p| p.nodes.clone()).unwrap_or_default();
            let allocated = nodes.iter().map(|n| n.appears_at).fold(0.0f64, f64::max);
            nodes.iter().map(|n| n.ready_at - allocated).fold(0.0f64, f64::max) / SPEED
        })
    };
    let service = |id: &str| {
        let key = id.to_lowercase();
        (stats.service_seconds.get(&key).unwrap_or(&0.0) - seeded.get(&key).unwrap_or(&0.0)) / SPEED + boot(id)
    };
    let path = |pool: &PoolReport| service(&pool.id) + draining_before_resize(&report, pool);
    let sequential: f64 = report.pools.iter().map(path).sum();
    let critical = if canary > 0 {
        // The others start once the canaries are healthy: their tasks had ended meanwhile.
        let (first, rest) = report.pools.split_at(canary.min(report.pools.len()));
        first.iter().map(path).fold(0.0f64, f64::max) + rest.iter().map(|p| service(&p.id)).fold(0.0f64, f64::max)
    } else {
        report.pools.iter().map(path).fold(0.0f64, f64::max)
    };
    Ok(Figures { recreated, wall, critical, sequential, mutating, per_pool: per_pool.join(" "), lists })
}

/// The drain's service time runs from the resize to 0, but the pool's tasks were finishing from
/// the start: their drain ends at the same instant whenever the resize came (before the task
/// ended), so the time until the resize belongs to the pool's service time, not to repool.
fn draining_before_resize(report: &RunReport, pool: &PoolReport) -> f64 {
    pool.steps
        .iter()
        .find(|s| s.step == Step::ResizeToZero)
        .map(|s| (s.started - report.started).total(jiff::Unit::Second).unwrap_or(0.0) + s.duration_seconds)
        .unwrap_or(0.0)
}

async fn refresh_calls(sizes: &[usize]) -> color_eyre::Result<()> {
    for &count in sizes {
        let sim = simulator(0.0).await?;
        let clock = sim.state.clock.lock().expect("clock").clone();
        sim.with_world(|world, _| sim::seed::generated(world, &clock, count)).map_err(color_eyre::eyre::Report::msg)?;
        let client = client(&sim);
        let defaults = RecreatePolicy::default();
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

async fn frames(sizes: &[usize]) -> color_eyre::Result<()> {
    use crate::tui::app::{Action, App, Identity};
    for &count in sizes {
        let sim = simulator(0.0).await?;
        let clock = sim.state.clock.lock().expect("clock").clone();
        sim.with_world(|world, _| sim::seed::generated(world, &clock, count)).map_err(color_eyre::eyre::Report::msg)?;
        let pools = client(&sim).list_pools(Some(POOL_SUMMARY_SELECT), None, None).await?;
        let mut app = App::new(Identity::default(), Default::default(), None, ApiVersion::V2024_07_01);
        app.update(Action::Refreshed(Ok(pools)));
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50))?;
        let theme = crate::tui::theme::Theme::default();
        let frames = 100;
        let started = Instant::now();
        for i in 0..frames {
            app.selected = (i * 37) % count.max(1);
            terminal.draw(|frame| crate::tui::view::draw(frame, &mut app, &theme))?;
        }
        let per_frame = started.elapsed().as_secs_f64() * 1000.0 / frames as f64;
        println!("tui render pools={count:<6} frame={per_frame:.2}ms (200x50, sorted+filtered each frame)");
    }
    Ok(())
}

async fn definition(count: usize) -> color_eyre::Result<()> {
    let sim = simulator(0.0).await?;
    let seeded = busy_pools(&sim, count);
    let text =
        serde_json::Value::Object(seeded.pools.iter().map(|p| (p.id.clone(), p.body.clone())).collect()).to_string();
    let live = client(&sim).list_pools(None, None, None).await?;
    let started = Instant::now();
    let definition = Definition::from_text("bench.json", &text, false, &Default::default())
        .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let build = started.elapsed();
    let started = Instant::now();
    definition.validate(ApiVersion::V2024_07_01).map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let validate = started.elapsed();
    let started = Instant::now();
    let plan = Plan::new(&definition, &live, &[], ApiVersion::V2024_07_01);
    let planned = started.elapsed();
    println!(
        "definition pools={count} load+merge={:.1}ms validate={:.1}ms plan={:.1}ms unchanged={}",
        build.as_secs_f64() * 1000.0,
        validate.as_secs_f64() * 1000.0,
        planned.as_secs_f64() * 1000.0,
        plan.pools.iter().filter(|p| p.action == crate::definition::plan::Action::Unchanged).count()
    );
    Ok(())
}

/// The real dashboard in a pseudo-terminal (util-linux `script`) against a separate simulator:
/// time to the first drawn frame, then its CPU use while idle.
async fn dashboard_idle(seconds: u64, pools: usize) {
    let Ok(exe) = std::env::current_exe() else { return };
    let Ok(dir) = tempfile_dir() else { return };
    let sim = tokio::process::Command::new(&exe)
        .args(["sim", "--seed", "demo", "--pools", &pools.to_string()])
        .env("REPOOL_DATA_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut sim) = sim else { return };
    let mut first = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let stdout = sim.stdout.take().expect("piped");
        let _ = tokio::io::BufReader::new(stdout).read_line(&mut first).await;
    }
    let parts: Vec<&str> = first.split_whitespace().collect();
    let (Some(url), Some(key)) = (parts.get(2), parts.get(4).and_then(|k| k.strip_prefix("key="))) else { return };
    let command = format!("exec {} --account-url {url} --account-name simaccount --auth shared-key", exe.display());
    let env = [("AZURE_BATCH_ACCESS_KEY", key), ("REPOOL_DATA_DIR", &dir.display().to_string())];
    let (mut tui, mut output, first_frame) = match first_frame(&command, &env, "gen-0001").await {
        Ok(started) => started,
        Err(why) => {
            println!("tui idle: {why}");
            return;
        }
    };
    // Keep draining the pty so the dashboard never blocks on output.
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = [0u8; 65536];
        while matches!(output.read(&mut buffer).await, Ok(n) if n > 0) {}
    });
    let Some(pid) = repool_child_pid(tui.id().unwrap_or(0)) else {
        println!(
            "tui start-up to first frame={:.0}ms; idle cpu: cannot find the process",
            first_frame.as_secs_f64() * 1000.0
        );
        return;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_before, at) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let used = cpu_ticks(pid).saturating_sub(cpu_before) as f64 / USER_HZ;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_default();
    println!(
        "tui pools={pools} start-up to first frame={:.0}ms idle_cpu={:.2}% over {seconds}s rss={rss}KiB",
        first_frame.as_secs_f64() * 1000.0,
        used * 100.0 / at.elapsed().as_secs_f64()
    );
    let _ = tui.kill().await;
    let _ = sim.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `repool demo` from start to its first frame.
async fn demo_start_up() {
    let Ok(exe) = std::env::current_exe() else { return };
    let Ok(dir) = tempfile_dir() else { return };
    let command = format!("exec {} demo", exe.display());
    match first_frame(&command, &[("REPOOL_DATA_DIR", &dir.display().to_string())], "p-render").await {
        Ok((mut demo, _, took)) => {
            println!("tui demo start-up to first frame={:.0}ms", took.as_secs_f64() * 1000.0);
            let _ = demo.kill().await;
        }
        Err(why) => println!("tui demo: {why}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `shell_command` in a 45×160 pseudo-terminal (util-linux `script`) until its output shows
/// `needle`; returns the child, its output (keep reading it) and how long the first frame took.
async fn first_frame(
    shell_command: &str,
    env: &[(&str, &str)],
    needle: &str,
) -> Result<(tokio::process::Child, tokio::process::ChildStdout, Duration), String> {
    // A pty starts at 0x0; size it before the program asks.
    let command = format!("stty rows 45 cols 160; {shell_command}");
    let started = Instant::now();
    // `script` signals its whole process group when it ends: give it its own.
    let mut child = tokio::process::Command::new("script")
        .process_group(0)
        .args(["-qfc", &command, "/dev/null"])
        .envs(env.iter().copied())
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|_| "skipped (util-linux `script` is needed for a pseudo-terminal)".to_string())?;
    let mut output = child.stdout.take().expect("piped");
    let mut seen = Vec::new();
    loop {
        use tokio::io::AsyncReadExt;
        let mut buffer = [0u8; 65536];
        match tokio::time::timeout(Duration::from_secs(20), output.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => {
                seen.extend_from_slice(&buffer[..n]);
                if String::from_utf8_lossy(&seen).contains(needle) {
                    return Ok((child, output, started.elapsed()));
                }
            }
            _ => return Err("nothing drawn within 20 s".into()),
        }
    }
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("repool-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The repool process under `script`.
fn repool_child_pid(parent: u32) -> Option<u32> {
    for _ in 0..50 {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            if stat.contains("(repool)") && fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}
