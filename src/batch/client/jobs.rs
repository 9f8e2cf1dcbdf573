//! Jobs and tasks, read-only: the jobs bound to a pool (one filtered listing), a job's task
//! counts, a job's tasks.

use super::{BatchClient, CALLS_AT_ONCE, Replay};
use crate::batch::error::BatchError;
use crate::batch::models::{Job, JobCounts, Task, TaskCountsResult};
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;

/// What a task listing asks for: what repool shows, not command lines or environments.
const TASK_FIELDS: &str = "id,state,stateTransitionTime,executionInfo,nodeInfo";

impl BatchClient {
    /// The jobs that run on pool `pool_id`, in one listing filtered on `executionInfo/poolId`.
    pub async fn list_jobs_on_pool(&self, pool_id: &str) -> Result<Vec<Job>, BatchError> {
        self.list_jobs_on_pools(&[pool_id.to_string()]).await
    }

    /// The jobs that run on any of `pool_ids`: one filtered listing per twenty pools.
    pub async fn list_jobs_on_pools(&self, pool_ids: &[String]) -> Result<Vec<Job>, BatchError> {
        let calls: Vec<_> = pool_ids
            .chunks(20)
            .map(|chunk| {
                let filter: Vec<String> =
                    chunk.iter().map(|id| format!("executionInfo/poolId eq '{}'", id.replace('\'', "''"))).collect();
                self.list_all::<Job>("list jobs", self.url("/jobs", &[("$filter", filter.join(" or "))]))
            })
            .collect();
        let pages: Vec<Vec<Job>> = futures::stream::iter(calls).buffered(CALLS_AT_ONCE).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// The jobs bound to `pools` (filtered listings, twenty pools a call) with each one's task
    /// counts, a few calls at once; a job whose counts cannot be read comes without them.
    pub async fn jobs_with_counts(&self, pools: &[String]) -> Result<Vec<JobCounts>, BatchError> {
        let jobs = self.list_jobs_on_pools(pools).await?;
        let counted = jobs.into_iter().map(|job| async move {
            let counts = self.task_counts(&job.id).await.ok().map(|c| c.task_counts);
            JobCounts { job, counts }
        });
        Ok(futures::stream::iter(counted).buffered(CALLS_AT_ONCE).collect().await)
    }

    pub async fn task_counts(&self, job_id: &str) -> Result<TaskCountsResult, BatchError> {
        let url = self.url(&job_path(job_id, "/taskcounts"), &[]);
        self.call_json("get task counts", Method::GET, url, None, Replay::Safe).await
    }

    pub async fn list_tasks(&self, job_id: &str) -> Result<Vec<Task>, BatchError> {
        let url = self.url(&job_path(job_id, "/tasks"), &[("$select", TASK_FIELDS.to_string())]);
        self.list_all("list tasks", url).await
    }
}

fn job_path(id: &str, suffix: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/jobs/{}{suffix}", encoded.replace('+', "%20"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn job_ids_are_escaped_in_paths() {
        assert_eq!(super::job_path("j 1/x", "/tasks"), "/jobs/j%201%2Fx/tasks");
    }
}
