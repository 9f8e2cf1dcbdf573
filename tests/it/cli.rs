//! The real binary: the sim's first line, `pools` against it, and bad input (exit 2, nothing sent).

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn sim_server_then_pools_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = KillOnDrop(
        common::repool_command(dir.path())
            .args(["sim", "--seed", "demo", "--account", "acct1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(sim.0.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let (url, rest) = first.trim().strip_prefix("listening on ").unwrap().split_once(" account=").unwrap();
    let (account, key) = rest.split_once(" key=").unwrap();
    assert_eq!(account, "acct1");

    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["pools", "--account-url", url, "--account-name", account])
            .env("AZURE_BATCH_ACCESS_KEY", key),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID") && out.contains("gpu-train") && out.contains("AccountCoreQuotaReached"), "{out}");
    assert!(!out.contains(key) && !err.contains(key));

    let (code, out, _) = common::output(
        common::repool_command(dir.path())
            .args(["pools", "--json"])
            .env("AZURE_BATCH_ENDPOINT", url)
            .env("AZURE_BATCH_ACCOUNT", account)
            .env("AZURE_BATCH_ACCESS_KEY", key),
    );
    assert_eq!(code, 0);
    let pools: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(pools.len(), 12);
    assert!(pools.iter().all(|p| p["virtualMachineConfiguration"]["nodeAgentSKUId"].is_string()));

    // A wrong key is refused by the service and reported with the fix.
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["pools", "--account-url", url, "--account-name", account])
            .env("AZURE_BATCH_ACCESS_KEY", "d3Jvbmc="),
    );
    assert_eq!(code, 2, "a wrong key is configuration: {err}");
    assert!(err.starts_with("error: the account refused the request's signature"), "it says so first: {err}");
    assert!(err.contains("check the account name and key"), "{err}");
    assert!(err.lines().count() <= 2 && !err.contains("StringToSign"), "details go to the log: {err}");

    let log = std::fs::read_dir(dir.path().join("logs")).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains(key), "the key never reaches the log");
    assert!(log.contains("AuthenticationFailed") && log.contains("AuthenticationErrorDetail"), "{log}");

    Command::new("kill").args(["-TERM", &sim.0.id().to_string()]).status().unwrap();
    assert!(sim.0.wait().unwrap().success(), "SIGTERM stops the simulator cleanly");
}

/// A child process that cannot outlive a failed test (it would hold the test's output open).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn info_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = common::output(common::repool_command(dir.path()).arg("info"));
    assert_eq!(code, 0);
    let data = dir.path().display().to_string();
    assert!(
        out.contains(&format!("journal   {data}/journal")) && out.contains(&format!("logs      {data}/logs")),
        "{out}"
    );
    assert!(out.contains("not present"), "{out}");
    // A config file named before it is written: info says so (a newcomer's first command), the others refuse.
    let missing = dir.path().join("not-yet.toml");
    let (code, out, err) =
        common::output(common::repool_command(dir.path()).arg("info").env("REPOOL_CONFIG", &missing));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{} (not present", missing.display())), "{out}");
    let (code, _, err) = common::output(common::repool_command(dir.path()).arg("pools").env("REPOOL_CONFIG", &missing));
    assert_eq!(code, 2);
    assert!(err.contains("not-yet.toml"), "{err}");
    let (code, out, _) = common::output(common::repool_command(dir.path()).args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(out.contains("repool") && out.contains("recreate"));
    let (code, _, err) = common::output(common::repool_command(dir.path()).args(["restore", "missing-backup.json"]));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read backup missing-backup.json"), "{err}");
}

/// An account that never answers (nothing listens on the port) is configuration: exit 2 after a
/// short try, naming the endpoint and what to check, as text and as JSON.
#[test]
fn an_unreachable_account_exits_2_naming_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut command = common::repool_command(dir.path());
    command.args(["pools", "--json"]).env("AZURE_BATCH_ENDPOINT", &endpoint);
    command.env("AZURE_BATCH_ACCOUNT", "acct").env("AZURE_BATCH_ACCESS_KEY", "aw==");
    let (code, out, err) = common::output(&mut command);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot reach the Batch account at {endpoint}/")) && err.contains("repool info"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["exitCode"], 2);
}

