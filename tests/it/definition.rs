//! Pool definitions: every validation class at once with locations, plan against live pools from
//! the simulator (server defaults are not changes), redaction, and no input makes loading panic.

use crate::common;

use repool::definition::plan::{Action, Apply, Plan};
use repool::definition::{Definition, EXAMPLE};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn definition(text: &str) -> Result<Definition, repool::definition::DefinitionError> {
    Definition::from_text("pools.json", text, false, &BTreeMap::new())
}

fn example() -> Definition {
    definition(EXAMPLE).unwrap()
}

#[test]
fn every_problem_is_reported_at_once_with_pool_and_path() {
    let text = json!({
        "common-config": {
            "vmSize": "standard_d2s_v3",
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSKUId": "batch.node.ubuntu 24.04"
            }
        },
        "p-typo": {"targetDedicatedNodes": 1, "networkConfiguration": {"subnetId": "/s", "dynamicVNetAsignmentScope": "job"}},
        "p-types": {"targetDedicatedNodes": "2", "taskSchedulingPolicy": {"nodeFillType": "spreed"}},
        "p-auto": {"enableAutoScale": true, "targetDedicatedNodes": 2},
        "p-timeouts": {"targetDedicatedNodes": 0, "resizeTimeout": "PT1M", "autoScaleEvaluationInterval": "P8D", "enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1;"},
        "p-slots": {"targetLowPriorityNodes": 1, "taskSlotsPerNode": 0},
        "p-noimage": {"targetDedicatedNodes": 1, "virtualMachineConfiguration": {"imageReference": null}},
        "bad id!": {"targetDedicatedNodes": 1},
        "P-SLOTS": {"targetDedicatedNodes": 1}
    })
    .to_string();
    let err = definition(&text).unwrap().validate(repool::batch::ApiVersion::V2024_07_01).unwrap_err();
    let shown = err.to_string();
    for expected in [
        "pool 'p-typo': p-typo.networkConfiguration.dynamicVNetAsignmentScope: unknown property 'dynamicVNetAsignmentScope' (did you mean 'dynamicVNetAssignmentScope'?)",
        "pool 'p-types': p-types.targetDedicatedNodes: must be a whole number, not a string",
        "p-types.taskSchedulingPolicy.nodeFillType: 'spreed' is not one of spread, pack (did you mean 'spread'?)",
        "p-auto.autoScaleFormula: is required when enableAutoScale is true",
        "p-auto.targetDedicatedNodes: must not be set with enableAutoScale",
        "p-timeouts.resizeTimeout: must be at least PT5M",
        "p-timeouts.autoScaleEvaluationInterval: must be at most P7D",
        "p-timeouts.targetDedicatedNodes: must not be set with enableAutoScale",
        "p-slots.taskSlotsPerNode: must be at least 1",
        "p-noimage.virtualMachineConfiguration.imageReference: is required",
        "pool 'bad id!': bad id!.id: a pool id has 1 to 64 letters",
        "pools 'p-slots' and 'P-SLOTS' are the same pool to Batch",
    ] {
        assert!(shown.contains(expected), "missing «{expected}» in:\n{shown}");
    }
    assert!(shown.starts_with("pools.json: 12 problems"), "{shown}");
}

#[test]
fn the_2025_schema_refuses_2024_only_properties() {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["p-ingest"]["targetNodeCommunicationMode"] = json!("simplified");
    let d = definition(&body.to_string()).unwrap();
    d.validate(repool::batch::ApiVersion::V2024_07_01).unwrap();
    let err = d.validate(repool::batch::ApiVersion::V2025_06_01).unwrap_err().to_string();
    assert!(
        err.contains("p-ingest.targetNodeCommunicationMode: 'targetNodeCommunicationMode' cannot be expressed in api-version 2025-06-01")
            && err.contains("--api-version 2024-07-01.20.0"),
        "{err}"
    );
}

