//! Refresh's surge: the pool's target raised by `--surge` nodes before any node is replaced, so
//! replacing never takes it below its target; the scale after the roll gives the surge back. When
//! the account cannot give the nodes (quota, allocation), the run says so and goes on without.

use super::*;

impl Engine {
    pub(super) async fn surge(&self, id: &str, run: &mut PoolRun, journal: &Journal) -> StepResult {
        let n = self.config.policy.surge;
        if n == 0 {
            return Ok(Outcome::Skipped("no surge".into()));
        }
        let pool = match self.the_original(id, self.live(id).await?, run)? {
            Ok(pool) => pool,
            Err(elsewhere) => return Ok(elsewhere),
        };
        let now = (pool.target_dedicated_nodes.unwrap_or(0), pool.target_low_priority_nodes.unwrap_or(0));
        // From the targets before the run, so a resumed surge is not added twice.
        let base = self.before(id).and_then(|b| b.targets).unwrap_or(now);
        // Onto the kind the pool runs on (dedicated unless it has only low-priority nodes).
        let wanted = if base.0 > 0 || base.1 == 0 { (base.0 + n, base.1) } else { (base.0, base.1 + n) };
        if now.0 >= wanted.0 && now.1 >= wanted.1 {
            return Ok(Outcome::Skipped(format!("already surged: target {}", now.0 + now.1)));
        }
        if run.nodes.found.is_none() {
            // The nodes to replace are those before the surge: its own are new already.
            let nodes = self.client.list_nodes(id, Some("id")).await.map_err(|e| e.to_string())?;
            let found: Vec<String> = nodes.iter().filter_map(|n| n.id.clone()).collect();
            let record = Record::NodesFound { pool: id.to_string(), nodes: found.clone(), targets: None };
            journal.append(record).await.map_err(|e| format!("cannot write the journal: {e}"))?;
            run.nodes.found = Some(found);
        }
        self.resize_to(id, &pool, wanted).await?;
        let steady = |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady());
        let pool = self.wait(id, Step::Surge, self.config.policy.wait_timeout, steady).await?;
        let pool = pool.ok_or("the pool disappeared while its target was raised")?;
        let got = pool.current_dedicated_nodes.unwrap_or(0) + pool.current_low_priority_nodes.unwrap_or(0);
        if got < wanted.0 + wanted.1 {
            let errors = resize_error_codes(&pool);
            self.resize_to(id, &pool, base).await?;
            self.wait(id, Step::Surge, self.config.policy.wait_timeout, steady).await?;
            let why = format!("the account did not give {n} more node(s){errors}: refreshing without surge");
            run.warnings.push(format!("surge: {why}"));
            return Ok(Outcome::Done(format!("no surge ({why})")));
        }
        Ok(Outcome::Done(format!("target raised by {n} to {} until the nodes are replaced", wanted.0 + wanted.1)))
    }

    /// Sets the pool's fixed targets (taskcompletion if it shrinks), waiting out a resize in flight.
    async fn resize_to(&self, id: &str, pool: &Pool, (dedicated, low_priority): (u32, u32)) -> Result<(), String> {
        let resize = ResizeRequest {
            target_dedicated_nodes: Some(dedicated),
            target_low_priority_nodes: Some(low_priority),
            resize_timeout: Some(pool.resize_timeout.unwrap_or(self.config.policy.resize_timeout)),
            node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
        };
        for _ in 0..5 {
            match self.client.resize_pool(id, &resize).await {
                Ok(()) => {
                    self.snapshots.request_fast();
                    return Ok(());
                }
                Err(e) if e.status() == Some(409) => {
                    let steady = |p: Option<&PoolSummary>| p.is_none_or(|p| p.is_steady());
                    self.wait(id, Step::Surge, self.config.policy.wait_timeout, steady).await?;
                }
                Err(e) => return Err(format!("resize to {}: {e}", dedicated + low_priority)),
            }
        }
        Err("the pool kept refusing the resize (409)".into())
    }
}
