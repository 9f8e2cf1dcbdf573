//! Model-based: seeded random sequences of what operators do — start runs (whole or `--until` a
//! step), resume (with the run's own, an edited or another definition, choosing or not), kill -9
//! at random instants, abandon, restore, recreate from the dashboard, a second run under another
//! spelling of the account, a second operator replacing a pool with one of its own under the same
//! id, heal a pool whose nodes failed (their start task, or unusable; killed and resumed too),
//! roll a busy pool's nodes (a start task change) or refresh them (killed, resumed, abandoned) —
//! through the real binary against the simulator, now and then with list answers that leave
//! pools out and changes whose answers are lost. After every action the invariants of "never lose
//! a pool, never take one" are checked (and every pool a run reports done is at its targets and
//! was made or changed by that run; a healed pool is the same pool with the targets and formula
//! its heal found; a rolled or refreshed pool likewise, never deleted, no task cut short, its
//! capacity never below target − max-unavailable-nodes); at the end every pool is brought back.
//!
//! REPOOL_MODEL_SEQUENCES (default 1) sequences of REPOOL_MODEL_ACTIONS (default 24) actions each,
//! from REPOOL_MODEL_SEED; every seed in tests/model-seeds.txt (seeds that once found a bug) runs too.

use crate::common;

use common::terminal::Terminal;
use common::{output, repool_command};
use repool::batch::models::NodeState;
use repool::rollout::journal::{self, RunState};
use repool::rollout::report::PoolStatus;
use repool::rollout::strategy::Strategy;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::env_number;

mod dashboard;
mod heal;
mod roll;

const STEPS: [&str; 11] = [
    "disable-autoscale",
    "stop-resize",
    "wait-steady",
    "resize-to-zero",
    "wait-drained",
    "backup",
    "delete",
    "wait-gone",
    "create",
    "wait-ready",
    "wait-healthy",
];

/// The definitions an operator has: the configured one (edited now and then, in place) and
/// another that defines web-scrape but not p-ingest.
struct Files {
    configured: PathBuf,
    other: PathBuf,
}

struct Model {
    sim: repool::sim::RunningSim,
    dir: tempfile::TempDir,
    key: String,
    files: Files,
    /// (creationTime, eTag) of every pool before anything ran.
    initial: BTreeMap<String, (String, String)>,
    /// Pools some action named: the operator's selection, ever.
    selected: BTreeSet<String>,
    rng: fastrand::Rng,
    /// Whether and how to heal before each action: a stream of its own, so the actions a seed
    /// draws are the ones it drew before heal was in the model.
    heal_rng: fastrand::Rng,
    /// Whether and how to roll or refresh before each action: a stream of its own, like heal's.
    roll_rng: fastrand::Rng,
    rolls: roll::RollTally,
    /// Start tasks the roll action wrote so far (each roll brings a new one).
    start_tasks: u32,
    log: Vec<String>,
    edits: u32,
    /// Pools a second operator put under our ids: (creationTime, eTag) and when.
    foreign: BTreeMap<String, ((String, String), jiff::Timestamp)>,
}

fn write_definition(path: &Path, edits: &serde_json::Value) {
    let mut body: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    for (id, pool) in edits.as_object().unwrap() {
        body[id] = repool::definition::merge(&body[id], pool);
    }
    std::fs::write(path, serde_json::to_string_pretty(&body).unwrap()).unwrap();
}

