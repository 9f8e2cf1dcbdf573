//! Shared test set-up: a simulator on loopback and a client signed with its key.

use repool::batch::http::HttpSettings;
use repool::batch::{AuthMethod, AuthSettings, BatchClient, Credential, RetryPolicy};
use repool::secret::Secret;
use repool::sim::{self, RunningSim, SimOptions};
use std::time::Duration;

pub(crate) mod capacity;
pub(crate) mod terminal;

/// A simulator whose clock only moves when the test calls `advance`.
pub(crate) async fn frozen_sim(seed: Option<&str>) -> RunningSim {
    let options = SimOptions { speed: 0.0, seed: seed.map(String::from), ..Default::default() };
    sim::start(options, "127.0.0.1:0").await.expect("simulator starts")
}

pub(crate) fn client_for(sim: &RunningSim) -> BatchClient {
    client_with(
        sim,
        RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            ..Default::default()
        },
    )
}

pub(crate) fn client_with(sim: &RunningSim, retry: RetryPolicy) -> BatchClient {
    client_at(sim, repool::batch::ApiVersion::V2024_07_01, retry)
}

/// A client of the simulator's account signing with its key, at `api_version`.
pub(crate) fn client_at(sim: &RunningSim, api_version: repool::batch::ApiVersion, retry: RetryPolicy) -> BatchClient {
    let auth = AuthSettings {
        method: AuthMethod::SharedKey,
        account_name: sim.account().to_string(),
        account_key: Some(Secret::new(sim.key())),
        ..Default::default()
    };
    let credential = Credential::from_settings(&auth, &HttpSettings::default()).expect("credential");
    BatchClient::new(&sim.url, api_version, credential, &HttpSettings::default(), retry).expect("client")
}

pub(crate) fn pool_body(id: &str, dedicated: u32) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "vmSize": "STANDARD_D2S_V3",
        "targetDedicatedNodes": dedicated,
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"
        }
    })
}

/// The demo account at 3000× in-process, and a config dir (XDG_CONFIG_HOME) pointing the binary
/// at it with the example definition and quick polling.
pub(crate) async fn fast_demo_with_config() -> (RunningSim, tempfile::TempDir) {
    let options = SimOptions { speed: 3000.0, seed: Some("demo".into()), ..Default::default() };
    let sim = sim::start(options, "127.0.0.1:0").await.expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    let definition = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    let config = format!(
        "definition = \"{definition}\"\n[accounts.sim]\nurl = \"{}\"\nname = \"{}\"\n[accounts.sim.auth]\nmethod = \"shared-key\"\n\
         [recreate]\npoll_seconds = 0.05\nresize_timeout = \"PT60M\"\nwait_timeout = \"PT1M\"\n",
        sim.url,
        sim.account()
    );
    std::fs::write(dir.path().join("repool/config.toml"), config).unwrap();
    (sim, dir)
}

/// Every node of pool `id` starts a task now, so draining it takes a whole task length (the
/// demo's p-ingest: 25 minutes), whenever the resize lands.
pub(crate) fn tasks_just_began(sim: &RunningSim, id: &str) {
    sim.with_world(|world, now| {
        for node in &mut world.find_mut(id).expect("a seeded pool").nodes {
            node.tasks_begin_at(now);
        }
    });
}

/// Requests that may change the account (anything but GET and HEAD).
pub(crate) fn mutating_calls(sim: &RunningSim) -> u64 {
    sim.stats().requests.iter().filter(|(k, _)| !k.starts_with("GET") && !k.starts_with("HEAD")).map(|(_, n)| n).sum()
}

/// Gives pool `id` a start task that exits 3 (waited for), as if its nodes ran it when they joined:
/// every node of the pool is `starttaskfailed`.
pub(crate) fn fail_start_tasks(sim: &RunningSim, id: &str) {
    sim.with_world(|w, _| {
        let pool = w.find_mut(id).expect("the pool is seeded");
        let start = serde_json::json!({"commandLine": "cmd /c exit 3", "waitForSuccess": true});
        pool.wire.rest.insert("startTask".into(), start);
        let ran = pool.start_task();
        pool.nodes.iter_mut().for_each(|n| n.start_task = ran.clone());
    });
}

/// The repool binary with a clean environment, its data and config in `dir`.
pub(crate) fn repool_command(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_repool"));
    for var in INHERITED_SETTINGS {
        command.env_remove(var);
    }
    command.env("REPOOL_DATA_DIR", dir).env("XDG_CONFIG_HOME", dir).stdin(std::process::Stdio::null());
    command
}

