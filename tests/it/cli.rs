//! The real binary: the sim's first line, `pools` against it, and bad input (exit 2, nothing sent).

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn repool(data_dir: &std::path::Path) -> Command {
    common::repool_command(data_dir)
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = command.output().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

#[test]
fn sim_server_then_pools_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = KillOnDrop(
        repool(dir.path())
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

    let (code, out, err) = run(repool(dir.path())
        .args(["pools", "--account-url", url, "--account-name", account])
        .env("AZURE_BATCH_ACCESS_KEY", key));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID") && out.contains("gpu-train") && out.contains("AccountCoreQuotaReached"), "{out}");
    assert!(!out.contains(key) && !err.contains(key));

    let (code, out, _) = run(repool(dir.path())
        .args(["pools", "--json"])
        .env("AZURE_BATCH_ENDPOINT", url)
        .env("AZURE_BATCH_ACCOUNT", account)
        .env("AZURE_BATCH_ACCESS_KEY", key));
    assert_eq!(code, 0);
    let pools: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(pools.len(), 12);
    assert!(pools.iter().all(|p| p["virtualMachineConfiguration"]["nodeAgentSKUId"].is_string()));

    // A wrong key is refused by the service and reported with the fix.
    let (code, _, err) = run(repool(dir.path())
        .args(["pools", "--account-url", url, "--account-name", account])
        .env("AZURE_BATCH_ACCESS_KEY", "d3Jvbmc="));
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

/// Arguments, environment, and what the error must say.
type BadCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test]
async fn bad_input_exits_2_naming_the_fix_and_sends_nothing() {
    let sim = common::frozen_sim(Some("demo")).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<BadCase> = vec![
        (vec!["pools", "--account-url", "not a url"], vec![("AZURE_BATCH_ACCESS_KEY", "AAAA")], "is not a URL"),
        (
            vec!["pools", "--account-url", "http://batch.example.com"],
            vec![("AZURE_BATCH_ACCESS_KEY", "AAAA")],
            "plain http",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--account-name", "simaccount"],
            vec![("AZURE_BATCH_ACCESS_KEY", "!!not-base64!!")],
            "not valid base64",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "shared-key", "--account-name", "simaccount"],
            vec![],
            "needs the account key",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "client-certificate"],
            vec![
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/sp.pem"),
            ],
            "/nonexistent/sp.pem",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "client-secret"],
            vec![("AZURE_TENANT_ID", "t")],
            "AZURE_CLIENT_ID",
        ),
        (vec!["pools", "--auth", "magic"], vec![], "invalid value 'magic'"),
        (vec!["pools"], vec![], "no Batch account configured"),
        (vec!["pools", "--log-level", "loud=="], vec![], "log level"),
        (vec!["pools", "--account-url", &sim.url, "--api-version", "2025"], vec![], "--api-version: '2025' is not"),
    ];
    for (args, env, expected) in cases {
        let mut command = repool(dir.path());
        command.args(&args).envs(env);
        let (code, _, err) = run(&mut command);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
    }
    // Certificates that exist but cannot sign in: named, with what is wrong.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let keyless = dir.path().join("keyless.pem");
    std::fs::write(&keyless, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    for (file, expected) in [(&garbage, "neither PEM nor a readable PKCS#12"), (&keyless, "holds no private key")] {
        let mut command = repool(dir.path());
        command.args(["pools", "--account-url", &sim.url, "--auth", "client-certificate"]).envs([
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", file.to_str().unwrap()),
        ]);
        let (code, _, err) = run(&mut command);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(file.to_str().unwrap()) && err.contains(expected), "{err}");
    }
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    std::fs::write(dir.path().join("repool/config.toml"), "refresh_seconds = 5\n[accounts.prod]\nurll = \"x\"\n")
        .unwrap();
    let (code, _, err) = run(repool(dir.path()).args(["pools"]));
    assert_eq!(code, 2);
    assert!(err.contains("config.toml") && err.contains("line 3") && err.contains("urll"), "{err}");
    std::fs::write(dir.path().join("repool/config.toml"), "api_version = \"2025-6-1\"\n").unwrap();
    let (code, _, err) = run(repool(dir.path()).args(["pools", "--account-url", &sim.url]));
    assert_eq!(code, 2);
    assert!(err.contains("config.toml: api_version: '2025-6-1'") && err.contains("2024-07-01.20.0"), "{err}");
    assert!(sim.stats().requests.is_empty(), "nothing reached the account: {:?}", sim.stats().requests);
}