impl Model {
    async fn new(seed: u64) -> Model {
        let (sim, dir) = common::fast_demo_with_config().await;
        let key = sim.key().to_string();
        let files = Files { configured: dir.path().join("pools.json"), other: dir.path().join("other.json") };
        write_definition(&files.configured, &serde_json::json!({}));
        let mut other: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
        other.as_object_mut().unwrap().remove("p-ingest");
        other["web-scrape"] = serde_json::json!({"targetDedicatedNodes": 1});
        std::fs::write(&files.other, serde_json::to_string_pretty(&other).unwrap()).unwrap();
        // The configured definition is the one the model edits.
        let config = dir.path().join("repool/config.toml");
        let example = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&config).unwrap().replace(&example, &files.configured.display().to_string());
        std::fs::write(&config, text).unwrap();
        let ids: Vec<String> = sim.with_world(|w, _| w.pools.values().map(|p| p.wire.id().to_string()).collect());
        let initial = ids.iter().map(|id| (id.to_lowercase(), common::pool_identity(&sim, id).unwrap())).collect();
        Model {
            sim,
            dir,
            key,
            files,
            initial,
            selected: BTreeSet::new(),
            rng: fastrand::Rng::with_seed(seed),
            heal_rng: fastrand::Rng::with_seed(seed ^ 0x4ea1),
            roll_rng: fastrand::Rng::with_seed(seed ^ 0x5011),
            rolls: roll::RollTally::default(),
            start_tasks: 0,
            log: Vec::new(),
            edits: 0,
            foreign: BTreeMap::new(),
        }
    }

    fn command(&self, args: &[String]) -> std::process::Command {
        let mut command = repool_command(self.dir.path());
        command.args(args).env("AZURE_BATCH_ACCESS_KEY", &self.key).env("REG_PW", "model-registry-password");
        command
    }

    fn runs(&self) -> Vec<RunState> {
        journal::list(&self.dir.path().join("journal")).iter().filter_map(|p| journal::read(p).ok()).collect()
    }

    fn unfinished(&self) -> Vec<RunState> {
        self.runs().into_iter().filter(|r| !r.is_closed() && !r.pending().is_empty()).collect()
    }

    fn journal_lines(&self) -> usize {
        common::journal_text(self.dir.path()).lines().count()
    }

    /// Runs the binary; an exit 2 (bad input, refused) must have changed nothing.
    fn run(&mut self, what: &str, args: Vec<String>) -> (i32, String) {
        let before = common::mutating_calls(&self.sim);
        let (code, out, err) = output(&mut self.command(&args));
        let mutated = common::mutating_calls(&self.sim) - before;
        let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("").to_string();
        self.log.push(format!("{what}: {args:?} → exit {code} {first}"));
        assert!(code != 2 || mutated == 0, "{}\nexit 2 but {mutated} mutating call(s):\n{err}", self.history());
        assert!([0, 1, 2].contains(&code), "{}\nunexpected exit {code}:\n{err}", self.history());
        if args.iter().any(|a| a == "--json") {
            self.check_report(&out, &err);
        }
        (code, err)
    }

    /// A pool a run reports done is at its targets with healthy nodes, and was made (recreated:
    /// a newer creation time) or changed (updated: the same creation time) by that run; a healed
    /// or refreshed pool has the targets (or formula) it had when its run began.
    fn check_report(&self, out: &str, err: &str) {
        let Ok(report) = serde_json::from_str::<serde_json::Value>(out) else { return };
        for pool in report["pools"].as_array().into_iter().flatten() {
            let (id, status) = (pool["id"].as_str().unwrap_or("?"), pool["status"].as_str().unwrap_or("?"));
            let context = format!("{}\n{id} reported {status}: {pool:#}\n{err}", self.history());
            if ["healed", "refreshed"].contains(&status) {
                self.check_kept(report["runId"].as_str().unwrap_or("?"), id, &context);
            }
            if !["recreated", "updated", "healed", "refreshed"].contains(&status) {
                continue;
            }
            let (target, healthy) = (pool["target"].as_u64(), pool["healthy"].as_u64());
            assert!(target.is_some() && healthy >= target, "{context}\nnot at its targets");
            let (old, new) = (pool["oldCreationTime"].as_str(), pool["newCreationTime"].as_str());
            match status {
                "recreated" => assert!(new.is_some() && new != old, "{context}\nnot a pool this run made"),
                _ => assert!(old.is_none() || new == old, "{context}\nnot the pool the run started with"),
            }
        }
    }

    /// A second operator deletes one of our pools and creates another under its id at once.
    fn replace_by_someone_else(&mut self) {
        let id = ["p-render", "p-ingest"][self.rng.usize(..2)];
        if self.gone(id) {
            return;
        }
        self.sim.replace_pool(common::pool_body(id, 1)).unwrap();
        let identity = common::pool_identity(&self.sim, id).unwrap();
        self.initial.insert(id.to_lowercase(), identity.clone());
        self.foreign.insert(id.to_lowercase(), (identity, jiff::Timestamp::now()));
        self.log.push(format!("a second operator replaced {id} with a pool of its own"));
    }

    /// Now and then the next run meets list answers that leave pools out and changes whose
    /// answers are lost.
    fn flaky_network(&mut self) -> bool {
        let spec = match self.rng.usize(..6) {
            0 => "omit=0.3",
            1 => "lost=0.15",
            2 => "omit=0.2,lost=0.1",
            _ => return false,
        };
        self.sim.set_faults(repool::sim::faults::Faults::parse(spec).unwrap());
        self.log.push(format!("the network: {spec}"));
        true
    }

    /// Runs the binary and SIGKILLs it once the journal grew by a random number of lines.
    async fn run_killed(&mut self, what: &str, args: Vec<String>) {
        let grow = self.rng.usize(1..20);
        let extra = Duration::from_millis(self.rng.u64(0..20));
        self.run_killed_at(what, args, grow, extra).await;
    }

    /// Runs the binary and SIGKILLs it `extra` after the journal grew by `grow` lines.
    async fn run_killed_at(&mut self, what: &str, args: Vec<String>, grow: usize, extra: Duration) {
        let start = self.journal_lines();
        let mut child = self.command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if self.journal_lines() >= start + grow {
                tokio::time::sleep(extra).await;
                break child.try_wait().unwrap().is_none();
            }
            assert!(Instant::now() < deadline, "{}\n{what} neither progressed nor ended", self.history());
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if killed {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        self.log.push(format!("{what} (SIGKILL after {grow} journal lines + {extra:?}): {args:?} → {status}"));
    }

    fn history(&self) -> String {
        format!("actions so far:\n  {}", self.log.join("\n  "))
    }

    fn pick_pools(&mut self) -> (Vec<String>, Option<PathBuf>) {
        let choices: [(&[&str], bool); 4] = [
            (&["p-render"], false),
            (&["p-ingest"], false),
            (&["p-render", "p-ingest"], false),
            (&["web-scrape"], true),
        ];
        let (ids, other) = choices[self.rng.usize(..choices.len())];
        for id in ids {
            self.selected.insert(id.to_string());
        }
        (ids.iter().map(|s| s.to_string()).collect(), other.then(|| self.files.other.clone()))
    }

    /// `recreate` or `apply` (which rebuilds the example's pools in place, or changes them in place).
    fn recreate_args(&mut self) -> Vec<String> {
        let (ids, other) = self.pick_pools();
        let command = if self.rng.bool() { "recreate" } else { "apply" };
        let mut args = vec![command.to_string(), "--yes".into()];
        for id in ids {
            args.extend(["--pool".into(), id]);
        }
        if self.rng.bool() {
            args.extend(["--until".into(), STEPS[self.rng.usize(..STEPS.len())].into()]);
        }
        if let Some(other) = other {
            args.extend(["--definition".into(), other.display().to_string()]);
        }
        args
    }

    fn resume_args(&mut self) -> Option<Vec<String>> {
        let runs = self.unfinished();
        if runs.is_empty() {
            return None;
        }
        let run = runs[self.rng.usize(..runs.len())].clone();
        for t in &run.targets {
            self.selected.insert(t.pool.clone());
        }
        let mut args = vec!["resume".to_string(), run.run.clone(), "--yes".into()];
        match self.rng.usize(..3) {
            0 => {}
            1 => args.extend(["--definition".into(), self.files.other.display().to_string()]),
            _ => args.extend(["--definition".into(), run.definition.clone()]),
        }
        match self.rng.usize(..3) {
            0 => {}
            1 => args.extend(["--create-from".into(), "journal".into()]),
            _ => args.extend(["--create-from".into(), "definition".into()]),
        }
        if self.rng.usize(..4) == 0 {
            args.extend(["--until".into(), STEPS[self.rng.usize(..STEPS.len())].into()]);
        }
        Some(args)
    }

    /// `restore --pool ID`, supplying the secrets it names, as an operator would; then the pool
    /// must be as it was before the run that backed it up.
    fn restore(&mut self, id: &str) {
        let mut args = vec!["restore".to_string(), "--pool".into(), id.into(), "--yes".into()];
        let (mut code, mut err) = self.run("restore", args.clone());
        if code == 2 && err.contains("--secret ") {
            for line in err.lines().filter_map(|l| l.trim().strip_prefix("--secret ")) {
                let path = line.trim_end_matches("=ENV_VAR");
                args.extend(["--secret".into(), format!("{path}=REG_PW")]);
            }
            (code, err) = self.run("restore with the secrets it named", args);
        }
        if code == 0 {
            // "restoring 'ID' as it was before run RUN: PATH"
            let line = err.lines().find(|l| l.starts_with("restoring")).expect("restore names its backup");
            let backup = line.rsplit_once(": ").unwrap().1;
            assert!(backup.ends_with("-pre-run.json"), "{}\n{line}", self.history());
            // It is the pre-run backup of the newest run that touched the pool.
            let newest = self
                .runs()
                .into_iter()
                .filter(|r| {
                    r.per_pool.keys().any(|p| p.eq_ignore_ascii_case(id))
                        && r.target(id).is_some_and(|t| t.backup.is_some())
                })
                .max_by_key(|r| r.started)
                .unwrap();
            assert_eq!(newest.target(id).unwrap().backup.as_deref(), Some(backup), "{}", self.history());
            let before: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(backup).unwrap()).unwrap();
            let now = self.sim.with_world(|w, _| serde_json::to_value(&w.find(id).unwrap().wire).unwrap());
            for property in ["enableAutoScale", "autoScaleFormula", "vmSize", "taskSlotsPerNode"] {
                assert_eq!(now.get(property), before.get(property), "{}\nrestored {id}.{property}", self.history());
            }
            if before["enableAutoScale"] != true {
                assert_eq!(now["targetDedicatedNodes"], before["targetDedicatedNodes"], "{}", self.history());
            }
        }
    }

    /// The configured definition, edited in place (the file a run recorded changes under it).
    fn edit(&mut self) {
        self.edits += 1;
        let edits = match self.edits % 3 {
            0 => serde_json::json!({}),
            1 => serde_json::json!({"p-render": {"vmSize": "standard_d16s_v3"}}),
            _ => serde_json::json!({"p-ingest": {"targetDedicatedNodes": 1}}),
        };
        write_definition(&self.files.configured, &edits);
        self.log.push(format!("edit the configured definition: {edits}"));
    }

    /// A second operator with another spelling of the account while a run holds the lock.
    fn second_spelling(&mut self) {
        let account = repool::rollout::account::AccountId::from_endpoint(&url::Url::parse(&self.sim.url).unwrap());
        let held = repool::rollout::lock::RunLock::acquire(&self.dir.path().join("locks"), &account, "held-by-model");
        let Ok(_held) = held else { return };
        let spelled = format!("{}/", self.sim.url.replace("http://", "HTTP://").replace("127.0.0.1", "127.0.0.1."));
        let before = common::mutating_calls(&self.sim);
        let (code, _, err) = output(
            self.command(&["recreate".into(), "--pool".into(), "p-render".into(), "--yes".into()])
                .args(["--account-url", &spelled])
                .env("AZURE_BATCH_ACCOUNT", self.sim.account().to_uppercase()),
        );
        self.log.push(format!("second spelling {spelled} while locked → exit {code}"));
        assert_eq!(code, 2, "{}\n{err}", self.history());
        assert!(err.contains("held-by-model"), "{}\n{err}", self.history());
        assert_eq!(common::mutating_calls(&self.sim), before);
    }

    async fn step(&mut self) {
        let flaky = self.flaky_network();
        self.act().await;
        if flaky {
            self.sim.set_faults(repool::sim::faults::Faults::default());
        }
    }

    async fn act(&mut self) {
        if self.heal_rng.usize(..4) == 0 {
            self.heal().await;
            self.check();
        }
        if self.roll_rng.usize(..6) == 0 {
            self.roll().await;
            self.check();
        }
        match self.rng.usize(..21) {
            0..=4 => {
                let mut args = self.recreate_args();
                args.push("--json".into());
                self.run("new run", args);
            }
            5..=7 => {
                let args = self.recreate_args();
                self.run_killed("new run", args).await;
            }
            8..=10 => {
                if let Some(mut args) = self.resume_args() {
                    args.push("--json".into());
                    self.run("resume", args);
                }
            }
            11..=12 => {
                if let Some(args) = self.resume_args() {
                    self.run_killed("resume", args).await;
                }
            }
            13 => {
                let runs = self.unfinished();
                if !runs.is_empty() {
                    let run = runs[self.rng.usize(..runs.len())].run.clone();
                    self.run("abandon", vec!["abandon".into(), run, "--yes".into()]);
                }
            }
            14 => {
                let gone: Vec<String> = self.selected.iter().filter(|id| self.gone(id)).cloned().collect();
                if !gone.is_empty() {
                    let id = gone[self.rng.usize(..gone.len())].clone();
                    self.restore(&id);
                }
            }
            15 => self.edit(),
            16 => self.second_spelling(),
            17 => self.replace_by_someone_else(),
            _ => self.dashboard(),
        }
    }

    /// Missing from the account, or being deleted.
    fn gone(&self, id: &str) -> bool {
        self.sim.with_world(|w, _| {
            w.find(id).is_none_or(|p| p.wire.state.as_ref().is_some_and(|s| s.as_str() == "deleting"))
        })
    }

    fn check(&self) {
        let runs = self.runs();
        let context = self.history();
        // Every pool answers in the service's spelling, whichever operation last set a value.
        for pool in self.sim.with_world(|w, _| w.pools.values().map(|p| p.to_wire("")).collect::<Vec<_>>()) {
            let mut spelled = pool.clone();
            repool::batch::case::normalize(&mut spelled);
            assert_eq!(
                pool, spelled,
                "{context}
a pool is not in the service's spelling"
            );
        }
        for (id, before) in &self.initial {
            let now = common::pool_identity(&self.sim, id);
            if !self.selected.iter().any(|s| s.eq_ignore_ascii_case(id)) {
                assert_eq!(now.as_ref(), Some(before), "{context}\n{id} was never selected, yet it changed");
                continue;
            }
            let recreated_or_gone = now.as_ref().is_none_or(|(created, _)| *created != before.0) || self.gone(id);
            if recreated_or_gone {
                let evidence = runs.iter().any(|r| {
                    // Heal, roll and refresh never delete a pool.
                    !matches!(r.pool(id).strategy, Strategy::Heal | Strategy::Roll | Strategy::Refresh)
                        && r.target(id).is_some_and(|t| {
                            t.body.is_object() && t.backup.as_ref().is_some_and(|b| Path::new(b).exists())
                        })
                });
                assert!(evidence, "{context}\n{id} was deleted without a recorded body and pre-run backup");
            }
            if self.gone(id) {
                let reported = runs.iter().any(|r| r.target(id).is_some() && r.pool(id).is_between_delete_and_create());
                assert!(reported, "{context}\n{id} is gone and no run reports it deleted-not-recreated");
            }
        }
        let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for run in runs.iter().filter(|r| !r.is_closed()) {
            for pool in run.held_pools() {
                holders.entry(pool.to_lowercase()).or_default().push(run.run.clone());
            }
        }
        for (pool, held_by) in holders {
            assert!(held_by.len() == 1, "{context}\n{pool} is held by several unfinished runs: {held_by:?}");
        }
        // Someone else's pool is touched only by a run started after it appeared (one that the
        // operator started on the account as it then was).
        for (id, (identity, at)) in &self.foreign {
            if common::pool_identity(&self.sim, id).as_ref() != Some(identity) {
                let later = runs.iter().any(|r| r.started.is_some_and(|s| s > *at) && r.target(id).is_some());
                assert!(later, "{context}\n{id}, created by someone else, was changed by a run from before it");
            }
        }
    }

    /// At the end an operator brings everything back: resume what can be resumed, restore the rest.
    fn recover(&mut self) {
        for _ in 0..6 {
            let runs = self.unfinished();
            if runs.is_empty() {
                break;
            }
            for run in runs {
                let mut args =
                    vec!["resume".into(), run.run.clone(), "--yes".into(), "--create-from".into(), "journal".into()];
                if run.targets.iter().any(|t| matches!(run.pool(&t.pool).strategy, Strategy::Heal | Strategy::Refresh))
                {
                    args.push("--json".into());
                }
                if self.run("recover: resume", args).0 != 0 {
                    self.run("recover: abandon", vec!["abandon".into(), run.run.clone(), "--yes".into()]);
                }
            }
        }
        for id in self.selected.clone() {
            if self.gone(&id) {
                common::wait_until("a deleting pool is gone", || self.sim.with_world(|w, _| w.find(&id).is_none()));
                self.restore(&id);
            }
        }
        for id in self.initial.keys() {
            assert!(!self.gone(id), "{}\n{id} could not be brought back", self.history());
        }
        // No run holds a pool now: a pool with failed nodes left is healed, to the end.
        for id in ["p-render", "p-ingest"] {
            let failed = self.sim.with_world(|w, now| {
                let pool = w.find(id).unwrap();
                pool.visible_nodes(now)
                    .any(|n| matches!(pool.node_state(n, now), NodeState::StartTaskFailed | NodeState::Unusable))
            });
            if failed {
                let args = vec!["heal".into(), "--pool".into(), id.into(), "--yes".into(), "--json".into()];
                let (code, err) = self.run("recover: heal", args);
                assert_eq!(code, 0, "{}\n{id} was not healed:\n{err}", self.history());
            }
        }
    }
}

/// One seeded sequence; returns the roll actions it drew.
async fn sequence(seed: u64, actions: u64) -> roll::RollTally {
    let mut model = Model::new(seed).await;
    model.log.push(format!("seed {seed}"));
    for _ in 0..actions {
        model.step().await;
        model.check();
    }
    model.recover();
    model.check();
    println!("{}", model.history());
    model.rolls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operator_actions_never_lose_a_pool() {
    let sequences = env_number("REPOOL_MODEL_SEQUENCES", 1);
    let actions = env_number("REPOOL_MODEL_ACTIONS", 24);
    let seed = env_number("REPOOL_MODEL_SEED", 20261201);
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/model-seeds.txt")).unwrap();
    let kept = corpus.lines().filter_map(|l| l.split('#').next()?.trim().parse::<u64>().ok());
    let mut rolls = roll::RollTally::default();
    for seed in kept.chain((0..sequences).map(|n| seed + n)) {
        rolls.add(sequence(seed, actions).await);
    }
    println!("roll actions: {rolls:?}");
}