/// The repool binary started in the background with `args`, signed in with the account `key`,
/// its output discarded: a run to be killed at some instant.
pub(crate) fn spawn_repool(dir: &std::path::Path, key: &str, args: &[&str]) -> std::process::Child {
    let quiet = std::process::Stdio::null;
    repool_command(dir).args(args).env("AZURE_BATCH_ACCESS_KEY", key).stdout(quiet()).stderr(quiet()).spawn().unwrap()
}

/// Whether the journal in `dir` has a run `repool resume` can continue, and whether it has any
/// run at all. Killed after its pools finished but before its end was written, a run has nothing
/// to resume.
pub(crate) fn runs_left(dir: &std::path::Path) -> (bool, bool) {
    let runs = repool::rollout::journal::list(&dir.join("journal"));
    let mut states = runs.iter().filter_map(|p| repool::rollout::journal::read(p).ok());
    (states.any(|s| repool::rollout::report::is_resumable(&s)), !runs.is_empty())
}

/// `repool abandon --yes` of the account's newest run (journal in `dir`): exit code, stdout, stderr.
pub(crate) fn abandon_newest_run(dir: &std::path::Path, key: &str) -> (i32, String, String) {
    let runs = repool::rollout::journal::list(&dir.join("journal"));
    let id = runs[0].file_stem().unwrap().to_string_lossy().into_owned();
    repool_with_key(dir, key, &["abandon", &id, "--yes"])
}

/// Settings a developer's environment may hold that must not reach the binary under test.
pub(crate) const INHERITED_SETTINGS: [&str; 10] = [
    "AZURE_BATCH_ENDPOINT",
    "AZURE_BATCH_ACCOUNT",
    "AZURE_BATCH_ACCESS_KEY",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "REPOOL_LOG",
    "HTTPS_PROXY",
    "REPOOL_CONFIG",
];

/// Sets the simulator's speed from now on (0 freezes it: waits then never end by themselves).
pub(crate) fn set_speed(sim: &RunningSim, speed: f64) {
    sim.state.clock.lock().unwrap().set_speed(speed);
}

/// Every journal line in `dir/journal`, all runs.
pub(crate) fn journal_text(dir: &std::path::Path) -> String {
    repool::rollout::journal::list(&dir.join("journal"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("")
}

/// Waits (bounded) until `condition` holds, checking every few milliseconds.
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The binary's exit code, stdout and stderr.
pub(crate) fn output(command: &mut std::process::Command) -> (i32, String, String) {
    let std::process::Output { status, stdout, stderr } = command.output().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

/// A pool's identity in the account: (creationTime, eTag), None when it does not exist.
pub(crate) fn pool_identity(sim: &RunningSim, id: &str) -> Option<(String, String)> {
    sim.with_world(|world, _| {
        world.find(id).map(|p| {
            (p.wire.creation_time.map(|t| t.to_string()).unwrap_or_default(), p.wire.e_tag.clone().unwrap_or_default())
        })
    })
}

/// Lines in every journal under `dir`.
pub(crate) fn journal_lines(dir: &std::path::Path) -> usize {
    repool::rollout::journal::list(&dir.join("journal"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default().lines().count())
        .sum()
}

/// Once `dir`'s journals reach `line` lines (and `extra` later, to land inside calls and waits
/// too), SIGKILLs `child` if it still runs; true when it was killed.
pub(crate) async fn kill_at_journal_line(
    child: &mut std::process::Child,
    dir: &std::path::Path,
    line: usize,
    extra: Duration,
    context: &str,
) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && journal_lines(dir) < line {
        assert!(std::time::Instant::now() < deadline, "{context}: the run neither progressed nor ended");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(extra).await;
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// A number from the environment (trials, seeds, sizes of the bounded random tests), else `default`.
pub(crate) fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small tmpfs mounted on a temporary directory (root only), unmounted when dropped: a disk
/// that fills up or turns read-only on demand. None, with the reason printed, where it cannot be.
pub(crate) struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub(crate) fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            println!("skipped: cannot mount a tmpfs here (needs root and mount rights)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn read_only(&self) {
        let status = std::process::Command::new("mount").args(["-o", "remount,ro"]).arg(self.path()).status();
        assert!(status.unwrap().success(), "remount read-only");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// `repool ARGS` in `dir` signed in with the simulator's account key `key`.
pub(crate) fn repool_with_key(dir: &std::path::Path, key: &str, args: &[&str]) -> (i32, String, String) {
    output(repool_command(dir).args(args).env("AZURE_BATCH_ACCESS_KEY", key))
}

/// Pool `id` as the simulator holds it now.
pub(crate) fn wire(sim: &RunningSim, id: &str) -> repool::batch::Pool {
    sim.with_world(|w, _| w.find(id).unwrap().wire.clone())
}

/// Pool `id`'s entry in a run's JSON report.
pub(crate) fn pool_report<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["pools"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()
}
