//! What a run from the command line says while it goes (stderr) and when it ends (the report).

use crate::rollout::engine::Progress;
use crate::rollout::report::RunReport;
use crate::rollout::snapshots::Snapshot;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Where one pool is, for the summary line.
struct Current {
    step: String,
    since: Instant,
    waiting: bool,
}

/// One line per step transition; every 30 s a summary that says, for each pool in a wait, what it
/// waits for, for how long and how many nodes are left (from the waits' shared snapshot).
pub(super) async fn print_progress(
    mut rx: mpsc::UnboundedReceiver<Progress>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
) {
    let mut summary = tokio::time::interval(Duration::from_secs(30));
    summary.tick().await;
    let mut current: BTreeMap<String, Current> = BTreeMap::new();
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { return };
                let now = jiff::Zoned::now().strftime("%H:%M:%S");
                match event {
                    Progress::StepStarted { pool, step } => {
                        crate::noteln!("{now} {pool:<20} {step} …");
                        let waiting = step.is_wait();
                        current.insert(pool, Current { step: step.to_string(), since: Instant::now(), waiting });
                    }
                    Progress::StepFinished { pool, step, outcome, detail, elapsed } => {
                        crate::noteln!("{now} {pool:<20} {step} {} ({:.1}s){}", outcome.name(), elapsed.as_secs_f64(), detail.map(|d| format!(": {d}")).unwrap_or_default());
                    }
                    // What a wait is about, when it says more than "waiting" (the service's
                    // Retry-After, the health gate's count, a window that is full, a rollback).
                    Progress::Waiting { pool, step, detail } if detail != "waiting" => {
                        crate::noteln!("{now} {pool:<20} {step}: {}", crate::output::escape(&detail));
                    }
                    Progress::Waiting { .. } => {}
                    Progress::PoolFinished { pool, status, error } => {
                        crate::noteln!("{now} {pool:<20} {}{}", status.name().to_uppercase(), error.map(|e| format!(": {e}")).unwrap_or_default());
                        current.insert(pool, Current { step: status.name().to_string(), since: Instant::now(), waiting: false });
                    }
                    Progress::RunFinished { run, status } => crate::noteln!("{now} run {run} {}", status.name()),
                }
            }
            _ = summary.tick() => {
                let snapshot = snapshots.borrow().clone();
                let states: Vec<String> = current
                    .iter()
                    .map(|(id, c)| {
                        if !c.waiting {
                            return format!("{id}: {}", c.step);
                        }
                        let nodes = snapshot
                            .get(id)
                            .map(|p| format!(", {} node(s) left, {}", p.current_nodes(), p.allocation_state.as_ref().map(|s| s.as_str()).unwrap_or("?")))
                            .unwrap_or_else(|| ", not in the last pool list".into());
                        format!("{id}: {} for {}s{nodes}", c.step, c.since.elapsed().as_secs())
                    })
                    .collect();
                crate::noteln!("still working: {}", states.join("; "));
            }
        }
    }
}

pub(super) fn print_report(report: &RunReport, json: bool) -> color_eyre::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    crate::noteln!("\nrun {} {} — journal {}", report.run_id, report.status.name(), report.journal);
    for pool in &report.pools {
        let took: f64 = pool.steps.iter().map(|s| s.duration_seconds).sum();
        crate::noteln!(
            "  {:<20} {:<11} {:>7.0}s{}{}",
            pool.id,
            pool.status.name(),
            took,
            pool.backup.as_ref().map(|b| format!("  pre-run backup {b}")).unwrap_or_default(),
            pool.error.as_ref().map(|e| format!("\n      {e}")).unwrap_or_default()
        );
        for node in &pool.nodes {
            crate::noteln!("      node {}: {} → {}", node.node, node.actions.join(", then "), node.outcome);
        }
        for warning in &pool.warnings {
            crate::noteln!("      warning: {warning}");
        }
    }
    Ok(())
}
