//! `repool export`: live pools → a definition on which `plan` reports no changes. Through the
//! binary for the demo account (secrets as env() placeholders, refusals), and as a property over
//! generated pools: whatever the account holds, the export plans as unchanged.

use crate::common;

use common::{output, repool_command};
use proptest::prelude::*;
use repool::definition::Definition;
use repool::definition::plan::{Action, Plan};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_account_exports_to_a_definition_that_plans_unchanged() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let file = dir.path().join("exported.json");
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["export", "--output", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2, "secret placeholders need a .j2 name: {err}");
    assert!(err.contains("*.j2") && !file.exists(), "{err}");
    let (code, _, err) =
        output(repool_command(dir.path()).args(["export", "--pool", "p-ingset"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("--pool p-ingset: the account has no such pool (did you mean 'p-ingest'?)"), "{err}");
    // A bare file name lands in the current directory, as an operator types it.
    let template = dir.path().join("exported.json.j2");
    let (code, _, err) = output(
        repool_command(dir.path())
            .current_dir(dir.path())
            .args(["export", "--all", "-o", "exported.json.j2"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("P_RENDER_CONTAINERREGISTRIES_0_PASSWORD"), "the secrets to set are listed: {err}");
    assert!(err.contains("pool 'reporting': its identity (a managed identity)"), "the identity is named: {err}");
    let text = std::fs::read_to_string(&template).unwrap();
    // Factored as a person would: what every pool has, Linux and Windows alike, is said once.
    let written: Value = serde_json::from_str(&text.replace("{{ env(\"", "").replace("\") }}", "")).unwrap();
    let common = written["common-config"].as_object().unwrap();
    assert!(common.contains_key("vmSize") && common.contains_key("virtualMachineConfiguration"), "{text}");
    assert!(
        written["win-test"]["virtualMachineConfiguration"]["imageReference"]["publisher"] == "microsoftwindowsserver"
    );
    assert!(!text.contains("\"url\"") && !text.contains("eTag") && !text.contains("creationTime"), "{text}");
    let mut plan = repool_command(dir.path());
    plan.args(["plan", "--definition", template.to_str().unwrap()]).env("AZURE_BATCH_ACCESS_KEY", &key);
    for variable in ["CI_RUNNERS", "GPU_TRAIN", "P_RENDER"] {
        plan.env(format!("{variable}_CONTAINERREGISTRIES_0_PASSWORD"), "pw");
    }
    let (code, out, err) = output(&mut plan);
    assert_eq!(code, 0, "no changes pending:\n{out}{err}");
    assert_eq!(out.lines().filter(|l| l.ends_with(": unchanged")).count(), 12, "{out}");
    // From the export straight to a first recreation, no JSON edited by hand; p-ingest pulls from
    // no registry, so the other pools' passwords are not asked for.
    let before = common::pool_identity(&sim, "p-ingest").unwrap();
    let mut recreate = repool_command(dir.path());
    recreate
        .args(["recreate", "--pool", "p-ingest", "--yes", "--definition", template.to_str().unwrap()])
        .env("AZURE_BATCH_ACCESS_KEY", &key);
    let (code, _, err) = output(&mut recreate);
    assert_eq!(code, 0, "{err}");
    assert_ne!(common::pool_identity(&sim, "p-ingest").unwrap().0, before.0, "p-ingest was recreated");
}

fn pool(
    id: String,
    size: &str,
    slots: u32,
    fill: &str,
    targets: (u32, u32),
    team: Option<&str>,
    image: usize,
) -> Value {
    let images = [
        ("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04"),
        ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04"),
        ("microsoftwindowsserver", "windowsserver", "2022-datacenter-smalldisk", "batch.node.windows amd64"),
    ];
    let (publisher, offer, sku, agent) = images[image];
    let mut body = json!({
        "id": id, "vmSize": size, "taskSlotsPerNode": slots,
        "taskSchedulingPolicy": {"nodeFillType": fill},
        "targetDedicatedNodes": targets.0, "targetLowPriorityNodes": targets.1,
        "virtualMachineConfiguration": {"imageReference": {"publisher": publisher, "offer": offer, "sku": sku},
            "nodeAgentSKUId": agent},
    });
    if let Some(team) = team {
        body["metadata"] = json!([{"name": "team", "value": team}]);
        body["startTask"] = json!({"commandLine": format!("echo {team}"), "waitForSuccess": team == "render"});
    }
    if image == 2 {
        body["virtualMachineConfiguration"]["windowsConfiguration"] = json!({"enableAutomaticUpdates": false});
    }
    body
}

fn pools() -> impl Strategy<Value = Vec<Value>> {
    let one = (
        prop::sample::select(vec!["Standard_D2s_v3", "Standard_D4s_v3", "STANDARD_E8S_V5"]),
        1u32..4,
        prop::sample::select(vec!["spread", "pack"]),
        (0u32..3, 0u32..3),
        prop::option::of(prop::sample::select(vec!["render", "ingest"])),
        0usize..3,
    );
    prop::collection::vec(one, 1..6).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (size, slots, fill, targets, team, image))| {
                pool(format!("gen-{i}"), size, slots, fill, targets, team, image)
            })
            .collect()
    })
}

/// Every key all `values` have is in `shared` (but the id the key names), down through objects.
fn holds_what_all_have(values: &[&Value], shared: &Value, key: &str) -> bool {
    if key == "imageReference" || !values.iter().all(|v| v.is_object()) {
        return true;
    }
    values[0].as_object().unwrap().keys().filter(|k| *k != "id").all(|child| {
        let children: Option<Vec<&Value>> = values.iter().map(|v| v.get(child)).collect();
        children.is_none_or(|c| shared.get(child).is_some_and(|s| holds_what_all_have(&c, s, child)))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_set_of_pools_exports_to_a_definition_that_plans_unchanged(bodies in pools()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (text, live) = runtime.block_on(async {
            let sim = common::frozen_sim(None).await;
            let client = common::client_for(&sim);
            for body in &bodies {
                client.add_pool(body).await.unwrap();
            }
            let live = client.list_pools(None, None, None).await.unwrap();
            let chosen: Vec<_> = live.iter().collect();
            let exported = repool::definition::export::export(&chosen, repool::batch::ApiVersion::V2025_06_01).unwrap();
            (exported.text, live)
        });
        let definition = Definition::from_text("exported.json", &text, false, &BTreeMap::new()).unwrap();
        definition.validate(repool::batch::ApiVersion::V2025_06_01).unwrap();
        let plan = Plan::new(&definition, &live, &[], repool::batch::ApiVersion::V2025_06_01);
        prop_assert_eq!(plan.pools.len(), bodies.len());
        prop_assert!(plan.pools.iter().all(|p| p.action == Action::Unchanged), "{}\n{}", plan, text);
        // common-config holds every property all pools have (nested objects too, images whole).
        let written: Value = serde_json::from_str(&text).unwrap();
        let merged: Vec<&Value> = definition.pools.iter().map(|p| &p.body).collect();
        if merged.len() > 1 {
            prop_assert!(holds_what_all_have(&merged, &written["common-config"], ""), "{}", text);
        }
    }
}
