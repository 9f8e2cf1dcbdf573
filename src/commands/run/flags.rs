//! The run flags of `recreate`, `apply` and `resume`, checked and laid over the configured policy.

use crate::cli::RecreateArgs;
use crate::config::Settings;
use crate::errors::BadInput;
use crate::recreate::step::Step;

/// `recreate`'s and `apply`'s policy flags over the configured policy (a flag beats config).
pub(super) fn apply_run_flags(settings: &mut Settings, args: &RecreateArgs) -> Result<(), BadInput> {
    if let Some(parallel) = args.parallel {
        if parallel == 0 {
            return Err(BadInput::new("--parallel must be at least 1"));
        }
        settings.policy.parallel = parallel;
    }
    apply_drain_policy(settings, args.on_drain_timeout.as_deref())?;
    if let Some(healthy) = &args.healthy {
        settings.policy.healthy = healthy.parse().map_err(|e: String| BadInput::new(format!("--healthy: {e}")))?;
    }
    if let Some(canary) = args.canary {
        settings.policy.canary = canary;
    }
    if let Some(policy) = &args.on_unhealthy {
        settings.policy.on_unhealthy =
            policy.parse().map_err(|e: String| BadInput::new(format!("--on-unhealthy: {e}")))?;
    }
    if let Some(max) = args.max_unavailable {
        if max == 0 {
            return Err(BadInput::new("--max-unavailable must be at least 1"));
        }
        settings.policy.max_unavailable = Some(max);
    }
    settings.policy.probe |= args.probe;
    Ok(())
}

pub(super) fn apply_drain_policy(settings: &mut Settings, flag: Option<&str>) -> Result<(), BadInput> {
    if let Some(policy) = flag {
        settings.policy.on_drain_timeout =
            policy.parse().map_err(|e: String| BadInput::new(format!("--on-drain-timeout: {e}")))?;
    }
    Ok(())
}

pub(super) fn parse_until(flag: Option<&str>) -> Result<Option<Step>, BadInput> {
    flag.map(Step::parse).transpose().map_err(|e| BadInput::new(format!("--until: {e}")))
}
