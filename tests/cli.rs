//! The real binary: the sim's first line, `pools` against it, and bad input (exit 2, nothing sent).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn repool(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_repool"));
    for var in [
        "AZURE_BATCH_ENDPOINT",
        "AZURE_BATCH_ACCOUNT",
        "AZURE_BATCH_ACCESS_KEY",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "REPOOL_LOG",
        "HTTPS_PROXY",
    ] {
        command.env_remove(var);
    }
    command
        .env_remove("REPOOL_CONFIG")
        .env("REPOOL_DATA_DIR", data_dir)
        .env("XDG_CONFIG_HOME", data_dir)
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = command.output().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

#[test]
fn sim_server_then_pools_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = repool(dir.path())
        .args(["sim", "--seed", "demo", "--account", "acct1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(sim.stdout.take().unwrap()).read_line(&mut first).unwrap();
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
    assert_eq!(code, 1);
    assert!(err.contains("AuthenticationFailed") && err.contains("check the account name and key"), "{err}");

    let log = std::fs::read_dir(dir.path().join("logs")).unwrap().next().unwrap().unwrap().path();
    assert!(!std::fs::read_to_string(log).unwrap().contains(key), "the key never reaches the log");

    unsafe_kill_term(sim.id());
    assert!(sim.wait().unwrap().success(), "SIGTERM stops the simulator cleanly");
}

fn unsafe_kill_term(pid: u32) {
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
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
    ];
    for (args, env, expected) in cases {
        let mut command = repool(dir.path());
        command.args(&args).envs(env);
        let (code, _, err) = run(&mut command);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
    }
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    std::fs::write(dir.path().join("repool/config.toml"), "refresh_seconds = 5\n[accounts.prod]\nurll = \"x\"\n")
        .unwrap();
    let (code, _, err) = run(repool(dir.path()).args(["pools"]));
    assert_eq!(code, 2);
    assert!(err.contains("config.toml") && err.contains("line 3") && err.contains("urll"), "{err}");
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
    let (code, out, _) = run(repool(dir.path()).args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(out.contains("repool") && out.contains("recreate"));
    let (code, _, err) = run(repool(dir.path()).args(["recreate", "--all"]));
    assert_eq!(code, 2);
    assert!(err.contains("not available in this build yet"), "{err}");
}
