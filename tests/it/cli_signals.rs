//! The real binary under signals: SIGINT, SIGTERM and SIGHUP at any instant of a recreation end
//! with the documented exit code and JSON, and a run stopped so resumes.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

/// `recreate --json` with `signal` (TERM, HUP, INT) sent once `ready` holds and `delay` later: the
/// exit code, stdout and stderr. Waits for the logs folder first: from then on repool catches signals.
fn recreate_signalled(
    dir: &std::path::Path,
    key: &str,
    signal: &str,
    ready: impl Fn() -> bool,
    delay: std::time::Duration,
) -> (i32, String, String) {
    let child = common::repool_command(dir)
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
                        common::repool_command(dir.path())
                            .args(["resume", "--yes"])
                            .env("AZURE_BATCH_ACCESS_KEY", &key),
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
    let mut child = common::repool_command(dir.path())
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
    let (code, _, err) = common::output(
        common::repool_command(dir.path()).args(["resume", "--yes", "--json"]).env("AZURE_BATCH_ACCESS_KEY", &key),
    );
    assert_eq!(code, 0, "{err}");
}
