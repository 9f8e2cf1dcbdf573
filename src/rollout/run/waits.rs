//! What a run's drains will wait for, read once when it is proposed: the jobs bound to the pools
//! it drains and their running tasks. Told in the confirmation; a failed read says so and
//! blocks nothing (the drain waits for whatever runs then).

use crate::batch::BatchClient;

/// The jobs on the drained pools and their running tasks, or why they are unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrainWaits {
    /// No pool of the run is drained.
    NoDrain,
    Known {
        jobs: usize,
        running_tasks: u64,
    },
    Unknown(String),
}

impl DrainWaits {
    /// One listing of the jobs bound to `pools` (the ones the run drains), then each job's counts.
    pub async fn read(client: &BatchClient, pools: &[String]) -> DrainWaits {
        if pools.is_empty() {
            return DrainWaits::NoDrain;
        }
        let jobs = match client.jobs_with_counts(pools).await {
            Ok(jobs) => jobs,
            Err(e) => return DrainWaits::Unknown(e.to_string()),
        };
        let Some(running_tasks) = jobs.iter().map(|j| j.counts.map(|c| c.running)).sum::<Option<u64>>() else {
            return DrainWaits::Unknown("a job's task counts did not come".into());
        };
        DrainWaits::Known { jobs: jobs.len(), running_tasks }
    }

    /// "draining waits for 3 running task(s) of 2 job(s)", for a confirmation; None without a drain.
    pub fn describe(&self) -> Option<String> {
        match self {
            DrainWaits::NoDrain => None,
            DrainWaits::Known { jobs: 0, .. } => Some("draining waits for no job: none runs on these pools".into()),
            DrainWaits::Known { jobs, running_tasks } => {
                Some(format!("draining waits for {running_tasks} running task(s) of {jobs} job(s)"))
            }
            DrainWaits::Unknown(e) => {
                Some(format!("draining waits for the running tasks of unknown jobs (cannot list jobs: {e})"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DrainWaits;

    #[test]
    fn the_confirmation_says_what_draining_waits_for_or_that_it_is_unknown() {
        assert_eq!(DrainWaits::NoDrain.describe(), None);
        let known = DrainWaits::Known { jobs: 2, running_tasks: 3 };
        assert_eq!(known.describe().unwrap(), "draining waits for 3 running task(s) of 2 job(s)");
        assert!(DrainWaits::Unknown("503".into()).describe().unwrap().contains("unknown jobs (cannot list jobs: 503)"));
    }
}