#[tokio::test]
async fn a_pool_created_from_the_definition_plans_as_unchanged() {
    let sim = common::frozen_sim(None).await;
    let client = common::client_for(&sim);
    let d = example();
    for pool in &d.pools {
        client.add_pool(&pool.body).await.unwrap();
    }
    sim.advance(300.0);
    let live = client.list_pools(None, None, None).await.unwrap();
    let plan = Plan::new(&d, &live, &[], repool::batch::ApiVersion::V2024_07_01);
    assert!(!plan.has_changes(), "server defaults must not show as changes:\n{plan}");
    assert!(plan.pools.iter().all(|p| p.action == Action::Unchanged));
}

#[tokio::test]
async fn plan_against_the_demo_account() {
    let sim = common::frozen_sim(Some("demo")).await;
    let live = common::client_for(&sim).list_pools(None, None, None).await.unwrap();
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["p-new"] = json!({"targetDedicatedNodes": 1});
    let d = definition(&body.to_string()).unwrap();
    let plan = Plan::new(&d, &live, &[], repool::batch::ApiVersion::V2024_07_01);
    let action = |id: &str| plan.pools.iter().find(|p| p.id == id).unwrap().action;
    assert_eq!(
        (action("p-render"), action("p-ingest"), action("p-new")),
        (Action::Recreate, Action::Recreate, Action::Create)
    );
    let ingest = plan.pools.iter().find(|p| p.id == "p-ingest").unwrap();
    let image = ingest.changes.iter().find(|c| c.path == "virtualMachineConfiguration.imageReference.offer").unwrap();
    assert_eq!(image.apply, Apply::Recreate);
    assert_eq!(image.desired, Some(json!("ubuntu-24_04-lts")));
    assert!(ingest.changes.iter().any(|c| c.path == "metadata" && c.apply == Apply::InPlace));
    assert!(!ingest.changes.iter().any(|c| c.path.contains("vmSize") || c.path.contains("resizeTimeout")), "{plan}");
    assert!(plan.not_in_definition.contains(&"gpu-train".to_string()));
    insta::assert_snapshot!("plan_demo_vs_example", plan.to_string());

    let selected = Plan::new(&d, &live, &["P-INGEST".into()], repool::batch::ApiVersion::V2024_07_01);
    assert_eq!(selected.pools.len(), 1);
}

#[test]
fn secrets_never_show_in_plans_or_redacted_bodies() {
    // SAFETY: the name is unique to this test.
    unsafe { std::env::set_var("REPOOL_TEST_PLAN_SECRET", "hunter2\"x") };
    let source = r#"{"p": {"vmSize": "a", "targetDedicatedNodes": 1,
        "virtualMachineConfiguration": {"imageReference": {"publisher": "p", "offer": "o", "sku": "s"}, "nodeAgentSKUId": "n",
          "containerConfiguration": {"type": "dockerCompatible", "containerRegistries": [{"registryServer": "r", "username": "u", "password": "{{ env("REPOOL_TEST_PLAN_SECRET") }}"}]}},
        "startTask": {"commandLine": "login {{ env("REPOOL_TEST_PLAN_SECRET") }}"}}}"#;
    let d = Definition::from_text("p.json.j2", source, true, &BTreeMap::new()).unwrap();
    d.validate(repool::batch::ApiVersion::V2024_07_01).unwrap();
    let body = &d.pools[0].body;
    assert_eq!(
        body["virtualMachineConfiguration"]["containerConfiguration"]["containerRegistries"][0]["password"],
        "hunter2\"x"
    );
    let shown = d.redacted("p", body).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    let plan = Plan::new(&d, &[], &[], repool::batch::ApiVersion::V2024_07_01);
    assert!(!serde_json::to_string(&plan).unwrap().contains("hunter2"));
}

