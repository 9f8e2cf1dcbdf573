//! What a run's drains will wait for, read once when it is proposed: the jobs bound to the pools
//! it drains and the nodes running their tasks. Told in the confirmation; a failed read says so
//! and blocks nothing (the drain waits for whatever runs then).

use crate::batch::BatchClient;

/// The jobs on the drained pools and their busy nodes, or why they are unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrainWaits {
    /// No pool of the run is drained.
    NoDrain,
    Known {
        jobs: usize,
        /// Nodes running a task (node counts' `running`, dedicated and Spot).
        busy_nodes: u64,
    },
    Unknown(String),
}

impl DrainWaits {
    /// One listing of the jobs bound to `pools` (the ones the run drains) and, at the same time,
    /// their node counts. Node counts (ten pools a call) rather than each job's task counts: the
    /// cost grows with the pools, not with their jobs (a thousand pools: a hundred calls).
    pub async fn read(client: &BatchClient, pools: &[String]) -> DrainWaits {
        if pools.is_empty() {
            return DrainWaits::NoDrain;
        }
        let (jobs, counts) = tokio::join!(client.list_jobs_on_pools(pools), client.list_node_counts_for(pools));
        let jobs = match jobs {
            Ok(jobs) => jobs.len(),
            Err(e) => return DrainWaits::Unknown(format!("cannot list jobs: {e}")),
        };
        let busy_nodes = match counts {
            Ok(counts) => {
                counts.iter().map(|c| u64::from(c.dedicated.running) + u64::from(c.low_priority.running)).sum()
            }
            Err(e) => return DrainWaits::Unknown(format!("cannot count nodes: {e}")),
        };
        DrainWaits::Known { jobs, busy_nodes }
    }

    /// "draining waits for the tasks of 2 job(s) running on 3 node(s)", for a confirmation;
    /// None without a drain.
    pub fn describe(&self) -> Option<String> {
        match self {
            DrainWaits::NoDrain => None,
            DrainWaits::Known { jobs: 0, .. } => Some("draining waits for no job: none runs on these pools".into()),
            DrainWaits::Known { jobs, busy_nodes: 0 } => {
                Some(format!("draining waits for no task: {jobs} job(s) on these pools, no node busy"))
            }
            DrainWaits::Known { jobs, busy_nodes } => {
                Some(format!("draining waits for the tasks of {jobs} job(s) running on {busy_nodes} node(s)"))
            }
            DrainWaits::Unknown(why) => Some(format!("draining waits for the running tasks of unknown jobs ({why})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DrainWaits;

    #[test]
    fn the_confirmation_says_what_draining_waits_for_or_that_it_is_unknown() {
        assert_eq!(DrainWaits::NoDrain.describe(), None);
        let known = DrainWaits::Known { jobs: 2, busy_nodes: 3 };
        assert_eq!(known.describe().unwrap(), "draining waits for the tasks of 2 job(s) running on 3 node(s)");
        let idle = DrainWaits::Known { jobs: 2, busy_nodes: 0 };
        assert_eq!(idle.describe().unwrap(), "draining waits for no task: 2 job(s) on these pools, no node busy");
        let unknown = DrainWaits::Unknown("cannot list jobs: 503".into());
        assert!(unknown.describe().unwrap().contains("unknown jobs (cannot list jobs: 503)"));
    }
}
