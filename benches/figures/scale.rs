//! `cargo bench -- scale`: issue 27's figures as one table. The dashboard on 10,000 and 1,000
//! pools (first frame, memory, idle CPU) for this build and, when `REPOOL_BENCH_BASELINE` names
//! another `repool` binary (e.g. main's), for that one too, in the same run; recreations of 200
//! and 1,000 pools (wall time against the critical path) for this build.

use crate::dashboard::{Idle, idle_of};
use crate::runs::recreate_once;

pub(crate) async fn scale(idle_seconds: u64) -> color_eyre::Result<()> {
    let current = env!("CARGO_BIN_EXE_repool").to_string();
    let baseline = std::env::var("REPOOL_BENCH_BASELINE").ok().filter(|b| !b.is_empty());
    let mut lines = Vec::new();
    for pools in [10_000, 1_000] {
        let mut line = format!("| dashboard, {pools:>6} pools |");
        for binary in baseline.iter().chain(std::iter::once(&current)) {
            let figures = idle_of(binary, idle_seconds, pools).await;
            line.push_str(&format!(" {} |", figures.map(Idle::cells).unwrap_or_else(|| "failed".into())));
        }
        lines.push(line);
    }
    for pools in [200, 1_000] {
        let run = recreate_once(pools, 0).await?;
        let cell = format!(
            "wall {:.2}s / critical {:.2}s = {:.3} (critical from the engine's start: {:.3})",
            run.wall,
            run.critical,
            run.wall / run.critical,
            run.wall / run.critical_from_engine
        );
        let before = if baseline.is_some() { "(run main's `cargo bench -- recreate`) | " } else { "" };
        lines.push(format!("| recreate, {pools:>5} pools | {before}{cell} |"));
    }
    let head = if baseline.is_some() { "| case | baseline | this build |" } else { "| case | this build |" };
    println!("{head}");
    println!("{}", if baseline.is_some() { "|---|---|---|" } else { "|---|---|" });
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
