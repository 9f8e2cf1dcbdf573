//! Seed pools: a pool-add body per pool plus simulator settings under `_sim`:
//! `{"taskMinutes": 40}` makes its nodes run tasks of that length back to back,
//! `{"resizing": true}` starts it mid-allocation, `{"resizeErrors": [...]}` leaves errors on it,
//! `{"ageHours": 30}` sets when it was created.

use super::clock::SimClock;
use super::validate::validate_new_pool;
use super::world::{Workload, World};
use crate::batch::models::ResizeError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// The demo account of `repool demo` and `repool sim --seed demo`.
pub const DEMO_ACCOUNT: &str = include_str!("../../assets/demo/account.json");

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SimExtras {
    task_minutes: Option<f64>,
    #[serde(default)]
    resizing: bool,
    resize_errors: Option<Vec<ResizeError>>,
    age_hours: Option<f64>,
}

/// Loads `source`: `demo`, a JSON file (an array of pools), or a directory of `*.json` pools.
pub fn load(world: &mut World, clock: &SimClock, source: &str) -> Result<(), String> {
    let entries: Vec<(String, Value)> = if source == "demo" {
        vec![("built-in demo account".into(), parse("demo", DEMO_ACCOUNT)?)]
    } else if Path::new(source).is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(source)
            .map_err(|e| format!("cannot read seed directory {source}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.into_iter().map(|p| read(&p).map(|v| (p.display().to_string(), v))).collect::<Result<_, _>>()?
    } else {
        vec![(source.to_string(), read(Path::new(source))?)]
    };
    let now = clock.now();
    for (origin, value) in entries {
        let pools = match value {
            Value::Array(items) => items,
            object @ Value::Object(_) => vec![object],
            _ => return Err(format!("seed {origin}: expected a pool object or an array of them")),
        };
        for pool in pools {
            let Value::Object(body) = pool else { return Err(format!("seed {origin}: every entry must be an object")) };
            add(world, clock, now, body).map_err(|e| format!("seed {origin}: {e}"))?;
        }
    }
    world.advance(now, clock);
    Ok(())
}

fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read seed {}: {e}", path.display()))?;
    parse(&path.display().to_string(), &text)
}

fn parse(origin: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("seed {origin} is not JSON: {e}"))
}

/// Adds one seeded pool as of simulated time `now`: steady with its nodes allocated long ago
/// unless `_sim` says otherwise (it becomes so at the world's next advance).
pub fn add(world: &mut World, clock: &SimClock, now: f64, mut body: Map<String, Value>) -> Result<(), String> {
    let extras: SimExtras = match body.remove("_sim") {
        Some(v) => serde_json::from_value(v).map_err(|e| format!("_sim: {e}"))?,
        None => SimExtras::default(),
    };
    let id = body.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
    let pool = validate_new_pool(body, crate::batch::ApiVersion::V2024_07_01)
        .map_err(|r| format!("pool '{id}' is not a valid pool-add body: {}", r.describe()))?;
    let key = id.to_lowercase();
    if world.pools.contains_key(&key) {
        return Err(format!("pool '{id}' is seeded twice"));
    }
    let born = now - extras.age_hours.unwrap_or(24.0) * 3600.0;
    let workload = extras.task_minutes.map(|m| Workload { task_seconds: m * 60.0 });
    let resize_from = if extras.resizing { now } else { born };
    world.admit(pool, born, resize_from, workload, None, clock);
    if let Some(errors) = extras.resize_errors {
        world.pools.get_mut(&key).expect("just added").wire.resize_errors = Some(errors);
    }
    Ok(())
}

/// `count` extra generated pools (`gen-0001`…) for demos and benchmarks at scale.
pub fn generated(world: &mut World, clock: &SimClock, count: usize) -> Result<(), String> {
    let now = clock.now();
    for i in 1..=count {
        let dedicated = world.rng.u32(0..6);
        let body = serde_json::json!({
            "id": format!("gen-{i:04}"),
            "vmSize": "standard_d2s_v3",
            "targetDedicatedNodes": dedicated,
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSKUId": "batch.node.ubuntu 24.04"
            },
            "_sim": {"taskMinutes": 10 + world.rng.u32(0..50)}
        });
        let Value::Object(body) = body else { unreachable!("a literal object") };
        add(world, clock, now, body)?;
    }
    world.advance(now, clock);
    Ok(())
}