/// Random and mutated inputs: loading and validation return errors, never panic.
#[test]
fn no_input_makes_loading_or_validation_panic() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let base: Value = serde_json::from_str(EXAMPLE).unwrap();
    let atoms = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("PT1M"),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"a": 1}]),
        json!(u64::MAX),
    ];
    for _ in 0..2000 {
        let mut value = base.clone();
        for _ in 0..rng.usize(1..6) {
            mutate(&mut value, &mut rng, &atoms);
        }
        let text = value.to_string();
        if let Ok(d) = definition(&text) {
            let _ = d.validate(repool::batch::ApiVersion::V2024_07_01);
            let _ = d.validate(repool::batch::ApiVersion::V2025_06_01);
        }
        let cut = rng.usize(0..text.len());
        let _ = definition(&text[..text.floor_char_boundary(cut)]);
        let _ = Definition::from_text("t.j2", &text.replace('"', "{{"), true, &BTreeMap::new());
    }
}

fn mutate(value: &mut Value, rng: &mut fastrand::Rng, atoms: &[Value]) {
    match value {
        Value::Object(map) if !map.is_empty() && rng.bool() => {
            let key = map.keys().nth(rng.usize(..map.len())).cloned().unwrap();
            mutate(map.get_mut(&key).unwrap(), rng, atoms);
        }
        Value::Array(items) if !items.is_empty() && rng.bool() => {
            let i = rng.usize(..items.len());
            mutate(&mut items[i], rng, atoms);
        }
        Value::Object(map) => {
            map.insert(format!("k{}", rng.u8(..)), atoms[rng.usize(..atoms.len())].clone());
        }
        other => *other = atoms[rng.usize(..atoms.len())].clone(),
    }
}

/// Plans against pools exactly as the real service returned them (recorded traffic).
#[test]
fn plan_against_recorded_pool_bodies() {
    let recorded = |name: &str| -> repool::batch::Pool {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        serde_json::from_value(value["response"]["body"].clone()).unwrap()
    };
    // rec 13: created from {id, vmSize, imageReference without version, dataDisks [{lun, diskSizeGB}], classic mode}.
    let live = recorded("13_pool_get_200_just_created");
    let same = json!({"batch_disk_4c281fb9": {
        "vmSize": "STANDARD_D2_V2", "targetDedicatedNodes": 0, "targetNodeCommunicationMode": "classic",
        "virtualMachineConfiguration": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"},
            "nodeAgentSKUId": "batch.node.ubuntu 18.04", "dataDisks": [{"lun": 1, "diskSizeGB": 50}]}}});
    let d = definition(&same.to_string()).unwrap();
    let plan = Plan::new(&d, std::slice::from_ref(&live), &[], repool::batch::ApiVersion::V2024_07_01);
    assert_eq!(plan.pools[0].action, Action::Unchanged, "server defaults are not changes:\n{plan}");

    let mut newer = same.clone();
    newer["batch_disk_4c281fb9"]["virtualMachineConfiguration"]["imageReference"]["sku"] = json!("22_04-lts");
    newer["batch_disk_4c281fb9"]["startTask"] = json!({"commandLine": "echo hi"});
    let d = definition(&newer.to_string()).unwrap();
    let plan = Plan::new(&d, &[live], &[], repool::batch::ApiVersion::V2024_07_01);
    let changes: Vec<(&str, Apply)> = plan.pools[0].changes.iter().map(|c| (c.path.as_str(), c.apply)).collect();
    assert_eq!(
        changes,
        [("virtualMachineConfiguration.imageReference.sku", Apply::Recreate), ("startTask", Apply::InPlace)]
    );

    // rec 11: autoscale off, stopped resize with errors; read-only state never shows as a change.
    let stopped = recorded("11_pool_get_200_steady_resizeErrors_ResizeStopped");
    let body = json!({"2b9b1f4d": {"displayName": "test_pool", "vmSize": "standard_d2_v2", "targetLowPriorityNodes": 2, "targetDedicatedNodes": 0,
        "userAccounts": [{"name": "task-user", "elevationLevel": "admin", "password": "kt#_gahr!@aGERDXA"}],
        "virtualMachineConfiguration": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"}, "nodeAgentSKUId": "batch.node.ubuntu 18.04"}}});
    let d = definition(&body.to_string()).unwrap();
    let plan = Plan::new(&d, &[stopped], &[], repool::batch::ApiVersion::V2024_07_01);
    assert_eq!(plan.pools[0].action, Action::Unchanged, "{plan}");
    assert!(!serde_json::to_string(&plan).unwrap().contains("kt#_gahr"));
}

/// A one-letter secret: the recorded body marks exactly where env() put it, nothing else.
#[test]
fn a_short_secret_is_sealed_where_it_was_rendered_and_nowhere_else() {
    // SAFETY: the name is unique to this test.
    unsafe { std::env::set_var("REPOOL_TEST_SHORT_SECRET", "x") };
    let source = r#"{"p": {"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
        "virtualMachineConfiguration": {"imageReference": {"publisher": "p", "offer": "o", "sku": "linux-x"}, "nodeAgentSKUId": "n"},
        "startTask": {"commandLine": "run", "environmentSettings": [{"name": "T", "value": "{{ env("REPOOL_TEST_SHORT_SECRET") }}"}]}}}"#;
    let d = Definition::from_text("p.json.j2", source, true, &BTreeMap::new()).unwrap();
    let sealed = &d.pools[0].sealed;
    assert_eq!(sealed["startTask"]["environmentSettings"][0]["value"], "${env:REPOOL_TEST_SHORT_SECRET}");
    assert_eq!(sealed["virtualMachineConfiguration"]["imageReference"]["sku"], "linux-x", "{sealed}");
    assert_eq!(repool::definition::sealed::unseal(sealed, None).unwrap(), d.pools[0].body);
}

