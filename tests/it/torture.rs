//! Torture: the real binary SIGKILLed at random instants and resumed; a 50-pool recreation under
//! faults; planted secrets hunted through every file, output and dashboard screen. Bounded, seeded, reproducible:
//! REPOOL_TORTURE_TRIALS and REPOOL_TORTURE_SEED choose how many trials and which instants.

use crate::common;

use common::terminal::Terminal;

use repool::definition::plan::{Action, Plan};
use repool::definition::{Definition, EXAMPLE};
use repool::sim::faults::Faults;
use std::collections::BTreeMap;
use std::time::Duration;

use common::env_number;

fn unfinished_journal(dir: &std::path::Path) -> bool {
    repool::rollout::journal::list(&dir.join("journal"))
        .iter()
        .filter_map(|p| repool::rollout::journal::read(p).ok())
        .any(|s| !s.is_closed() && !s.pending().is_empty())
}

use common::journal_lines;

/// Each trial kills `repool recreate` once its journal reaches a random line (plus a random few
/// milliseconds, to land inside API calls and waits too), then resumes until done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_instants_then_resume_never_loses_a_pool() {
    let trials = env_number("REPOOL_TORTURE_TRIALS", 20);
    let seed = env_number("REPOOL_TORTURE_SEED", 20261125);
    let mut rng = fastrand::Rng::with_seed(seed);
    let definition = Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap();
    let mut killed_mid_run = 0;
    for trial in 0..trials {
        // A full run of the two pools journals about 48 lines (the health gate included).
        let (kill_at_line, extra) = (rng.usize(1..48), Duration::from_millis(rng.u64(0..30)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {kill_at_line} + {extra:?})");
        let (sim, dir) = common::fast_demo_with_config().await;
        let key = sim.key().to_string();
        let mut first = common::spawn_repool(dir.path(), &key, &["recreate", "--all", "--yes"]);
        if common::kill_at_journal_line(&mut first, dir.path(), kill_at_line, extra, &context).await {
            killed_mid_run += 1;
        }
        // Continue as an operator would: resume an unfinished run; start again only if the
        // kill came before anything was journaled (and so before anything changed).
        for attempt in 0..3 {
            let args: &[&str] = if unfinished_journal(dir.path()) {
                &["resume", "--yes"]
            } else if journal_lines(dir.path()) == 0 {
                &["recreate", "--all", "--yes"]
            } else {
                break;
            };
            let output =
                common::repool_command(dir.path()).args(args).env("AZURE_BATCH_ACCESS_KEY", &key).output().unwrap();
            assert!(
                attempt < 2 || output.status.success(),
                "{context}: {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let client = common::client_for(&sim);
        let live = client.list_pools(None, None, None).await.unwrap();
        for id in ["p-render", "p-ingest"] {
            let matches: Vec<_> = live.iter().filter(|p| p.id().eq_ignore_ascii_case(id)).collect();
            assert_eq!(matches.len(), 1, "{context}: {id} exists exactly once");
            assert!(matches[0].is_steady(), "{context}: {id} is steady");
        }
        let plan = Plan::new(&definition, &live, &[], repool::batch::ApiVersion::V2024_07_01);
        assert!(
            plan.pools.iter().all(|p| p.action == Action::Unchanged),
            "{context}: pools match the definition:\n{plan}"
        );
        let stats = sim.stats();
        let journals: Vec<String> = repool::rollout::journal::list(&dir.path().join("journal"))
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        assert_eq!(
            stats.pools_created,
            2,
            "{context}: each pool created exactly once; journals:\n{}",
            journals.join("\n---\n")
        );
        assert_eq!(
            stats.tasks_killed_by_resize + stats.tasks_killed_by_delete,
            0,
            "{context}: no node removed while running a task"
        );
    }
    println!("{trials} trials (seed {seed}): {killed_mid_run} killed in the middle of a run");
}

/// A new pool whose start task fails, with `--on-unhealthy rollback`: SIGKILL at random instants
/// (in the health gate and in the rollback chain too), then resume until done. The pool ends as it
/// was before the run, exactly once, created twice in all (the failed pool, the rollback); the
/// resume rolls back because the run journaled that choice, whatever the config says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_health_gate_and_rollback_then_resume_restores_the_pool() {
    let trials = env_number("REPOOL_TORTURE_TRIALS", 20) / 2;
    let seed = env_number("REPOOL_TORTURE_SEED", 20261125) + 1;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut body: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    body["p-ingest"]["startTask"] = serde_json::json!({"commandLine": "/bin/sh -c 'exit 4'", "waitForSuccess": true});
    let mut killed_in_rollback = 0;
    for trial in 0..trials {
        // A run of p-ingest through its rollback journals about 34 lines.
        let (kill_at_line, extra) = (rng.usize(12..36), Duration::from_millis(rng.u64(0..30)));
        let context = format!("trial {trial} (seed {seed}, SIGKILL at journal line {kill_at_line} + {extra:?})");
        let (sim, dir) = common::fast_demo_with_config().await;
        let original = sim.with_world(|w, _| w.find("p-ingest").unwrap().wire.clone());
        let file = dir.path().join("broken.json");
        std::fs::write(&file, body.to_string()).unwrap();
        let key = sim.key().to_string();
        let recreate = ["recreate", "--pool", "p-ingest", "--on-unhealthy", "rollback", "--yes", "--definition"];
        let mut first = common::spawn_repool(dir.path(), &key, &[&recreate[..], &[file.to_str().unwrap()]].concat());
        if common::kill_at_journal_line(&mut first, dir.path(), kill_at_line, extra, &context).await {
            let text = common::journal_text(dir.path());
            killed_in_rollback += usize::from(text.contains("rollback-") && !text.contains("run-finished"));
        }
        for _ in 0..3 {
            if !unfinished_journal(dir.path()) {
                break;
            }
            common::repool_command(dir.path())
                .args(["resume", "--yes", "--definition", file.to_str().unwrap()])
                .env("AZURE_BATCH_ACCESS_KEY", &key)
                .output()
                .unwrap();
        }
        assert!(!unfinished_journal(dir.path()), "{context}: the run finished");
        let pools: Vec<_> = sim.with_world(|w, _| {
            w.pools.values().filter(|p| p.wire.id() == "p-ingest" && !p.is_deleting()).map(|p| p.wire.clone()).collect()
        });
        assert_eq!(pools.len(), 1, "{context}: p-ingest exists exactly once");
        let back = &pools[0];
        assert_eq!(back.vm_size, original.vm_size, "{context}");
        assert_eq!(back.rest.get("startTask"), original.rest.get("startTask"), "{context}: the original start task");
        let run = repool::rollout::journal::list(&dir.path().join("journal"))
            .iter()
            .find_map(|p| repool::rollout::journal::read(p).ok())
            .unwrap();
        let status = run.pool("p-ingest").status;
        assert_eq!(status, Some(repool::rollout::report::PoolStatus::RolledBack), "{context}");
        assert_eq!(sim.stats().pools_created, 2, "{context}: the failed pool and the rollback, once each");
    }
    println!("{trials} trials (seed {seed}): {killed_in_rollback} killed in the rollback chain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pools_under_faults_finish_or_say_why_and_lose_nothing() {
    use repool::rollout::policy::RunPolicy;
    use repool::rollout::report::PoolStatus;
    use repool::rollout::run::{Until, Workspace};
    let sim =
        repool::sim::start(repool::sim::SimOptions { speed: 3000.0, seed_rng: 7, ..Default::default() }, "127.0.0.1:0")
            .await
            .unwrap();
    let client = common::client_with(
        &sim,
        repool::batch::RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let mut text = String::from("{");
    for i in 0..50 {
        text.push_str(&format!(
            "\"soak-{i:02}\": {},",
            serde_json::json!({"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 2,
                "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}, "nodeAgentSKUId": "batch.node.ubuntu 24.04"}})
        ));
    }
    text.pop();
    text.push('}');
    let definition = Definition::from_text("soak.json", &text, false, &BTreeMap::new()).unwrap();
    for pool in &definition.pools {
        client.add_pool(&pool.body).await.unwrap();
    }
    sim.set_faults(
        Faults::parse("503=0.05,429=0.05,drop=0.02,latency=200ms,jitter=50ms,alloc=0.1,retry-after=0").unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = RunPolicy {
        poll_interval: Duration::from_millis(200),
        fast_poll_interval: Duration::from_millis(100),
        wait_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(60),
        parallel: 50,
        ..Default::default()
    };
    let workspace =
        Workspace::new(client.clone(), repool::batch::ApiVersion::V2024_07_01, policy, dir.path().to_path_buf());
    let ids: Vec<String> = definition.pools.iter().map(|p| p.id.clone()).collect();
    let proposal = workspace.propose(&definition, &ids, repool::rollout::run::Intent::Recreate, false).await.unwrap();
    let run = proposal.start().await.unwrap();
    let prepared = run.prepare(Some(&definition), None, &[], Until::End).await.unwrap();
    let report = prepared.execute(tokio::sync::mpsc::unbounded_channel().0, Default::default()).await;
    sim.set_faults(Faults::default());
    let live = client.list_pools(Some("id"), None, None).await.unwrap();
    for pool in &report.pools {
        assert!(pool.status == PoolStatus::Recreated || pool.error.is_some(), "{pool:?}");
        assert!(live.iter().any(|l| l.id() == pool.id) || pool.status == PoolStatus::Failed, "{} lost", pool.id);
    }
    let recreated = report.pools.iter().filter(|p| p.status == PoolStatus::Recreated).count();
    println!("soak: {recreated}/50 recreated, {} failed with reasons", 50 - recreated);
    assert!(recreated >= 40, "most pools get through 10% throttling: {recreated}/50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_appear_nowhere() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let planted = ["planted-registry-pw-7f3a", "planted-client-secret-91bc", "planted-cert-password-55de"];
    // A template definition whose registry password comes from the environment.
    let password = EXAMPLE.lines().find(|l| l.contains("\"password\"")).expect("the example's registry password");
    let template = EXAMPLE.replace(password, "\"password\": \"{{ env('REGISTRY_PASSWORD') }}\"");
    assert!(template.contains("env('REGISTRY_PASSWORD')"), "the registry password comes from the environment");
    let definition = dir.path().join("pools.json.j2");
    std::fs::write(&definition, template).unwrap();
    let config = dir.path().join("repool/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replace("pools.example.json\"", &format!("pools.example.json\"\n# {}", planted[0]));
    let text = text.replace(
        "method = \"shared-key\"",
        &format!(
            "method = \"shared-key\"\nclient_secret = \"{}\"\ncertificate_password = \"{}\"",
            planted[1], planted[2]
        ),
    );
    std::fs::write(&config, text).unwrap();
    let output = common::repool_command(dir.path())
        .args([
            "recreate",
            "--all",
            "--yes",
            "--json",
            "--definition",
            definition.to_str().unwrap(),
            "--log-level",
            "trace",
        ])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .env("REGISTRY_PASSWORD", planted[0])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan = common::repool_command(dir.path())
        .args(["plan", "--definition", definition.to_str().unwrap()])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .env("REGISTRY_PASSWORD", planted[0])
        .output()
        .unwrap();
    let mut seen =
        vec![String::from_utf8_lossy(&output.stdout).to_string(), String::from_utf8_lossy(&output.stderr).to_string()];
    seen.push(String::from_utf8_lossy(&plan.stdout).to_string());
    seen.push(String::from_utf8_lossy(&plan.stderr).to_string());
    // The dashboard: details, plan, a full recreation, the activity log and help, every screen kept.
    // A new registry for the dashboard's run, so the plan shows the registry entry, password and all.
    let next = dir.path().join("pools-next.json.j2");
    let text = std::fs::read_to_string(&definition).unwrap().replace("contoso.azurecr.io", "contoso2.azurecr.io");
    std::fs::write(&next, text).unwrap();
    let screens =
        dashboard_screens(dir.path(), &next, &[("AZURE_BATCH_ACCESS_KEY", &key), ("REGISTRY_PASSWORD", planted[0])]);
    assert!(screens.len() > 10, "the dashboard drew its screens: {}", screens.len());
    let registry =
        screens.iter().find(|s| s.contains("contoso2.azurecr.io")).expect("the plan showed the new registry");
    eprintln!("{registry}");
    seen.extend(screens);
    let mut files = 0;
    for folder in ["journal", "backups", "logs", "locks", "exports"] {
        for entry in walk(&dir.path().join(folder)) {
            seen.push(std::fs::read_to_string(&entry).unwrap_or_default());
            files += 1;
        }
    }
    assert!(files >= 5, "journal, backups, logs and the written JSON: {files} files");
    for secret in planted.iter().copied().chain([key.as_str()]) {
        for (i, text) in seen.iter().enumerate() {
            assert!(!text.contains(secret), "secret {secret} leaked into output/file #{i}");
        }
    }
}

/// Drives the real dashboard through every screen that could show a pool body; returns them all.
fn dashboard_screens(dir: &std::path::Path, definition: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let definition = definition.to_str().unwrap();
    let mut terminal = Terminal::repool(dir, &["--definition", definition, "--log-level", "trace"], env);
    terminal.wait_for("p-render");
    terminal.send("/p-render\r");
    terminal.send("\r");
    terminal.wait_for("summary  plan  nodes  json");
    terminal.send("\t");
    terminal.wait_for("plan: recreate");
    terminal.send("\t");
    terminal.wait_for("node(s), listed");
    terminal.send("\t");
    terminal.wait_for("\"vmSize\"");
    terminal.send("w");
    terminal.wait_for("(secrets hidden)");
    // A lone escape is only a key once no sequence follows it: wait for its effect.
    terminal.send("\x1b");
    terminal.wait_without("summary  plan  nodes  json");
    terminal.send("p");
    terminal.wait_for("defined pool(s) differ");
    terminal.mark_and_recreate("p-render");
    terminal.send("l");
    terminal.wait_for(" activity ");
    terminal.send("?");
    terminal.wait_for("any key closes");
    terminal.send("\x1b");
    terminal.send("q");
    let ended = terminal.end();
    assert!(
        ended.success,
        "the dashboard exits cleanly; last screen:\n{}",
        ended.screens.last().cloned().unwrap_or_default()
    );
    ended.screens
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}
