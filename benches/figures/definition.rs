//! The definition's speed: load and merge, validate, plan for 1,000 pools.

use crate::{busy_pools, client, simulator};
use repool::batch::ApiVersion;
use repool::definition::Definition;
use repool::definition::plan::Plan;
use std::time::Instant;

pub(crate) async fn definition(count: usize) -> color_eyre::Result<()> {
    let sim = simulator(0.0).await?;
    let seeded = busy_pools(&sim, count);
    let text =
        serde_json::Value::Object(seeded.pools.iter().map(|p| (p.id.clone(), p.body.clone())).collect()).to_string();
    let live = client(&sim).list_pools(None, None, None).await?;
    let started = Instant::now();
    let definition = Definition::from_text("bench.json", &text, false, &Default::default())
        .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let build = started.elapsed();
    let started = Instant::now();
    definition.validate(ApiVersion::V2024_07_01).map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let validate = started.elapsed();
    let started = Instant::now();
    let plan = Plan::new(&definition, &live, &[], ApiVersion::V2024_07_01);
    let planned = started.elapsed();
    println!(
        "definition pools={count} load+merge={:.1}ms validate={:.1}ms plan={:.1}ms unchanged={}",
        build.as_secs_f64() * 1000.0,
        validate.as_secs_f64() * 1000.0,
        planned.as_secs_f64() * 1000.0,
        plan.pools.iter().filter(|p| p.action == repool::definition::plan::Action::Unchanged).count()
    );
    Ok(())
}
