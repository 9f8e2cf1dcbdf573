//! Capacity as a figure: the sampler the roll's floor and `cargo bench -- capacity` rely on sees a
//! pool at rest at its target, and sees what a recreation costs (the whole pool until the new one
//! is healthy, then all of it back).

use crate::common;
use crate::common::capacity::CapacitySampler;
use crate::recreate::{Harness, policy};

use repool::rollout::policy::DrainTimeoutPolicy;
use repool::rollout::report::RunStatus;
use std::time::Duration;

fn usable(h: &Harness, id: &str) -> u32 {
    h.sim.with_world(|world, now| world.find(id).map_or(0, |p| p.usable_nodes(now)))
}

#[tokio::test]
async fn a_recreation_costs_the_whole_pool_and_gives_it_all_back() {
    let h = Harness::new().await;
    let ids = vec!["p-render".to_string()];
    common::wait_until("p-render's nodes all take tasks", || usable(&h, "p-render") == 3);

    let at_rest = CapacitySampler::start(&h.sim, &ids, Duration::from_millis(1));
    let rest = &at_rest.finish().await["p-render"];
    assert_eq!((rest.target, rest.lowest, rest.below_target), (3, 3, 0.0), "{rest:?}");

    let sampler = CapacitySampler::start(&h.sim, &ids, Duration::from_millis(1));
    let report = h.run(&["p-render"], None, policy(DrainTimeoutPolicy::Fail, 60)).await;
    let figures = sampler.finish().await;
    assert_eq!(report.status, RunStatus::Done, "{report:#?}");
    let render = &figures["p-render"];
    assert_eq!(render.lowest, 0, "recreate drains the pool to zero: {render:?}");
    assert!(render.below_target > 0.0, "{render:?}");
    assert_eq!(usable(&h, "p-render"), 3, "done means every node of the target takes tasks again");
}
