//! What a change costs in capacity, sampled on the simulator's clock while it runs: per pool the
//! lowest count of nodes able to take tasks and the node-seconds spent below the pool's target as
//! it was when sampling began. Shared by the tests (a floor never crossed) and `cargo bench -- capacity`.

use repool::sim::{RunningSim, SimState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PoolCapacity {
    /// Dedicated + low-priority target when sampling began.
    pub target: u32,
    pub lowest: u32,
    /// Simulated node-seconds below `target`.
    pub below_target: f64,
    pub samples: u64,
    /// The most pools sampled below their target at one instant (the same in every entry).
    pub pools_below_at_once: usize,
    /// Every node id sampled in the pool: how many nodes the change had the service allocate.
    pub nodes_seen: std::collections::BTreeSet<String>,
}

pub(crate) struct CapacitySampler {
    stop: tokio::sync::oneshot::Sender<()>,
    sampling: tokio::task::JoinHandle<BTreeMap<String, PoolCapacity>>,
}

impl CapacitySampler {
    /// Samples `ids` every `every` (real time) until `finish`.
    pub(crate) fn start(sim: &RunningSim, ids: &[String], every: Duration) -> Self {
        let state = sim.state.clone();
        let mut figures: BTreeMap<String, PoolCapacity> = ids
            .iter()
            .map(|id| {
                let target = targets(&state, id);
                (id.clone(), PoolCapacity { target, lowest: u32::MAX, ..Default::default() })
            })
            .collect();
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let sampling = tokio::spawn(async move {
            let mut last: Option<f64> = None;
            loop {
                let now = sample(&state, &mut figures, last);
                last = Some(now);
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(every) => {}
                }
            }
            sample(&state, &mut figures, last);
            figures
        });
        CapacitySampler { stop, sampling }
    }

    pub(crate) async fn finish(self) -> BTreeMap<String, PoolCapacity> {
        let _ = self.stop.send(());
        self.sampling.await.expect("the sampler never panics")
    }
}

fn targets(state: &Arc<SimState>, id: &str) -> u32 {
    state.with_world(|world, _| {
        world
            .find(id)
            .map_or(0, |p| p.wire.target_dedicated_nodes.unwrap_or(0) + p.wire.target_low_priority_nodes.unwrap_or(0))
    })
}

/// One sample of every pool; returns the simulated time it was taken at.
fn sample(state: &Arc<SimState>, figures: &mut BTreeMap<String, PoolCapacity>, last: Option<f64>) -> f64 {
    state.with_world(|world, now| {
        let elapsed = last.map_or(0.0, |at| (now - at).max(0.0));
        let mut below = 0;
        for (id, figure) in figures.iter_mut() {
            let pool = world.find(id).filter(|p| !p.is_deleting());
            let usable = pool.map_or(0, |p| p.usable_nodes(now));
            figure.nodes_seen.extend(pool.into_iter().flat_map(|p| p.visible_nodes(now)).map(|n| n.id.clone()));
            figure.lowest = figure.lowest.min(usable);
            figure.below_target += f64::from(figure.target.saturating_sub(usable)) * elapsed;
            figure.samples += 1;
            below += usize::from(usable < figure.target);
        }
        for figure in figures.values_mut() {
            figure.pools_below_at_once = figure.pools_below_at_once.max(below);
        }
        now
    })
}