/// The 2024 model types containerConfiguration.type as a string; the service (and the 2025 model)
/// accept only dockerCompatible and criCompatible.
#[test]
fn an_enum_known_from_the_newer_model_binds_the_older_one() {
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["p-render"]["virtualMachineConfiguration"]["containerConfiguration"]["type"] = "docker".into();
    let d = Definition::from_text("d.json", &body.to_string(), false, &BTreeMap::new()).unwrap();
    for version in [repool::batch::ApiVersion::V2024_07_01, repool::batch::ApiVersion::V2025_06_01] {
        let shown = d.validate(version).unwrap_err().to_string();
        assert!(
            shown.contains("virtualMachineConfiguration.containerConfiguration.type")
                && shown.contains("'docker' is not one of")
                && shown.contains("dockerCompatible"),
            "{version}: {shown}"
        );
    }
}

/// A key written twice anywhere (the pool's own object, common-config, a list item) is refused
/// at its second place; in a template, at the lines of the rendered text.
#[test]
fn keys_written_twice_are_refused_where_they_are() {
    let text = "{\n\"common-config\": {\"vmSize\": \"a\", \"vmSize\": \"b\"},\n\"p-1\": {\"metadata\": [{\"name\": \"x\",\n \"name\": \"y\"}]}\n}";
    let err = definition(text).unwrap_err();
    let found: Vec<_> = err.problems.iter().map(|p| (p.pool.as_deref(), p.path.as_str(), p.line)).collect();
    assert_eq!(found, [(None, "common-config.vmSize", Some((2, 34))), (Some("p-1"), "metadata[0].name", Some((4, 2)))]);
    let template = "{\"p-1\": {\"vmSize\": \"{{ size }}\",\n\"vmSize\": \"b\"}}";
    let vars = BTreeMap::from([("size".to_string(), "a".to_string())]);
    let err = Definition::from_text("pools.json.j2", template, true, &vars).unwrap_err();
    assert_eq!(err.problems[0].line, None, "the template's own lines are not the rendered ones");
    assert!(err.problems[0].message.contains("lines 1 and 2 of the rendered template"), "{err}");
}
