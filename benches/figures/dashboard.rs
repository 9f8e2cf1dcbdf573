//! The dashboard: frame time in a test backend; start-up, idle CPU and memory of the real binary
//! in a pseudo-terminal (the integration tests' terminal), against a separate simulator.

use crate::common::terminal::Terminal;
use crate::{client, simulator};
use repool::batch::ApiVersion;
use repool::sim;
use std::time::{Duration, Instant};

/// /proc reports CPU time in USER_HZ ticks, 100 a second on Linux.
const USER_HZ: f64 = 100.0;

pub(crate) async fn frames(sizes: &[usize]) -> color_eyre::Result<()> {
    use repool::tui::app::{Action, App, Identity};
    for &count in sizes {
        let sim = simulator(0.0).await?;
        let clock = sim.state.clock.lock().expect("clock").clone();
        sim.with_world(|world, _| sim::seed::generated(world, &clock, count)).map_err(color_eyre::eyre::Report::msg)?;
        let pools = client(&sim).list_pool_summaries().await?;
        let mut app = App::new(Identity::default(), Default::default(), None, ApiVersion::V2024_07_01);
        app.update(Action::Refreshed(Ok(pools)));
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50))?;
        let theme = repool::tui::theme::Theme::default();
        let frames = 100;
        let started = Instant::now();
        for i in 0..frames {
            app.selected = (i * 37) % count.max(1);
            terminal.draw(|frame| repool::tui::view::draw(frame, &mut app, &theme))?;
        }
        let per_frame = started.elapsed().as_secs_f64() * 1000.0 / frames as f64;
        println!(
            "tui render pools={count:<6} frame={per_frame:.2}ms (200x50; rows sorted and filtered once, not per frame)"
        );
    }
    Ok(())
}

/// What the real dashboard measured on an account of many pools.
pub(crate) struct Idle {
    pub(crate) first_frame_ms: f64,
    pub(crate) cpu_percent: f64,
    pub(crate) rss_kib: u64,
    pub(crate) seconds: u64,
}

impl Idle {
    /// "first frame 212 ms · 41 MB · idle 0.9 %"
    pub(crate) fn cells(self) -> String {
        format!(
            "first frame {:.0} ms · {:.0} MB · idle {:.2} %",
            self.first_frame_ms,
            self.rss_kib as f64 / 1024.0,
            self.cpu_percent
        )
    }
}

/// The real dashboard on `pools` pools: time to the first drawn frame, then its CPU use and
/// resident memory while idle for `seconds`.
pub(crate) async fn idle(seconds: u64, pools: usize) {
    if let Some(f) = idle_of(env!("CARGO_BIN_EXE_repool"), seconds, pools).await {
        println!(
            "tui pools={pools} start-up to first frame={:.0}ms idle_cpu={:.2}% over {}s rss={}KiB",
            f.first_frame_ms, f.cpu_percent, f.seconds, f.rss_kib
        );
    }
}

/// As `idle`, with the dashboard binary `binary` (the simulator is always this build's).
pub(crate) async fn idle_of(binary: &str, seconds: u64, pools: usize) -> Option<Idle> {
    let dir = tempfile::tempdir().ok()?;
    let mut sim = tokio::process::Command::new(env!("CARGO_BIN_EXE_repool"))
        .args(["sim", "--seed", "demo", "--pools", &pools.to_string()])
        .env("REPOOL_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut first = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let stdout = sim.stdout.take().expect("piped");
        let _ = tokio::io::BufReader::new(stdout).read_line(&mut first).await;
    }
    let parts: Vec<&str> = first.split_whitespace().collect();
    let (url, key) = (parts.get(2)?, parts.get(4).and_then(|k| k.strip_prefix("key="))?);
    let args = ["--account-url", url, "--account-name", "simaccount", "--auth", "shared-key"];
    let started = Instant::now();
    let tui = Terminal::binary_sized(binary, dir.path(), &args, &[("AZURE_BATCH_ACCESS_KEY", key)], (45, 160));
    tui.wait_for("gen-0001");
    let first_frame = started.elapsed();
    let pid = tui.pid();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_before, at) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let used = cpu_ticks(pid).saturating_sub(cpu_before) as f64 / USER_HZ;
    let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let mut tui = tui;
    tui.kill9();
    let _ = sim.kill().await;
    Some(Idle {
        first_frame_ms: first_frame.as_secs_f64() * 1000.0,
        cpu_percent: used * 100.0 / at.elapsed().as_secs_f64(),
        rss_kib,
        seconds,
    })
}

/// `repool demo` from start to its first frame.
pub(crate) async fn demo_start_up() {
    let Ok(dir) = tempfile::tempdir() else { return };
    let (mut demo, took) = first_frame(dir.path(), &["demo"], &[], "p-render");
    println!("tui demo start-up to first frame={:.0}ms", took.as_secs_f64() * 1000.0);
    demo.kill9();
}

/// `repool ARGS` in a 45x160 pseudo-terminal until it shows `needle`: the terminal and how long
/// the first frame took.
fn first_frame(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], needle: &str) -> (Terminal, Duration) {
    let started = Instant::now();
    let terminal = Terminal::repool_sized(dir, args, env, (45, 160));
    terminal.wait_for(needle);
    (terminal, started.elapsed())
}

/// User + system CPU ticks of process `pid` (Linux /proc).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}
