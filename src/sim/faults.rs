//! Fault injection: throttling, busy and timed-out answers, latency, dropped connections,
//! changes whose answer is lost, list answers that leave a pool out, and allocation failures, by
//! probability or for the next N requests, on every operation or one (`429@add-pool=1x`).
//! Deterministic for a seed.

use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    pub busy_503: Rate,
    pub throttle_429: Rate,
    pub timeout_500: Rate,
    /// 401: the credentials stopped working (an expired secret, a revoked role).
    pub unauthorized_401: Rate,
    pub drop: Rate,
    /// A change (POST, PUT, PATCH, DELETE) is applied, then its answer is lost (the connection drops).
    pub lost: Rate,
    /// A list-pools answer leaves one pool out (`omit-pool`'s, else one at random).
    pub omit: Rate,
    pub omit_pool: Option<String>,
    pub alloc_failure: Rate,
    pub latency: Duration,
    pub jitter: Duration,
    /// Seconds sent in `Retry-After` with 429/503.
    pub retry_after_secs: u64,
}

/// How often one kind of fault strikes: rules, each a probability or a count of upcoming
/// requests that always get it, on every operation or only on one (its stats name with `-` for
/// spaces: `add-pool`, `list-pools`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rate {
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    pub probability: f64,
    pub next: u64,
    pub only: Option<String>,
}

impl Rate {
    /// Decides for one request of `operation`: the first rule for it that strikes.
    pub fn hit(&mut self, rng: &mut fastrand::Rng, operation: &str) -> bool {
        self.rules.iter_mut().any(|rule| {
            if rule.only.as_deref().is_some_and(|only| only.replace('-', " ") != operation) {
                return false;
            }
            if rule.next > 0 {
                rule.next -= 1;
                return true;
            }
            rule.probability > 0.0 && rng.f64() < rule.probability
        })
    }
}

/// What the next request gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Busy503,
    Throttle429,
    Timeout500,
    Unauthorized401,
    Drop,
}

impl Faults {
    /// `503=0.1,429=0.05,timeout=0.02,drop=0.02,lost=0.02,omit=0.1,omit-pool=ID,alloc=0.1,
    /// latency=200ms,jitter=50ms,retry-after=1`; a rate may be `3x` for "the next three requests",
    /// and `NAME@OPERATION` limits it to one operation (`429@add-pool=1x`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut faults = Faults { retry_after_secs: 1, ..Default::default() };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) =
                part.split_once('=').ok_or_else(|| format!("fault '{part}' must be NAME=VALUE, e.g. 503=0.1"))?;
            let (name, only) = match name.split_once('@') {
                Some((name, operation)) => (name, Some(operation.to_string())),
                None => (name, None),
            };
            let rule = || -> Result<Rule, String> {
                if let Some(count) = value.strip_suffix('x') {
                    let next = count.parse().map_err(|_| format!("fault '{part}': '{count}' is not a count"))?;
                    return Ok(Rule { probability: 0.0, next, only: only.clone() });
                }
                let p: f64 = value.parse().map_err(|_| format!("fault '{part}': '{value}' is not a probability"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("fault '{part}': a probability is between 0 and 1"));
                }
                Ok(Rule { probability: p, next: 0, only: only.clone() })
            };
            let millis = || -> Result<Duration, String> {
                let number = value.strip_suffix("ms").unwrap_or(value);
                number
                    .parse()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("fault '{part}': write milliseconds, e.g. 200ms"))
            };
            match name {
                "503" | "busy" => faults.busy_503.rules.push(rule()?),
                "429" | "throttle" => faults.throttle_429.rules.push(rule()?),
                "500" | "timeout" => faults.timeout_500.rules.push(rule()?),
                "401" | "unauthorized" => faults.unauthorized_401.rules.push(rule()?),
                "drop" => faults.drop.rules.push(rule()?),
                "lost" => faults.lost.rules.push(rule()?),
                "omit" => faults.omit.rules.push(rule()?),
                "omit-pool" => faults.omit_pool = Some(value.to_string()),
                "alloc" => faults.alloc_failure.rules.push(rule()?),
                "latency" => faults.latency = millis()?,
                "jitter" => faults.jitter = millis()?,
                "retry-after" => {
                    faults.retry_after_secs = value.parse().map_err(|_| format!("fault '{part}': seconds expected"))?
                }
                other => {
                    return Err(format!(
                        "unknown fault '{other}'; known: 503, 429, timeout, 401, drop, lost, omit, omit-pool, alloc, \
                         latency, jitter, retry-after"
                    ));
                }
            }
        }
        Ok(faults)
    }

    /// The fault for one request of `operation`, if any, and the latency to add.
    pub fn draw(&mut self, rng: &mut fastrand::Rng, operation: &str) -> (Option<Fault>, Duration) {
        let jitter = if self.jitter.is_zero() { Duration::ZERO } else { self.jitter.mul_f64(rng.f64()) };
        let delay = self.latency + jitter;
        let fault = if self.drop.hit(rng, operation) {
            Some(Fault::Drop)
        } else if self.busy_503.hit(rng, operation) {
            Some(Fault::Busy503)
        } else if self.throttle_429.hit(rng, operation) {
            Some(Fault::Throttle429)
        } else if self.timeout_500.hit(rng, operation) {
            Some(Fault::Timeout500)
        } else if self.unauthorized_401.hit(rng, operation) {
            Some(Fault::Unauthorized401)
        } else {
            None
        };
        (fault, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_counts_and_latency() {
        let f = Faults::parse("503=0.1, 429=2x,latency=200ms,jitter=50,alloc=0.5").unwrap();
        assert_eq!(f.busy_503.rules[0].probability, 0.1);
        assert_eq!(f.throttle_429.rules[0].next, 2);
        assert_eq!(f.latency, Duration::from_millis(200));
        assert_eq!(f.jitter, Duration::from_millis(50));
        assert!(Faults::parse("503=2").unwrap_err().contains("between 0 and 1"));
        assert!(Faults::parse("boom=1").unwrap_err().contains("unknown fault"));
    }

    #[test]
    fn counted_faults_hit_exactly_that_often() {
        let mut f = Faults::parse("503=3x").unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let hits = (0..10).filter(|_| f.draw(&mut rng, "get pool").0 == Some(Fault::Busy503)).count();
        assert_eq!(hits, 3);
    }

    #[test]
    fn a_fault_can_be_limited_to_one_operation() {
        let mut f = Faults::parse("429@add-pool=2x,retry-after=150,lost@delete-pool=1x").unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        assert_eq!(f.draw(&mut rng, "get pool").0, None);
        assert_eq!(f.draw(&mut rng, "add pool").0, Some(Fault::Throttle429));
        assert_eq!(f.retry_after_secs, 150);
        assert!(!f.lost.hit(&mut rng, "add pool") && f.lost.hit(&mut rng, "delete pool"));
        assert!(!f.lost.hit(&mut rng, "delete pool"), "counted: once");
    }
}