#[test]
fn info_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(repool(dir.path()).arg("info"));
    assert_eq!(code, 0);
    let data = dir.path().display().to_string();
    assert!(
        out.contains(&format!("journal   {data}/journal")) && out.contains(&format!("logs      {data}/logs")),
        "{out}"
    );
    assert!(out.contains("not present"), "{out}");
    // A config file named before it is written: info says so (a newcomer's first command), the others refuse.
    let missing = dir.path().join("not-yet.toml");
    let (code, out, err) = run(repool(dir.path()).arg("info").env("REPOOL_CONFIG", &missing));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{} (not present", missing.display())), "{out}");
    let (code, _, err) = run(repool(dir.path()).arg("pools").env("REPOOL_CONFIG", &missing));
    assert_eq!(code, 2);
    assert!(err.contains("not-yet.toml"), "{err}");
    let (code, out, _) = run(repool(dir.path()).args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(out.contains("repool") && out.contains("recreate"));
    let (code, _, err) = run(repool(dir.path()).args(["restore", "missing-backup.json"]));
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
    let mut command = repool(dir.path());
    command.args(["pools", "--json"]).env("AZURE_BATCH_ENDPOINT", &endpoint);
    command.env("AZURE_BATCH_ACCOUNT", "acct").env("AZURE_BATCH_ACCESS_KEY", "aw==");
    let (code, out, err) = run(&mut command);
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
    let (code, out, err) = run(repool(dir.path()).args(["plan"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 4, "changes pending: {err}");
    assert!(out.contains("p-render: 10 change(s), 7 only on an empty pool: `repool apply` rebuilds it"), "{out}");

    let (code, out, err) =
        run(repool(dir.path()).args(["recreate", "--all", "--dry-run"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("POST /pools/p-render/disableautoscale") && out.contains("DELETE /pools/p-ingest"), "{out}");
    // The body it would POST, its registry password hidden.
    assert!(out.contains("\"vmSize\": \"Standard_D8s_v3\"") && out.contains("\"password\": \"<redacted>\""), "{out}");
    assert!(!out.contains("REPLACE-ME"), "{out}");
    let (code, out, err) = run(repool(dir.path())
        .args(["apply", "--pool", "p-render", "--dry-run", "--json"])
        .env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    let dry: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pool = &dry["pools"][0];
    assert_eq!((pool["id"].as_str(), pool["strategy"].as_str()), (Some("p-render"), Some("rebuild")), "{dry:#}");
    let patch = pool["calls"].as_array().unwrap().iter().find(|c| c["method"] == "PATCH").expect("a PATCH");
    assert_eq!(patch["body"]["virtualMachineConfiguration"]["nodeAgentSKUId"], "batch.node.ubuntu 24.04", "{dry:#}");
    assert!(patch["body"].get("vmSize").is_none(), "only what differs: {dry:#}");
    assert!(!out.contains("REPLACE-ME"), "{out}");
    assert_eq!(common::mutating_calls(&sim), 0, "--dry-run changes nothing");

    let (code, _, err) = run(repool(dir.path()).args(["recreate", "--all"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("pass --yes"), "{err}");
    let (code, _, err) =
        run(repool(dir.path()).args(["recreate", "--pool", "nope", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("pool 'nope' is not in"), "{err}");
    let (code, _, err) =
        run(repool(dir.path()).args(["recreate", "--pool", "p-ingset", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("(did you mean 'p-ingest'?); repool recreates only pools the definition can"), "{err}");
    let (code, _, err) =
        run(repool(dir.path()).args(["plan", "--pool", "p-ingset"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("--pool p-ingset: not in") && err.contains("(did you mean 'p-ingest'?)"), "{err}");
    let (code, _, err) = run(repool(dir.path())
        .args(["recreate", "--all", "--yes", "--until", "sideways"])
        .env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("not a step"), "{err}");
    let (code, _, err) =
        run(repool(dir.path()).args(["recreate", "--all", "--yes", "--readonly"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2);
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(common::mutating_calls(&sim), 0);

    // Step through: stop after draining, then resume the rest.
    let (code, out, err) = run(repool(dir.path())
        .args(["recreate", "--pool", "p-render", "--yes", "--json", "--until", "drain"])
        .env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "paused");
    assert_eq!(report["pools"][0]["status"], "paused");
    assert!(err.contains("wait-drained ok"), "{err}");
    assert!(sim.with_world(|w, _| w.find("p-render").is_some()), "not deleted while paused");

    let (code, out, err) =
        run(repool(dir.path()).args(["resume", "--yes", "--json"]).env("AZURE_BATCH_ACCESS_KEY", &key));
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
    let (code, _, err) = run(repool(dir.path()).args(["resume", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 2, "nothing left to resume: {err}");
}

/// Multi-threaded: the simulator must keep serving while the test blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_account_is_refused() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let account = repool::rollout::account::AccountId::from_endpoint(&url::Url::parse(&sim.url).unwrap());
    let _held =
        repool::rollout::lock::RunLock::acquire(&dir.path().join("locks"), &account, "run-that-holds-it").unwrap();
    let (code, _, err) =
        run(repool(dir.path()).args(["recreate", "--all", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", sim.key()));
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
    let (code, out, err) = run(repool(dir.path())
        .args(["recreate", "--pool", "p-ingest", "--yes", "--json"])
        .env("AZURE_BATCH_ACCESS_KEY", sim.key()));
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
    let (code, _, err) =
        run(repool(dir.path()).args(["restore", backup, "--yes"]).env("AZURE_BATCH_ACCESS_KEY", sim.key()));
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
    let (code, out, err) = run(repool(dir.path())
        .args(["restore", backup, "--yes", "--secret", secret])
        .env("AZURE_BATCH_ACCESS_KEY", sim.key())
        .env("REG_PW", "s3cr3t-pw"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created pool 'p-render'"), "{out}");
    assert!(!err.contains("s3cr3t-pw") && !out.contains("s3cr3t-pw"), "the secret is never shown");
    let restored = client.get_pool("p-render", None).await.unwrap();
    assert_eq!(
        restored.rest["virtualMachineConfiguration"]["containerConfiguration"],
        live.rest["virtualMachineConfiguration"]["containerConfiguration"]
    );
    assert!(restored.autoscale());

    let (code, _, err) = run(repool(dir.path())
        .args(["restore", backup, "--yes", "--secret", secret])
        .env("AZURE_BATCH_ACCESS_KEY", sim.key())
        .env("REG_PW", "x"));
    assert_eq!(code, 2);
    assert!(err.contains("exists; restore only creates a missing pool"), "{err}");
}

/// Definition problems through the real binary: exit 2, the location named, nothing sent that changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_exit_2_with_the_location_and_change_nothing() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let cases = [
        ("syntax.json", "{\n  \"p-render\": {\"vmSize\": \"a\",}\n}", "syntax.json:2:"),
        (
            "schema.json",
            "{\"p-render\": {\"vmSize\": \"a\", \"targetDedicatedNodes\": 1, \"virtualMachineConfiguration\": {\"imageReference\": {\"publisher\": \"p\", \"offer\": \"o\", \"sku\": \"s\"}, \"nodeAgentSKUId\": \"n\"}, \"networkConfiguration\": {\"subnetId\": \"s\", \"dynamicVnetAssignmentScope\": \"job\"}}}",
            "p-render.networkConfiguration.dynamicVnetAssignmentScope: unknown property",
        ),
        ("template.json.j2", "{\n\"p-render\": {\"vmSize\": \"{{ size }}\"}\n}", "template.json.j2:2:"),
        (
            "rules.json",
            "{\"p-render\": {\"vmSize\": \"a\", \"enableAutoScale\": true, \"virtualMachineConfiguration\": {\"imageReference\": {\"publisher\": \"p\", \"offer\": \"o\", \"sku\": \"s\"}, \"nodeAgentSKUId\": \"n\"}}}",
            "p-render.autoScaleFormula: is required",
        ),
        // A key or a pool written twice: JSON would keep the last in silence.
        (
            "dup-key.json",
            "{\n  \"p-render\": {\"vmSize\": \"a\",\n    \"vmSize\": \"b\"}\n}",
            "dup-key.json:3:5: pool 'p-render': p-render.vmSize: written twice (first at line 2, column 16)",
        ),
        (
            "dup-pool.json",
            "{\"p-render\": {\"vmSize\": \"a\"},\n\"p-render\": {\"vmSize\": \"b\"}}",
            "dup-pool.json:2:1: pool 'p-render': the pool is defined twice (first at line 1, column 2)",
        ),
        // Work without end is refused, not waited for.
        (
            "runaway.json.j2",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "runaway.json.j2 does too much work",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for command in [vec!["validate"], vec!["plan"], vec!["recreate", "--all", "--yes"]] {
            let (code, _, err) = run(repool(dir.path())
                .args(&command)
                .args(["--definition", path.to_str().unwrap()])
                .env("AZURE_BATCH_ACCESS_KEY", sim.key()));
            assert_eq!(code, 2, "{name} {command:?}: {err}");
            assert!(err.contains(expected), "{name} {command:?}: expected '{expected}' in {err}");
        }
    }
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// `recreate --all --changed` takes only the pools whose plan shows changes; `--until` names every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_leaves_out_pools_that_match_the_definition() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let (code, _, err) =
        run(repool(dir.path()).args(["recreate", "--pool", "p-ingest", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(repool(dir.path())
        .args(["recreate", "--all", "--changed", "--dry-run"])
        .env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-render:") && !out.contains("p-ingest:"), "{out}");
    let (_, help, _) = run(repool(dir.path()).args(["recreate", "--help"]));
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
        let mut command = repool(dir.path());
        command.args(args).args(["--definition", path.to_str().unwrap()]).env("AZURE_BATCH_ACCESS_KEY", sim.key());
        for var in set {
            command.env(var, "value-from-env");
        }
        run(&mut command)
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
    let (code, _, err) = run(repool(dir.path()).args(["validate", "--definition", path.to_str().unwrap()]));
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

/// `recreate --json` with `signal` (TERM, HUP, INT) sent once `ready` holds and `delay` later: the
/// exit code, stdout and stderr. Waits for the logs folder first: from then on repool catches signals.
fn recreate_signalled(
    dir: &std::path::Path,
    key: &str,
    signal: &str,
    ready: impl Fn() -> bool,
    delay: std::time::Duration,
) -> (i32, String, String) {
    let child = repool(dir)
        .args(["recreate", "--pool", "p-render", "--yes", "--json"])
        .env("AZURE_BATCH_ACCESS_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // From the instant repool holds the signal back or catches it (its first line of main): a
    // signal before that (the loader) would end any program. Read from the kernel, per process.
    let number = match signal {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        _ => 15,
    };
    common::wait_until("repool takes its signals", || handles_signal(child.id(), number) && ready());
    std::thread::sleep(delay);
    Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

/// Whether process `pid` blocks or catches signal `number` (`SigBlk`/`SigCgt` in /proc/PID/status).
fn handles_signal(pid: u32, number: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    let mask = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    (mask("SigBlk:") | mask("SigCgt:")) & (1 << (number - 1)) != 0
}

/// The CLI contract under signals: SIGTERM and SIGHUP interrupt (3), Ctrl-C's SIGINT cancels (130),
/// at every instant — during preflight (before the run exists: a JSON error, nothing changed) and
/// during the run (the JSON report, the run resumable). stdout is always exactly one JSON object.
/// Bounded random: REPOOL_SIGNAL_TRIALS instants (default 9), REPOOL_SIGNAL_SEED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_at_any_instant_of_recreate_json_end_with_the_documented_code_and_json() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let seed = common::env_number("REPOOL_SIGNAL_SEED", fastrand::u64(..1000));
    let mut rng = fastrand::Rng::with_seed(seed);
    let expected = |signal: &str| if signal == "INT" { 130 } else { 3 };
    // During preflight, for sure: slow answers, the signal once the binary's first list arrived.
    sim.set_faults(repool::sim::faults::Faults::parse("latency=150ms").unwrap());
    for signal in ["TERM", "HUP", "INT"] {
        let gets = || sim.stats().requests.iter().filter(|(k, _)| k.starts_with("GET")).map(|(_, n)| n).sum::<u64>();
        let before = (gets(), common::mutating_calls(&sim));
        let (code, out, err) =
            recreate_signalled(dir.path(), &key, signal, || gets() > before.0, std::time::Duration::ZERO);
        assert_eq!(code, expected(signal), "SIG{signal} in preflight: {err}");
        let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
        assert_eq!(json["exitCode"], expected(signal), "{json}");
        let said = format!("interrupted by SIG{signal} before anything was changed");
        assert_eq!(json["error"], said.as_str());
        assert!(err.contains(&said), "{err}");
        assert_eq!(common::mutating_calls(&sim), before.1, "nothing changed");
    }
    // Any instant: from the start to the end of a quick recreation.
    sim.set_faults(repool::sim::faults::Faults::parse("latency=10ms").unwrap());
    for trial in 0..common::env_number("REPOOL_SIGNAL_TRIALS", 9) {
        let signal = ["TERM", "HUP", "INT"][trial as usize % 3];
        let delay = std::time::Duration::from_millis(rng.u64(0..700));
        let context = format!("seed {seed}, trial {trial}: SIG{signal} after {delay:?}");
        let (code, out, err) = recreate_signalled(dir.path(), &key, signal, || true, delay);
        let json: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{context}: stdout is not one JSON object ({e}): {out}\n{err}"));
        match json["status"].as_str() {
            Some("done") => assert_eq!(code, 0, "{context}: finished before the signal: {err}"),
            Some("cancelled") => {
                assert_eq!(code, expected(signal), "{context}: {err}");
                // A signal just after the pool finished stops a run with nothing left to do.
                let pool = json["pools"][0]["status"].as_str();
                assert!(matches!(pool, Some("interrupted" | "recreated")), "{context}: {json}");
                if pool == Some("interrupted") {
                    let (code, _, err) = common::output(
                        repool(dir.path()).args(["resume", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key),
                    );
                    assert_eq!(code, 0, "{context}: the interrupted run resumes: {err}");
                }
            }
            _ => {
                assert_eq!((code, &json["exitCode"]), (expected(signal), &expected(signal).into()), "{context}: {json}")
            }
        }
        assert!(!err.contains("panicked"), "{context}: {err}");
    }
}

/// A second signal while the first one's orderly stop waits for a slow call: repool stops at once
/// (exit 3, one JSON object saying so), and the run resumes from its journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once_and_the_run_still_resumes() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    // Every answer takes a second: the first signal lands while a call of the run is in flight.
    sim.set_faults(repool::sim::faults::Faults::parse("latency=1000ms").unwrap());
    let mut child = repool(dir.path())
        .args(["recreate", "--pool", "p-render", "--yes", "--json"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let kill = |pid: u32| Command::new("kill").args(["-s", "TERM", &pid.to_string()]).status().unwrap();
    common::wait_until("the run's first call", || common::journal_text(dir.path()).contains("step-started"));
    kill(child.id());
    let mut said = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        said.push(line.clone());
        if line.contains("SIGTERM: stopping") {
            break;
        }
    }
    kill(child.id());
    said.extend(stderr.map(|l| l.unwrap()));
    let output = child.wait_with_output().unwrap();
    let said = said.join("\n");
    assert_eq!(output.status.code(), Some(3), "{said}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["exitCode"], 3);
    assert!(json["error"].as_str().unwrap().contains("stopped at once by another signal"), "{json}");
    sim.set_faults(Default::default());
    let (code, _, err) =
        run(repool(dir.path()).args(["resume", "--yes", "--json"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
}

/// `--account NAME` acts on that profile's account even with another account in the environment;
/// both endpoints are named on stderr, `info` says where each setting came from, and the
/// environment's key is never used for the profile's account. Without --account, the
/// environment beats the file's default profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_named_on_the_command_line_beats_the_environment() {
    let live = common::frozen_sim(Some("demo")).await;
    let dead = common::frozen_sim(None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    let config = dir.path().join("repool/config.toml");
    let write_config = |dead_key: &str| {
        let text = format!(
            "account = \"dead\"\n[accounts.dead]\nurl = \"{}\"\nname = \"{}\"\n[accounts.dead.auth]\nmethod = \"shared-key\"\n{dead_key}",
            dead.url,
            dead.account()
        );
        std::fs::write(&config, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_config(&format!("account_key = \"{}\"\n", dead.key()));
    let with_env = |args: &[&str]| {
        let mut command = repool(dir.path());
        command
            .args(args)
            .env("AZURE_BATCH_ENDPOINT", &live.url)
            .env("AZURE_BATCH_ACCOUNT", live.account())
            .env("AZURE_BATCH_ACCESS_KEY", live.key());
        run(&mut command)
    };

    let (code, out, err) = with_env(&["info", "--account", "dead"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("account   dead  (flag --account)"), "{out}");
    assert!(out.contains(&format!("endpoint  {}  (config profile [accounts.dead])", dead.url)), "{out}");
    assert!(out.contains("key       set  (config profile [accounts.dead])"), "{out}");
    assert!(!out.contains(live.key()) && !out.contains(dead.key()), "{out}");
    let warning = err.lines().find(|l| l.contains("using account")).unwrap_or_else(|| panic!("{err}"));
    assert!(
        warning.contains(&dead.url) && warning.contains("[accounts.dead]") && warning.contains(&live.url),
        "{warning}"
    );
    assert!(warning.contains("AZURE_BATCH_ENDPOINT"), "{warning}");

    let (code, out, err) = with_env(&["pools", "--account", "dead"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(no pools in this account)") && !out.contains("p-render"), "{out}");
    assert!(live.stats().requests.is_empty(), "the environment's account was not asked");

    // The file's default profile gives way to the environment (file < env < flags), said on stderr.
    let (code, out, err) = with_env(&["pools"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-render"), "{out}");
    assert!(err.contains(&format!("using account {} (environment AZURE_BATCH_ENDPOINT)", live.url)), "{err}");
    assert!(err.contains("account key from config profile [accounts.dead] is not used"), "{err}");

    // A profile without a key of its own never borrows the environment's (another account's).
    write_config("");
    let asked = dead.stats().requests.values().sum::<u64>();
    let (code, _, err) = with_env(&["pools", "--account", "dead"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("AZURE_BATCH_ACCESS_KEY is not used") && err.contains("needs the account key"), "{err}");
    assert!(!err.contains(live.key()), "{err}");
    assert_eq!(dead.stats().requests.values().sum::<u64>(), asked, "nothing was sent");
    let (code, out, _) = with_env(&["info", "--account", "dead"]);
    assert_eq!(code, 0);
    assert!(out.contains("key       -"), "{out}");

    // Nor does it sign in with the environment's client secret, which is another client's.
    let text = format!(
        "[accounts.dead]\nurl = \"{}\"\n[accounts.dead.auth]\nmethod = \"client-secret\"\ntenant_id = \"t-1\"\nclient_id = \"dead-app\"\n",
        dead.url
    );
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = run(repool(dir.path())
        .args(["pools", "--account", "dead"])
        .env("AZURE_CLIENT_ID", "live-app")
        .env("AZURE_CLIENT_SECRET", "live-secret"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("client-secret sign-in needs the secret"), "{err}");
    assert_eq!(dead.stats().requests.values().sum::<u64>(), asked, "nothing was sent");
}

/// api-versions after 2025-06-01 are taken (the 2025 model), and `retaineddata`, gone from
/// 2026-08-01 on, is refused with them before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deallocation_option_the_api_version_lacks_is_refused_before_anything_is_sent() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let config = dir.path().join("repool/config.toml");
    let (code, _, err) = run(repool(dir.path()).args(["validate", "--api-version", "2026-10-01"]));
    assert_eq!(code, 0, "a newer api-version is taken: {err}");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("node_deallocation_option = \"retaineddata\"\n");
    std::fs::write(&config, &text).unwrap();
    let recreate = |extra: &[&str]| {
        let mut command = repool(dir.path());
        command.args(["recreate", "--pool", "p-ingest", "--yes"]).args(extra).env("AZURE_BATCH_ACCESS_KEY", sim.key());
        run(&mut command)
    };
    let (code, _, err) = recreate(&["--api-version", "2026-08-01"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "node_deallocation_option 'retaineddata' does not exist in api-version 2026-08-01 (--api-version;"
        ) && err.contains("use taskcompletion, requeue or terminate"),
        "{err}"
    );
    std::fs::write(&config, format!("api_version = \"2026-10-01\"\n{text}")).unwrap();
    let (code, _, err) = recreate(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("api-version 2026-10-01 (api_version in the config;"), "{err}");
    assert!(sim.stats().requests.is_empty(), "nothing reached the account: {:?}", sim.stats().requests);
    // The versions that have it still take it.
    let (code, out, err) = recreate(&["--api-version", "2025-06-01", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retaineddata"), "the drain would use it: {out}");
}
