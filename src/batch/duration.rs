//! ISO-8601 durations as Batch writes them: `PT15M`, `P1D`, `PT7M9.497S`, and .NET's
//! `TimeSpan.MaxValue` (`P10675199DT2H48M5.4775807S`) meaning "unbounded".
//!
//! Hand-written because the common crates either lose precision (f32) or reject the
//! unbounded value; Batch only ever uses `P[nW][nD][T[nH][nM][n[.f]S]]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Days at or above which Batch means "no limit".
const UNBOUNDED_DAYS: u64 = 10_675_199;
const UNBOUNDED_TEXT: &str = "P10675199DT2H48M5.4775807S";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchDuration(Duration);

impl BatchDuration {
    pub const UNBOUNDED: BatchDuration = BatchDuration(Duration::new(922_337_203_685, 477_580_700));

    pub fn from_secs(secs: u64) -> Self {
        BatchDuration(Duration::from_secs(secs))
    }

    pub fn from_mins(mins: u64) -> Self {
        Self::from_secs(mins * 60)
    }

    pub fn as_std(&self) -> Duration {
        self.0
    }

    pub fn is_unbounded(&self) -> bool {
        self.0.as_secs() >= UNBOUNDED_DAYS * 86_400
    }

    /// Parses Batch's subset of ISO-8601; the error says what is wrong in operator terms.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("'{text}' is not an ISO-8601 duration ({why}); write e.g. PT15M, PT1H30M or P1D");
        let rest = text.strip_prefix('P').ok_or_else(|| bad("it must start with P"))?;
        if rest.is_empty() || rest == "T" {
            return Err(bad("no amount given"));
        }
        let mut nanos: u128 = 0;
        let mut in_time = false;
        let mut number = String::new();
        let mut seen_units = String::new();
        for ch in rest.chars() {
            match ch {
                'T' if !in_time && number.is_empty() => in_time = true,
                '0'..='9' | '.' => number.push(ch),
                unit => {
                    if number.is_empty() {
                        return Err(bad(&format!("no number before '{unit}'")));
                    }
                    let unit_nanos: u128 = match (in_time, unit) {
                        (false, 'W') => 7 * 86_400 * 1_000_000_000,
                        (false, 'D') => 86_400 * 1_000_000_000,
                        (true, 'H') => 3_600 * 1_000_000_000,
                        (true, 'M') => 60 * 1_000_000_000,
                        (true, 'S') => 1_000_000_000,
                        (false, 'Y' | 'M') => {
                            return Err(bad("years and months have no fixed length; use days"));
                        }
                        _ => return Err(bad(&format!("unexpected '{unit}'"))),
                    };
                    let key = format!("{in_time}{unit}");
                    if seen_units.contains(&key) {
                        return Err(bad(&format!("'{unit}' given twice")));
                    }
                    seen_units.push_str(&key);
                    nanos = nanos.saturating_add(scaled(&number, unit_nanos, unit == 'S').ok_or_else(|| {
                        bad(&format!("'{number}' is not a number (only seconds may have a fraction)"))
                    })?);
                    number.clear();
                }
            }
        }
        if !number.is_empty() {
            return Err(bad("a number has no unit"));
        }
        let secs = (nanos / 1_000_000_000).min(u64::MAX as u128) as u64;
        if secs >= UNBOUNDED_DAYS * 86_400 {
            return Ok(Self::UNBOUNDED);
        }
        Ok(BatchDuration(Duration::new(secs, (nanos % 1_000_000_000) as u32)))
    }
}

/// `number` × `unit_nanos`, allowing a decimal fraction only where `fraction_ok`.
fn scaled(number: &str, unit_nanos: u128, fraction_ok: bool) -> Option<u128> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (!frac.is_empty() && !fraction_ok) || frac.contains('.') {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let mut frac_nanos: u128 = 0;
    for (i, digit) in frac.chars().take(9).enumerate() {
        frac_nanos += digit.to_digit(10)? as u128 * 10u128.pow(8 - i as u32);
    }
    Some(whole.checked_mul(unit_nanos)? + frac_nanos)
}

impl fmt::Display for BatchDuration {
    /// The service's normal form: `PT6M` for `PT06M00S`, `P1DT2H`, `PT0S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unbounded() {
            return f.write_str(UNBOUNDED_TEXT);
        }
        let total = self.0.as_secs();
        let (days, hours, mins, secs) = (total / 86_400, total / 3_600 % 24, total / 60 % 60, total % 60);
        let frac = self.0.subsec_nanos() / 100; // Batch keeps 7 digits
        f.write_str("P")?;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if hours == 0 && mins == 0 && secs == 0 && frac == 0 {
            return if days == 0 { f.write_str("T0S") } else { Ok(()) };
        }
        f.write_str("T")?;
        if hours > 0 {
            write!(f, "{hours}H")?;
        }
        if mins > 0 {
            write!(f, "{mins}M")?;
        }
        if frac > 0 {
            let digits = format!("{frac:07}");
            write!(f, "{secs}.{}S", digits.trim_end_matches('0'))
        } else if secs > 0 {
            write!(f, "{secs}S")
        } else {
            Ok(())
        }
    }
}

impl std::str::FromStr for BatchDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Serialize for BatchDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BatchDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_service() {
        for (input, normal) in [
            ("PT06M00S", "PT6M"),
            ("PT15M", "PT15M"),
            ("PT1H30M", "PT1H30M"),
            ("P1D", "P1D"),
            ("PT24H", "P1D"),
            ("P1W", "P7D"),
            ("PT7M9.497S", "PT7M9.497S"),
            ("PT0S", "PT0S"),
            ("P2DT3H", "P2DT3H"),
            ("PT0.5S", "PT0.5S"),
        ] {
            assert_eq!(BatchDuration::parse(input).unwrap().to_string(), normal, "{input}");
        }
    }

    #[test]
    fn unbounded_round_trips() {
        let d = BatchDuration::parse(UNBOUNDED_TEXT).unwrap();
        assert!(d.is_unbounded());
        assert_eq!(d.to_string(), UNBOUNDED_TEXT);
        assert!(BatchDuration::parse("P99999999D").unwrap().is_unbounded());
    }

    #[test]
    fn rejects_what_batch_rejects() {
        for bad in ["", "15M", "PT", "P", "PT5", "P1M", "P1Y", "PTM", "PT1.5M", "PT1M1M", "-PT5M", "PT1..5S"] {
            assert!(BatchDuration::parse(bad).is_err(), "{bad} should fail");
        }
        assert!(BatchDuration::parse("P1Y").unwrap_err().contains("use days"));
    }

    #[test]
    fn orders_by_length() {
        assert!(BatchDuration::parse("PT4M59S").unwrap() < BatchDuration::from_mins(5));
    }
}
