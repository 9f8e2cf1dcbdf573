//! The run flags of `recreate`, `apply` and `resume`, checked and laid over the configured policy.

use crate::cli::RunArgs;
use crate::config::Settings;
use crate::errors::BadInput;
use crate::rollout::step::Step;

/// `recreate`'s and `apply`'s policy flags over the configured policy (a flag beats config).
pub(super) fn apply_run_flags(settings: &mut Settings, args: &RunArgs) -> Result<(), BadInput> {
    if let Some(parallel) = args.parallel {
        if parallel == 0 {
            return Err(BadInput::new("--parallel must be at least 1"));
        }
        settings.policy.parallel = parallel;
    }
    apply_drain_policy(settings, args.on_drain_timeout.as_deref())?;
    if let Some(healthy) = policy_flag("--healthy", args.healthy.as_deref())? {
        settings.policy.healthy = healthy;
    }
    if let Some(canary) = args.canary {
        settings.policy.canary = canary;
    }
    if let Some(on_unhealthy) = policy_flag("--on-unhealthy", args.on_unhealthy.as_deref())? {
        settings.policy.on_unhealthy = on_unhealthy;
    }
    apply_max_unavailable(settings, args.max_unavailable)?;
    settings.policy.probe |= args.probe;
    if let Some(n) = args.max_unavailable_nodes {
        settings.policy.max_unavailable_nodes = Some(at_least_one("--max-unavailable-nodes", n)?);
    }
    settings.policy.roll &= !args.no_roll;
    Ok(())
}

/// `--max-unavailable N`: how many pools may lack their capacity (or roll their nodes) at once.
pub(super) fn apply_max_unavailable(settings: &mut Settings, flag: Option<usize>) -> Result<(), BadInput> {
    if let Some(max) = flag {
        if max == 0 {
            return Err(BadInput::new("--max-unavailable must be at least 1"));
        }
        settings.policy.max_unavailable = Some(max);
    }
    Ok(())
}

/// A count flag that must be at least 1 (0 would stall the run or mean nothing).
pub(super) fn at_least_one(flag: &str, n: u32) -> Result<u32, BadInput> {
    match n {
        0 => Err(BadInput::new(format!(
            "{flag} must be at least 1: it is how many of a pool's nodes the run may take out or add at once"
        ))),
        n => Ok(n),
    }
}

pub(super) fn apply_drain_policy(settings: &mut Settings, flag: Option<&str>) -> Result<(), BadInput> {
    if let Some(on_timeout) = policy_flag("--on-drain-timeout", flag)? {
        settings.policy.on_drain_timeout = on_timeout;
    }
    Ok(())
}

/// A policy flag's value, parsed; a bad one is refused naming the flag.
fn policy_flag<T: std::str::FromStr<Err = String>>(name: &str, value: Option<&str>) -> Result<Option<T>, BadInput> {
    value.map(|v| v.parse().map_err(|e: String| BadInput::new(format!("{name}: {e}")))).transpose()
}

pub(super) fn parse_until(flag: Option<&str>) -> Result<Option<Step>, BadInput> {
    flag.map(Step::parse).transpose().map_err(|e| BadInput::new(format!("--until: {e}")))
}