/// Multi-threaded: the simulator must keep serving while the test blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_from_the_command_line_with_a_json_report() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let (code, out, err) =
        common::output(common::repool_command(dir.path()).args(["plan"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 4, "changes pending: {err}");
    assert!(out.contains("p-render: 10 change(s), 7 only on an empty pool: `repool apply` rebuilds it"), "{out}");

    let (code, out, err) = common::output(
        common::repool_command(dir.path()).args(["recreate", "--all", "--dry-run"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("POST /pools/p-render/disableautoscale") && out.contains("DELETE /pools/p-ingest"), "{out}");
    // The body it would POST, its registry password hidden.
    assert!(out.contains("\"vmSize\": \"Standard_D8s_v3\"") && out.contains("\"password\": \"<redacted>\""), "{out}");
    assert!(!out.contains("REPLACE-ME"), "{out}");
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["apply", "--pool", "p-render", "--dry-run", "--json"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    let dry: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pool = &dry["pools"][0];
    assert_eq!((pool["id"].as_str(), pool["strategy"].as_str()), (Some("p-render"), Some("rebuild")), "{dry:#}");
    let patch = pool["calls"].as_array().unwrap().iter().find(|c| c["method"] == "PATCH").expect("a PATCH");
    assert_eq!(patch["body"]["virtualMachineConfiguration"]["nodeAgentSKUId"], "batch.node.ubuntu 24.04", "{dry:#}");
    assert!(patch["body"].get("vmSize").is_none(), "only what differs: {dry:#}");
    assert!(!out.contains("REPLACE-ME"), "{out}");
    assert_eq!(common::mutating_calls(&sim), 0, "--dry-run changes nothing");

    let (code, _, err) = common::output(
        common::repool_command(dir.path()).args(["recreate", "--all"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("pass --yes"), "{err}");
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--pool", "nope", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("pool 'nope' is not in"), "{err}");
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--pool", "p-ingset", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("(did you mean 'p-ingest'?); repool recreates only pools the definition can"), "{err}");
    let (code, _, err) = common::output(
        common::repool_command(dir.path()).args(["plan", "--pool", "p-ingset"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("--pool p-ingset: not in") && err.contains("(did you mean 'p-ingest'?)"), "{err}");
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--all", "--yes", "--until", "sideways"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("not a step"), "{err}");
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--all", "--yes", "--readonly"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);

    // Step through: stop after draining, then resume the rest.
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--pool", "p-render", "--yes", "--json", "--until", "drain"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "paused");
    assert_eq!(report["pools"][0]["status"], "paused");
    assert!(err.contains("wait-drained ok"), "{err}");
    assert!(sim.with_world(|w, _| w.find("p-render").is_some()), "not deleted while paused");

    let (code, out, err) = common::output(
        common::repool_command(dir.path()).args(["resume", "--yes", "--json"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "done");
    let pool = &report["pools"][0];
    assert_eq!((pool["id"].as_str(), pool["status"].as_str()), (Some("p-render"), Some("recreated")));
    let steps: Vec<&str> = pool["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["backup", "delete", "wait-gone", "create", "wait-ready", "wait-healthy"]);
    assert!(pool["steps"][0]["durationSeconds"].is_number() && pool["steps"][0]["started"].is_string());
    assert!(std::path::Path::new(pool["backup"].as_str().unwrap()).exists());
    assert!(pool["newCreationTime"].is_string());
    assert_eq!(sim.stats().tasks_killed_by_resize + sim.stats().tasks_killed_by_delete, 0);

    let backup = std::fs::read_to_string(pool["backup"].as_str().unwrap()).unwrap();
    assert!(backup.contains("\"id\": \"p-render\"") && backup.contains("virtualMachineConfiguration"));
    let (code, _, err) = common::output(
        common::repool_command(dir.path()).args(["resume", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 2, "nothing left to resume: {err}");
}

/// Multi-threaded: the simulator must keep serving while the test blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_account_is_refused() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let account = repool::rollout::account::AccountId::from_endpoint(&url::Url::parse(&sim.url).unwrap());
    let _held =
        repool::rollout::lock::RunLock::acquire(&dir.path().join("locks"), &account, "run-that-holds-it").unwrap();
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--all", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run-that-holds-it"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// Multi-threaded: the simulator must keep serving while the test blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pool_exits_1_and_says_why() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let config = dir.path().join("repool/config.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("PT60M\"", "PT5M\"\ndrain_timeout = \"PT10M\"");
    std::fs::write(&config, text).unwrap();
    // 25-minute tasks, one just begun: a 10-minute drain cannot wait for them. At ×300 the
    // tasks last 5 s, ample for the binary to reach its drain even on a loaded machine.
    common::set_speed(&sim, 300.0);
    common::tasks_just_began(&sim, "p-ingest");
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--pool", "p-ingest", "--yes", "--json"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["pools"][0]["status"], "failed");
    let error = report["pools"][0]["error"].as_str().unwrap();
    assert!(error.contains("NOT deleted"), "{error}");
    // It says how to give the pool its nodes back.
    assert!(error.contains("0 targets (before the run: 2 dedicated, 2 low-priority)"), "{error}");
    assert!(error.contains("repool resume --on-drain-timeout wait"), "{error}");
    assert!(sim.with_world(|w, _| w.find("p-ingest").is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_needs_the_secrets_the_service_never_returns() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let client = common::client_for(&sim);
    // p-render pulls from a registry with a username; the service never returns its password.
    let live = client.get_pool("p-render", None).await.unwrap();
    let backup = dir.path().join("p-render.json");
    std::fs::write(&backup, serde_json::to_string_pretty(&live).unwrap()).unwrap();
    let backup = backup.to_str().unwrap();
    let (code, _, err) = common::output(
        common::repool_command(dir.path()).args(["restore", backup, "--yes"]).env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "--secret virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password=ENV_VAR"
        ),
        "{err}"
    );

    client.disable_autoscale("p-render").await.unwrap();
    client.delete_pool("p-render", None).await.unwrap();
    while client.pool_exists("p-render").await.unwrap() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let secret = "virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password=REG_PW";
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["restore", backup, "--yes", "--secret", secret])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key())
            .env("REG_PW", "s3cr3t-pw"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created pool 'p-render'"), "{out}");
    assert!(!err.contains("s3cr3t-pw") && !out.contains("s3cr3t-pw"), "the secret is never shown");
    let restored = client.get_pool("p-render", None).await.unwrap();
    assert_eq!(
        restored.rest["virtualMachineConfiguration"]["containerConfiguration"],
        live.rest["virtualMachineConfiguration"]["containerConfiguration"]
    );
    assert!(restored.autoscale());

    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["restore", backup, "--yes", "--secret", secret])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key())
            .env("REG_PW", "x"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("exists; restore only creates a missing pool"), "{err}");
}

/// `recreate --all --changed` takes only the pools whose plan shows changes; `--until` names every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_leaves_out_pools_that_match_the_definition() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--pool", "p-ingest", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = common::output(
        common::repool_command(dir.path())
            .args(["recreate", "--all", "--changed", "--dry-run"])
            .env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-render:") && !out.contains("p-ingest:"), "{out}");
    let (_, help, _) = common::output(common::repool_command(dir.path()).args(["recreate", "--help"]));
    for step in repool::rollout::step::Step::RECREATE {
        assert!(help.contains(step.name()), "--until lists {step}: {help}");
    }
}

/// A template's unset env() variables are named all at once, and a run asks only for those of the
/// pools it touches; a missing vmSize is one problem, told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_variables_are_asked_only_of_the_chosen_pools() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["p-render"]["startTask"] = serde_json::json!({
        "commandLine": "login --token {{ env('REPOOL_T_A') }}",
        "environmentSettings": [{"name": "B", "value": "{{ env('REPOOL_T_B') }}"}]
    });
    body["p-ingest"]["metadata"] = serde_json::json!([{"name": "team", "value": "{{ env('REPOOL_T_C') }}"}]);
    // An unset value that decides a condition shows in no placeholder: the pool needs every unset one.
    body["p-cond"] =
        serde_json::json!({"targetDedicatedNodes": 0, "displayName": "{% if env('REPOOL_T_D') %}on{% endif %}"});
    let path = dir.path().join("pools.json.j2");
    std::fs::write(&path, serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let repool_with = |args: &[&str], set: &[&str]| {
        let mut command = common::repool_command(dir.path());
        command.args(args).args(["--definition", path.to_str().unwrap()]).env("AZURE_BATCH_ACCESS_KEY", sim.key());
        for var in set {
            command.env(var, "value-from-env");
        }
        common::output(&mut command)
    };

    let (code, _, err) = repool_with(&["validate"], &[]);
    assert_eq!(code, 2, "{err}");
    for var in ["REPOOL_T_A", "REPOOL_T_B", "REPOOL_T_C", "REPOOL_T_D"] {
        assert_eq!(err.matches(&format!("environment variable {var} is not set")).count(), 1, "{var} once: {err}");
    }
    assert!(err.contains("REPOOL_T_A is not set (pools 'p-render', 'p-cond' need it)"), "{err}");
    assert!(err.contains("REPOOL_T_C is not set (pools 'p-ingest', 'p-cond' need it)"), "{err}");
    assert!(err.contains("REPOOL_T_D is not set (pool 'p-cond' needs it)"), "{err}");

    // p-ingest needs only REPOOL_T_C.
    let (code, out, err) = repool_with(&["recreate", "--pool", "p-ingest", "--dry-run"], &["REPOOL_T_C"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DELETE /pools/p-ingest"), "{out}");
    let (code, _, err) = repool_with(&["plan", "--pool", "p-ingest"], &["REPOOL_T_C"]);
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = repool_with(&["apply", "--pool", "p-render", "--dry-run"], &["REPOOL_T_C"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("REPOOL_T_A is not set (pool 'p-render' needs it)"), "{err}");
    assert!(err.contains("REPOOL_T_B is not set") && !err.contains("REPOOL_T_C"), "{err}");
    let (code, _, err) = repool_with(&["recreate", "--all", "--yes"], &["REPOOL_T_A", "REPOOL_T_B", "REPOOL_T_C"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("REPOOL_T_D is not set (pool 'p-cond' needs it)"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);

    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    body["common-config"].as_object_mut().unwrap().remove("vmSize");
    let path = dir.path().join("no-size.json");
    std::fs::write(&path, body.to_string()).unwrap();
    let (code, _, err) =
        common::output(common::repool_command(dir.path()).args(["validate", "--definition", path.to_str().unwrap()]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("p-ingest.vmSize: is required, e.g."), "{err}");
    assert_eq!(err.matches("vmSize").count(), 1, "p-render sets its own; p-ingest's is told once: {err}");
}

/// Issue 21, item 8: commands that only read work in a read-only data directory (no directory to
/// create, no mode to set, no log file to open); a command that must write says why and changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_commands_work_in_a_read_only_data_directory() {
    let Some(disk) = common::Tmpfs::mount("4m") else { return };
    let (sim, dir) = common::fast_demo_with_config().await;
    let on_disk = |args: &[&str]| {
        common::output(
            common::repool_command(dir.path())
                .args(args)
                .env("REPOOL_DATA_DIR", disk.path())
                .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
        )
    };
    let (code, _, err) = on_disk(&["recreate", "--pool", "p-render", "--until", "drain", "--yes"]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(disk.path().join("logs")).unwrap();
    disk.read_only();
    for args in [&["info"][..], &["validate"], &["runs"], &["pools"]] {
        let (code, out, err) = on_disk(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
        if args == ["runs"] {
            assert!(out.contains("p-render") && out.contains("paused after wait-drained"), "{out}");
        }
    }
    let before = common::mutating_calls(&sim);
    let (code, _, err) = on_disk(&["resume", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(common::mutating_calls(&sim), before);
}
