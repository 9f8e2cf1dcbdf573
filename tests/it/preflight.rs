//! Proof before delete, through the binary against the simulator: a definition the service would
//! refuse, an image it no longer supports or does not offer, and a live property the new pool
//! would silently lack each stop the run before any call that changes the account (exit 2, the
//! property named).

use crate::common;

use common::{output, repool_command};
use serde_json::json;

/// `recreate --pool ID` with the example definition changed by `edit` for that pool.
async fn recreate_with(id: &str, edit: serde_json::Value, extra: &[&str]) -> (i32, String, repool::sim::RunningSim) {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body[id] = repool::definition::merge(&body[id], &edit);
    // A null in the pool's own object removes what common-config gives it.
    for (key, value) in edit.as_object().unwrap().iter().filter(|(_, v)| v.is_null()) {
        body[id][key] = value.clone();
    }
    let file = dir.path().join("d.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", id, "--yes", "--definition", file.to_str().unwrap()])
            .args(extra)
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    (code, err, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_type_the_service_refuses_is_caught_under_either_api_version() {
    let edit = json!({"virtualMachineConfiguration": {"containerConfiguration": {"type": "docker"}}});
    for version in ["2024-07-01.20.0", "2025-06-01"] {
        let (code, err, sim) = recreate_with("p-render", edit.clone(), &["--api-version", version]).await;
        assert_eq!(code, 2, "{version}: {err}");
        assert!(err.contains("containerConfiguration.type") && err.contains("dockerCompatible"), "{err}");
        assert_eq!(common::mutating_calls(&sim), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_or_unoffered_images_are_refused_before_anything_changes() {
    let retired = json!({"virtualMachineConfiguration": {
        "imageReference": {"publisher": "canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"},
        "nodeAgentSKUId": "batch.node.ubuntu 18.04", "containerConfiguration": null}});
    let (code, err, sim) = recreate_with("p-ingest", retired, &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("retired") && err.contains("2023-04-30"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
    let wrong_agent = json!({"virtualMachineConfiguration": {"nodeAgentSKUId": "batch.node.ubuntu 22.04"}});
    let (code, err, sim) = recreate_with("p-ingest", wrong_agent, &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not offered") && err.contains("batch.node.ubuntu 24.04"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_identity_is_never_dropped_without_the_operators_word() {
    let reporting = json!({"vmSize": "Standard_D2s_v3", "targetDedicatedNodes": 1});
    let (code, err, sim) = recreate_with("reporting", reporting.clone(), &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("would lose identity") && err.contains("--accept-loss identity"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
    let (code, err, sim) = recreate_with("reporting", reporting, &["--accept-loss", "identity"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(sim.stats().pools_created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_properties_the_definition_lacks_are_named() {
    // p-render's live start task has a resource-less command line; drop the start task from its definition.
    let (code, err, sim) = recreate_with("p-render", json!({"startTask": null}), &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("would lose startTask") && err.contains("--accept-loss startTask"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreating_a_pool_from_before_december_2025_warns_that_its_remote_access_goes() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let old: jiff::Timestamp = "2025-06-01T08:00:00Z".parse().unwrap();
    sim.with_world(|world, _| world.find_mut("p-ingest").unwrap().wire.creation_time = Some(old));
    let recreate = || {
        output(
            repool_command(dir.path())
                .args(["recreate", "--pool", "p-ingest", "--yes"])
                .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
        )
    };
    let (code, _, err) = recreate();
    assert_eq!(code, 0, "a warning, not a refusal: {err}");
    assert!(err.contains("warning: pool 'p-ingest': created 2025-06-01, when Batch still mapped SSH ports"), "{err}");
    assert!(err.contains("add networkConfiguration.endpointConfiguration.inboundNATPools (backendPort 22)"), "{err}");
    // The pool just created never had ports mapped: nothing to warn of.
    let (code, _, err) = recreate();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("remote access"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retiring_vm_family_and_image_are_warned_with_their_dates() {
    let edit = json!({"vmSize": "Standard_DS2_v2", "virtualMachineConfiguration": {
        "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
        "nodeAgentSKUId": "batch.node.ubuntu 22.04"}});
    let (code, err, sim) = recreate_with("p-ingest", edit, &["--dry-run"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("vmSize Standard_DS2_v2 is VM family Dsv2, which Batch stops supporting: ends 2028-05-01"),
        "{err}"
    );
    assert!(
        err.contains("Batch support for Ubuntu 22.04 (batch.node.ubuntu 22.04) ends 2027-06-30 (Azure/Batch#200)"),
        "{err}"
    );
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// The health gate: a start task that fails on every node makes the pool unhealthy, naming the
/// nodes and the exit code; the canary stops the run before the next pool is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_start_task_stops_the_run_at_its_canary() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["common-config"]["startTask"]["commandLine"] = "/bin/bash -c 'setup-that-breaks; exit 3'".into();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let untouched = common::pool_identity(&sim, "p-ingest").unwrap();
    let (code, out, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-render", "--pool", "p-ingest", "--canary", "1", "--yes", "--json"])
            .args(["--definition", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let canary = &report["pools"][0];
    assert_eq!((canary["id"].as_str(), canary["status"].as_str()), (Some("p-render"), Some("unhealthy")), "{report:#}");
    let error = canary["error"].as_str().unwrap();
    assert!(
        error.contains("start task exit 3") && error.contains("FailureExitCode") && error.contains("tvmps_"),
        "{error}"
    );
    assert_eq!(report["pools"][1]["status"], "held", "{report:#}");
    assert!(report["pools"][1]["error"].as_str().unwrap().contains("canary"));
    assert_eq!(
        common::pool_identity(&sim, "p-ingest").unwrap(),
        untouched,
        "the pool after the canary was not touched"
    );
}

/// Without waitForSuccess a failed start task leaves the node idle with failureInfo: still unhealthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_task_is_unhealthy_even_without_wait_for_success() {
    let edit = json!({"startTask": {"commandLine": "/bin/sh -c 'exit 7'", "waitForSuccess": false}});
    let (code, err, _sim) = recreate_with("p-render", edit, &[]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("UNHEALTHY") && err.contains("start task exit 7"), "{err}");
}

/// `--on-unhealthy rollback`: the failed new pool is replaced by the pool as it was before the run;
/// a pool whose backup lacks a secret is not rolled back (the unhealthy pool stays, and says why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_pool_is_rolled_back_to_its_pre_run_backup() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let original = sim.with_world(|w, _| w.find("p-ingest").unwrap().wire.clone());
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["common-config"]["startTask"]["commandLine"] = "/bin/bash -c 'exit 4'".into();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let (code, out, err) = output(
        repool_command(dir.path())
            .args([
                "recreate",
                "--pool",
                "p-ingest",
                "--pool",
                "p-render",
                "--on-unhealthy",
                "rollback",
                "--yes",
                "--json",
            ])
            .args(["--definition", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pool = |id: &str| report["pools"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap().clone();
    let ingest = pool("p-ingest");
    assert_eq!(ingest["status"], "rolled-back", "{report:#}");
    assert!(ingest["error"].as_str().unwrap().contains("start task exit 4"), "{ingest:#}");
    let back = sim.with_world(|w, _| w.find("p-ingest").unwrap().wire.clone());
    assert_ne!(back.creation_time, original.creation_time, "a new pool");
    assert_eq!(back.vm_size, original.vm_size);
    assert_eq!(back.rest.get("virtualMachineConfiguration"), original.rest.get("virtualMachineConfiguration"));
    let render = pool("p-render");
    assert_eq!(render["status"], "unhealthy", "{report:#}");
    assert!(
        render["error"].as_str().unwrap().contains("no rollback")
            && render["error"].as_str().unwrap().contains("password"),
        "{render:#}"
    );
    assert!(sim.with_world(|w, _| w.find("p-render").is_some()), "not rolled back, so not deleted either");
}

/// A run that continues is proved again: resume with an edited definition whose image is retired is
/// refused before the drained pool is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_proves_the_bodies_it_will_create() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let file = dir.path().join("d.json");
    std::fs::write(&file, repool::definition::EXAMPLE).unwrap();
    let key = sim.key().to_string();
    let (code, _, err) = output(
        repool_command(dir.path())
            .args([
                "recreate",
                "--pool",
                "p-ingest",
                "--until",
                "drain",
                "--yes",
                "--definition",
                file.to_str().unwrap(),
            ])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["p-ingest"]["virtualMachineConfiguration"] = json!({
        "imageReference": {"publisher": "canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"},
        "nodeAgentSKUId": "batch.node.ubuntu 18.04", "containerConfiguration": null});
    std::fs::write(&file, body.to_string()).unwrap();
    let before = common::mutating_calls(&sim);
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["resume", "--yes", "--create-from", "definition"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("retired") && err.contains("p-ingest"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before, "nothing changed");
    assert!(sim.with_world(|w, _| w.find("p-ingest").is_some()), "the drained pool is still there");
}

/// Pools whose id says they are a repool probe, and whether each is on its way out.
fn probe_pools(sim: &repool::sim::RunningSim) -> Vec<(String, bool)> {
    sim.with_world(|w, _| {
        w.pools
            .values()
            .filter(|p| p.wire.id().contains("-probe-"))
            .map(|p| (p.wire.id().to_string(), p.is_deleting()))
            .collect()
    })
}

/// `--probe`: the service judges the exact body (here an autoscale formula, which no schema
/// parses) before anything of the operator's pools changes; the throwaway pool goes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_lets_the_service_refuse_what_no_schema_knows() {
    for formula in ["$TargetDedicatedNodes = (3;", "$TargetDedicatedNodes = $nothing;"] {
        let edit = json!({ "autoScaleFormula": formula });
        let (code, err, sim) = recreate_with("p-render", edit, &["--probe"]).await;
        assert_eq!(code, 2, "{formula}: {err}");
        assert!(err.contains("probe") && err.contains("autoScaleFormula"), "{err}");
        assert!(probe_pools(&sim).iter().all(|(_, deleting)| *deleting), "{:?}", probe_pools(&sim));
        assert!(sim.with_world(|w, _| w.find("p-render").unwrap().wire.autoscale()), "p-render untouched");
        assert_eq!(sim.stats().pools_created, 1, "only the probe");
    }
    // An accepted probe leaves its trace: a line on stderr and the verdict in the JSON report.
    let (sim, dir) = common::fast_demo_with_config().await;
    let (code, out, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-render", "--probe", "--yes", "--json"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(probe_pools(&sim).iter().all(|(_, deleting)| *deleting), "{:?}", probe_pools(&sim));
    assert_eq!(sim.stats().pools_created, 2, "the probe, then the new pool");
    let said = "probe p-render: the service accepted the body: created it with 0 nodes and evaluated its autoscale formula, then deleted it (as p-render-probe-";
    assert!(err.contains(said), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let probe = &report["pools"][0]["probe"];
    assert_eq!(probe["accepted"], true, "{report:#}");
    assert!(probe["probePool"].as_str().unwrap().starts_with("p-render-probe-"), "{report:#}");
}

/// A probe a crash left in the account (journaled before its create) is deleted by the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_left_by_a_crash_is_deleted_by_the_next_run() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let client = common::client_for(&sim);
    client.add_pool(&common::pool_body("p-ingest-probe-00000000aa", 0)).await.unwrap();
    let ledger = dir.path().join("probes");
    std::fs::create_dir_all(&ledger).unwrap();
    let account = repool::rollout::account::AccountId::from_endpoint(client.endpoint()).file_name();
    std::fs::write(
        ledger.join(format!("{account}.jsonl")),
        "{\"probe\":\"p-ingest-probe-00000000aa\",\"pool\":\"p-ingest\",\"deleted\":false}\n",
    )
    .unwrap();
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-ingest", "--until", "disable-autoscale", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(probe_pools(&sim).iter().all(|(_, deleting)| *deleting), "{:?}", probe_pools(&sim));
    assert!(sim.stats().requests.iter().any(|(k, _)| k.starts_with("DELETE")), "deleted");
    let ledger = std::fs::read_to_string(ledger.join(format!("{account}.jsonl"))).unwrap();
    assert!(ledger.contains("\"deleted\":true"), "{ledger}");
}

/// Choices made when a run starts hold when it is resumed from anywhere: a run that accepted the
/// loss of a managed identity resumes without being refused for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_keeps_the_choices_the_run_started_with() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["reporting"] = json!({"vmSize": "Standard_D2s_v3", "targetDedicatedNodes": 1});
    let file = dir.path().join("d.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let recreate = ["recreate", "--pool", "reporting", "--accept-loss", "identity", "--until", "backup", "--yes"];
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(recreate)
            .args(["--definition", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(common::journal_text(dir.path()).contains("\"acceptLoss\":[\"identity\"]"));
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["resume", "--yes", "--definition", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("as the run chose when it started: accepting the loss of identity"), "{err}");
    assert!(sim.with_world(|w, _| w.find("reporting").unwrap().wire.rest.get("identity").is_none()), "recreated");
}

/// `--max-unavailable 1`: with three pools in parallel, never two between the resize to 0 and
/// healthy at once (read from the journal's order of records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_unavailable_bounds_pools_without_capacity() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["p-spare"] =
        json!({"targetDedicatedNodes": 1, "virtualMachineConfiguration": {"containerConfiguration": null}});
    common::client_for(&sim).add_pool(&common::pool_body("p-spare", 1)).await.unwrap();
    let file = dir.path().join("d.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let (code, out, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-ingest", "--pool", "p-render", "--pool", "p-spare"])
            .args(["--parallel", "3", "--max-unavailable", "1", "--yes", "--json"])
            .args(["--definition", file.to_str().unwrap()])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let mut inside: Vec<String> = Vec::new();
    let mut most = 0;
    for line in common::journal_text(dir.path()).lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let pool = record["pool"].as_str().unwrap_or_default().to_string();
        match (record["event"].as_str(), record["step"].as_str()) {
            (Some("step-started"), Some("resize-to-zero")) => inside.push(pool),
            (Some("pool-finished"), _) => inside.retain(|p| *p != pool),
            _ => {}
        }
        most = most.max(inside.len());
    }
    assert_eq!(most, 1, "at most one pool unavailable at once");
}

/// The example definition works as written: `validate` and a recreation of both pools in the demo
/// account say no warning; its template asks for the registry password only for the pool that pulls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_in_the_demo_without_a_warning() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let template = format!("{}/assets/pools.example.json.j2", env!("CARGO_MANIFEST_DIR"));
    let repool = |args: &[&str], password: Option<&str>| {
        let mut command = repool_command(dir.path());
        command.args(args).env("AZURE_BATCH_ACCESS_KEY", &key);
        if let Some(password) = password {
            command.env("REGISTRY_PASSWORD", password);
        }
        output(&mut command)
    };
    let (code, out, err) = repool(&["validate"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 pool(s) valid") && !err.contains("warning"), "{out}{err}");
    let (code, _, err) = repool(&["validate", "--definition", &template], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("REGISTRY_PASSWORD is not set (pool 'p-render' needs it)"), "{err}");
    let (code, _, err) = repool(&["validate", "--definition", &template], Some("pw"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = repool(&["recreate", "--pool", "p-ingest", "--dry-run", "--definition", &template], None);
    assert_eq!(code, 0, "p-ingest pulls from no registry: {err}");
    assert!(out.contains("DELETE /pools/p-ingest") && !err.contains("warning"), "{out}{err}");
    let (code, _, err) = repool(&["recreate", "--all", "--yes"], None);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(sim.stats().pools_created, 2);
}

/// A new run is planned and checked once: `recreate` lists the images the account offers once,
/// though the run's start reads the pool again for its backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_is_checked_once() {
    let (code, err, sim) = recreate_with("p-render", json!({}), &[]).await;
    assert_eq!(code, 0, "{err}");
    let stats = sim.stats();
    let images: u64 = stats.requests.iter().filter(|(k, _)| k.contains("supported images")).map(|(_, n)| n).sum();
    assert_eq!(images, 1, "{:?}", stats.requests);
    assert_eq!(stats.pools_created, 1);
}

/// What preflight judged is true when the run starts: a pool changed between the proposal and its
/// start (a property the new pool would lose, here) is refused, before a backup or journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_changed_after_its_proposal_is_refused_at_start() {
    use repool::rollout::run::{Intent, Workspace};
    let (sim, dir) = common::fast_demo_with_config().await;
    let client = common::client_for(&sim);
    let definition = repool::definition::Definition::from_text(
        "pools.example.json",
        repool::definition::EXAMPLE,
        false,
        &Default::default(),
    )
    .unwrap();
    let (api, policy) = (repool::batch::ApiVersion::V2024_07_01, Default::default());
    let workspace = Workspace::new(client.clone(), api, policy, dir.path().to_path_buf());
    let ids = ["p-render".to_string()];
    let proposal = workspace.propose(&definition, &ids, Intent::Recreate, false).await.unwrap();
    assert!(proposal.findings.problems.is_empty(), "{:?}", proposal.findings);
    let tag = json!({"metadata": [{"name": "owner", "value": "someone-else"}]});
    client.patch_pool("p-render", &tag, None).await.unwrap();
    let refusal = proposal.start().await.err().expect("refused");
    assert!(refusal.message.contains("pool 'p-render' changed (metadata) since repool planned the run"), "{refusal}");
    assert_eq!(common::mutating_calls(&sim), 1, "only the patch: {:?}", sim.stats().requests);
    assert!(common::journal_text(dir.path()).is_empty(), "no run was journaled");
    // Proposed again, preflight sees what the new pool would lose.
    let again = workspace.propose(&definition, &ids, Intent::Recreate, false).await.unwrap();
    assert_eq!(again.findings.losses, vec![("p-render".to_string(), "metadata".to_string())]);
}
