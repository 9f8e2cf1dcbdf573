//! `repool jobs --pool ID [--json]`: what runs on one pool, changing nothing: the jobs bound to
//! it with their task counts (active, running, completed, succeeded, failed).

use crate::batch::JobCounts;
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::setup::connect;
use serde_json::json;

pub async fn jobs(settings: &Settings, pool: &str, json: bool) -> color_eyre::Result<Exit> {
    let client = connect(settings)?;
    // A filter on a pool the account lacks is merely empty: say which mistake it is.
    if !client.pool_exists(pool).await? {
        let shown = crate::output::escape(pool);
        return Err(
            BadInput::new(format!("--pool {shown}: the account has no such pool (`repool pools` lists them)")).into()
        );
    }
    let jobs = client.jobs_with_counts(&[pool.to_string()]).await?;
    if json {
        for row in &jobs {
            crate::outln!("{}", summary(row));
        }
    } else {
        crate::out!("{}", job_table(&jobs));
    }
    Ok(Exit::Done)
}

fn summary(row: &JobCounts) -> serde_json::Value {
    json!({
        "id": row.job.id,
        "state": row.job.state.as_ref().map(|s| s.to_string()),
        "pool": row.job.pool_id(),
        "taskCounts": row.counts,
    })
}

fn job_table(jobs: &[JobCounts]) -> String {
    let header = ["JOB", "STATE", "ACTIVE", "RUNNING", "COMPLETED", "SUCCEEDED", "FAILED"];
    let rows = jobs
        .iter()
        .map(|row| {
            let count =
                |n: fn(&crate::batch::TaskCounts) -> u64| row.counts.as_ref().map_or("?".into(), |c| n(c).to_string());
            [
                row.job.id.clone(),
                row.job.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                count(|c| c.active),
                count(|c| c.running),
                count(|c| c.completed),
                count(|c| c.succeeded),
                count(|c| c.failed),
            ]
        })
        .collect();
    let mut out = super::inspect::table(header, rows);
    if jobs.is_empty() {
        out.push_str("(no job runs on this pool)\n");
    }
    out
}
