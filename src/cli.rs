//! The command line: the contract scripts and tests rely on (docs/ARCHITECTURE.md).

use crate::batch::AuthMethod;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "repool",
    version,
    about = "Recreate Azure Batch pools without killing running work",
    long_about = "Recreate Azure Batch pools without killing running work.\n\n\
        With no command, opens the live dashboard of the configured account. Each recreation first \
        proves the service will take the new pool and backs up the pool as it is, then drains it \
        (resize to 0 with taskcompletion), deletes it, creates it again from the pool definition file \
        and waits until its nodes are healthy. Every step is journaled: `repool resume` continues \
        after a crash.\n\nTry it with no Azure account: `repool demo`.",
    after_help = "Exit codes: 0 done, 1 a pool failed, 2 bad input or configuration (nothing changed), \
        3 interrupted (resume possible), 4 plan: changes pending, 130 cancelled."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes, listed under their own heading so each command's own stand out.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file [env: REPOOL_CONFIG] (default: see `repool info`)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Account profile from the config file ([accounts.NAME]); for `sim`, the simulated account's name
    #[arg(long, global = true, value_name = "NAME")]
    pub account: Option<String>,
    /// Pool definition file (.json or .j2 template)
    #[arg(long, global = true, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Batch account URL [env: AZURE_BATCH_ENDPOINT]
    #[arg(long, global = true, value_name = "URL")]
    pub account_url: Option<String>,
    /// Batch account name [env: AZURE_BATCH_ACCOUNT]
    #[arg(long, global = true, value_name = "NAME")]
    pub account_name: Option<String>,
    /// How to sign in
    #[arg(long, global = true, value_enum)]
    pub auth: Option<AuthMethod>,
    /// Batch REST api-version (default 2025-06-01; older ones such as 2024-07-01.20.0 and newer ones such as 2026-10-01 work too)
    #[arg(long, global = true, value_name = "VERSION")]
    pub api_version: Option<String>,
    /// Never change anything: every mutating command and key is disabled
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Template variable for .j2 definitions (repeatable)
    #[arg(long = "var", global = true, value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Log level or filter, e.g. debug or repool=trace [env: REPOOL_LOG]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dashboard on a simulated account: no Azure, no set-up
    Demo(DemoArgs),
    /// Run the simulated Batch account as an HTTP server on loopback
    Sim(SimArgs),
    /// List the account's pools once
    Pools {
        /// One JSON object per pool, as the service returns it
        #[arg(long)]
        json: bool,
    },
    /// List one pool's nodes: state, scheduling, running tasks, start task result, errors
    Nodes {
        /// The pool's id
        #[arg(long = "pool", value_name = "ID")]
        pool: String,
        /// One JSON object per node (the same summary)
        #[arg(long)]
        json: bool,
    },
    /// List the jobs that run on one pool, with their task counts
    Jobs {
        /// The pool's id
        #[arg(long = "pool", value_name = "ID")]
        pool: String,
        /// One JSON object per job (id, state, pool, task counts)
        #[arg(long)]
        json: bool,
    },
    /// Check the pool definition file: syntax, schema, Batch's rules
    Validate,
    /// Show what recreation would change: definition vs live pools (exit 4: changes pending)
    Plan {
        /// Pool id (repeatable); default: every pool in the definition
        #[arg(long = "pool", value_name = "ID")]
        pools: Vec<String>,
        /// Every pool in the definition
        #[arg(long)]
        all: bool,
        /// The plan as one JSON object on stdout (per pool: action, why, each change)
        #[arg(long)]
        json: bool,
    },
    /// Write a pool definition for the account's pools as they are (start here with existing pools)
    Export {
        /// Pool id (repeatable); default: every pool in the account
        #[arg(long = "pool", value_name = "ID")]
        pools: Vec<String>,
        /// Every pool in the account (the default)
        #[arg(long)]
        all: bool,
        /// Write to FILE (private to you) instead of stdout; a definition with secret
        /// placeholders must end in .j2
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Recreate pools: back up, drain, delete, create, wait until healthy
    Recreate(RunArgs),
    /// Bring pools to their definition the least disruptive way: in place, rolled (a start task or package
    /// change: PATCH, then every node rebooted a batch at a time), rebuilt when empty (drain, PATCH, scale
    /// back: the pool keeps its id and identity), or recreated only when nothing else can
    Apply(RunArgs),
    /// Bring pools' failed nodes back to healthy without touching the pools: reboot nodes whose start
    /// task failed (it runs again, the pool's current one), remove unusable nodes and nodes still
    /// failing after a reboot and size the pool back, a few nodes at a time
    Heal(HealArgs),
    /// Fresh nodes without taking the pools' capacity away: every node replaced (removed with
    /// taskcompletion, the pool sized back) a batch at a time; the pools themselves are not changed
    Refresh(RefreshArgs),
    /// Continue an unfinished run (this account's newest by default)
    Resume(ResumeArgs),
    /// List this account's runs: state, pools, where each stopped
    Runs {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Close an unfinished run without touching its pools (a refresh first gives its pools their autoscale formula or targets back)
    Abandon {
        /// Run id (see `repool runs`)
        run_id: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Create a missing pool again as it was before the run that changed it (or from a backup file)
    Restore {
        /// The pool: restored from the pre-run backup of the newest run that touched it
        #[arg(
            long = "pool",
            value_name = "ID",
            conflicts_with = "backup_file",
            required_unless_present = "backup_file"
        )]
        pool: Option<String>,
        /// A backup file (backups/<account>/<pool>/<utc>-pre-run.json)
        backup_file: Option<PathBuf>,
        /// A secret the service never returns, read from an environment variable:
        /// PATH=ENV_VAR, e.g. virtualMachineConfiguration.containerConfiguration.containerRegistries[0].password=REG_PW
        #[arg(long = "secret", value_name = "PATH=ENV_VAR")]
        secrets: Vec<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Print the config, data, journal, backup and log paths
    Info,
    /// Print shell completions
    Completions {
        /// The shell to complete for (bash, zsh, fish, elvish, powershell)
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Extra generated pools besides the demo account's dozen
    #[arg(long, default_value_t = 0)]
    pub pools: usize,
    /// Simulated seconds per real second
    #[arg(long, default_value_t = 30.0)]
    pub speed: f64,
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Account key (base64); default: a fresh random key
    #[arg(long)]
    pub key: Option<String>,
    /// Seed pools: a directory of *.json pools or one JSON file; `demo` for the built-in account
    #[arg(long, value_name = "DIR|FILE")]
    pub seed: Option<String>,
    /// Simulated seconds per real second
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Faults, e.g. "503=0.1,429=0.05,timeout=0.02,drop=0.02,latency=200ms,alloc=0.1"
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Seed of the random numbers behind faults and timings
    #[arg(long, default_value_t = 1)]
    pub seed_rng: u64,
    /// Accept any bearer token as well as Shared Key
    #[arg(long)]
    pub allow_bearer: bool,
    /// Serve HTTPS (a CA of its own, written to --tls-dir) and an Entra ID token endpoint whose tokens
    /// the account accepts: for SDKs that send bearer tokens only over TLS
    #[arg(long)]
    pub tls: bool,
    /// Where --tls keeps its CA (ca.pem to trust, ca-key.pem); default: sim-tls in the data directory
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub tls_dir: Option<std::path::PathBuf>,
    /// Extra generated pools (gen-0001…), for trying repool at scale
    #[arg(long, default_value_t = 0)]
    pub pools: usize,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Pool id (repeatable)
    #[arg(long = "pool", value_name = "ID")]
    pub pools: Vec<String>,
    /// Every pool in the definition
    #[arg(long)]
    pub all: bool,
    /// Only the chosen pools whose plan shows changes (with --all: every pool that differs)
    #[arg(long)]
    pub changed: bool,
    /// Do not ask; required when stdin is not a terminal
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and every call it would make; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Pools recreated at once
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Print the final report as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Stop after this step: disable-autoscale, stop-resize, wait-steady, resize-to-zero,
    /// wait-drained (or drain), backup, delete, wait-gone, create, wait-ready, wait-healthy; apply's
    /// rebuild and in-place changes have patch and scale instead of delete, wait-gone and create
    #[arg(long, value_name = "STEP")]
    pub until: Option<String>,
    /// What to do when draining times out: wait, fail (default) or force
    #[arg(long, value_name = "POLICY")]
    pub on_drain_timeout: Option<String>,
    /// How many of a new pool's nodes must pass the health gate: all (default), a count, or a share (80%)
    #[arg(long, value_name = "all|N|P%")]
    pub healthy: Option<String>,
    /// The first N pools go all the way to healthy before the others start; if one does not, the
    /// others are left untouched
    #[arg(long, value_name = "N")]
    pub canary: Option<usize>,
    /// A new pool that fails its health gate (or a create the service refuses): stop (default) or
    /// rollback (delete it and create the pool again from its pre-run backup)
    #[arg(long, value_name = "stop|rollback")]
    pub on_unhealthy: Option<String>,
    /// At most N pools without their capacity at once (between the resize to 0 and healthy; a
    /// roll: while it takes nodes out); the others wait, untouched
    #[arg(long, value_name = "N")]
    pub max_unavailable: Option<usize>,
    /// Before the run, let the service validate each new pool: create it under a throwaway id
    /// with 0 nodes, then delete it (journaled, cleaned up after a crash)
    #[arg(long)]
    pub probe: bool,
    /// Recreate even though the new pool lacks this property of the live pool (repeatable),
    /// e.g. identity or metadata; preflight names each one
    #[arg(long = "accept-loss", value_name = "PATH")]
    pub accept_loss: Vec<String>,
    /// apply: at most N nodes of a pool rebooted at once when its start task or packages change
    /// (default: a tenth of its target, at least 1)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_unavailable_nodes: Option<u32>,
    /// apply: a start task or package change is patched only, no node rebooted (existing nodes keep
    /// the old start task until they restart)
    #[arg(long)]
    pub no_roll: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HealArgs {
    /// Pool id (repeatable)
    #[arg(long = "pool", value_name = "ID")]
    pub pools: Vec<String>,
    /// Do not ask; required when stdin is not a terminal
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout (per pool: what was done to each node)
    #[arg(long)]
    pub json: bool,
    /// At most N nodes of a pool acted on at once (default: a tenth of its target, at least 1)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_unavailable_nodes: Option<u32>,
}

#[derive(Debug, Args, Clone)]
pub struct RefreshArgs {
    /// Pool id (repeatable)
    #[arg(long = "pool", value_name = "ID", required_unless_present = "all")]
    pub pools: Vec<String>,
    /// Every pool in the account
    #[arg(long, conflicts_with = "pools")]
    pub all: bool,
    /// Do not ask; required when stdin is not a terminal
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout (per pool: what was done to each node)
    #[arg(long)]
    pub json: bool,
    /// At most N nodes of a pool replaced at once (default: a tenth of its target, at least 1)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_unavailable_nodes: Option<u32>,
    /// First raise each pool's target by N nodes (when the quota allows), then replace N old nodes
    /// at a time (fewer with --max-unavailable-nodes), so the pool never drops below its target;
    /// the surge goes with the last old nodes
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub surge: Option<u32>,
    /// The first N pools are refreshed all the way before the others start
    #[arg(long, value_name = "N")]
    pub canary: Option<usize>,
    /// At most N pools have nodes taken out at once; the others wait, untouched
    #[arg(long, value_name = "N")]
    pub max_unavailable: Option<usize>,
}

#[derive(Debug, Args, Clone)]
pub struct ResumeArgs {
    /// Run id (see `repool runs`); default: this account's newest unfinished run
    pub run_id: Option<String>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Stop after this step: disable-autoscale, stop-resize, wait-steady, resize-to-zero,
    /// wait-drained, backup, delete, wait-gone, create, wait-ready, wait-healthy (patch, scale for apply)
    #[arg(long, value_name = "STEP")]
    pub until: Option<String>,
    /// What to do when draining times out: wait, fail (default) or force
    #[arg(long, value_name = "POLICY")]
    pub on_drain_timeout: Option<String>,
    /// When the definition differs from what the run recorded: create from `journal` (what was
    /// validated when the run started) or `definition` (the file in use)
    #[arg(long, value_name = "SOURCE")]
    pub create_from: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `--help` is the reference an operator in a hurry reads: nothing in it goes undescribed.
    #[test]
    fn every_command_option_and_argument_is_described() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                check(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        check(&super::Cli::command(), "repool", &mut missing);
        assert!(missing.is_empty(), "undescribed: {missing:?}");
        let mut cli = super::Cli::command();
        cli.build();
        let help = cli.find_subcommand_mut("plan").unwrap().render_long_help().to_string();
        let (own, global) = help.split_once("Global options:").expect("global options under their own heading");
        assert!(own.contains("--json") && !own.contains("--api-version") && global.contains("--api-version"), "{help}");
    }
}
