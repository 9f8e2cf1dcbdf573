//! The Batch api-version (`YYYY-MM-DD[.major.minor]`) as a value: parsed once, ordered by
//! release, and the one place that knows which version brought which feature.

use jiff::civil::{Date, date};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A Batch data-plane api-version such as `2024-07-01.20.0` or `2025-06-01`. Ordered by release
/// date (then by its numbers), so versions newer than any this build knows sort after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    date: Date,
    release: Option<(u16, u16)>,
}

impl ApiVersion {
    /// The last version of the 2024 model.
    pub const V2024_07_01: ApiVersion = ApiVersion::numbered(2024, 7, 1, 20, 0);
    /// The first version of the 2025 model: PATCH takes more on an empty pool, certificates are
    /// gone, the scheduling policy has a job order.
    pub const V2025_06_01: ApiVersion = ApiVersion::dated(2025, 6, 1);
    /// The first version without `retaineddata` among the node deallocation options (batch-api.md §10).
    pub const V2026_08_01: ApiVersion = ApiVersion::dated(2026, 8, 1);
    /// The version repool speaks unless told otherwise.
    pub const DEFAULT: ApiVersion = ApiVersion::V2025_06_01;

    /// A version named by its date alone (the form from 2025 on).
    pub const fn dated(year: i16, month: i8, day: i8) -> ApiVersion {
        ApiVersion { date: date(year, month, day), release: None }
    }

    /// A version with its release numbers (the form up to 2024), such as `2024-07-01.20.0`.
    pub const fn numbered(year: i16, month: i8, day: i8, major: u16, minor: u16) -> ApiVersion {
        ApiVersion { date: date(year, month, day), release: Some((major, minor)) }
    }

    /// Whether the pool-add schema is the 2025-06-01 model (else the 2024 one).
    pub fn has_2025_model(self) -> bool {
        self >= Self::V2025_06_01
    }

    /// Whether a PATCH changes `PATCH_WHEN_EMPTY` properties of a pool without nodes.
    pub fn patches_when_empty(self) -> bool {
        self >= Self::V2025_06_01
    }

    /// Whether nodes can be deallocated and started (`…/nodes/{node}/deallocate`, `/start`).
    pub fn deallocates_nodes(self) -> bool {
        self >= Self::V2025_06_01
    }

    /// Whether `updateproperties` replaces (and requires) `certificateReferences`.
    pub fn updates_certificates(self) -> bool {
        self < Self::V2025_06_01
    }

    /// Whether `retaineddata` is a node deallocation option (resize, remove nodes, reboot, reimage).
    pub fn has_retained_data(self) -> bool {
        self < Self::V2026_08_01
    }

    /// Whether pool statistics carry `usageStats` (dropped with `retaineddata` in 2026-08-01).
    pub fn has_usage_stats(self) -> bool {
        self < Self::V2026_08_01
    }

    /// Whether the service defaults `taskSchedulingPolicy.jobDefaultOrder`.
    pub fn has_job_default_order(self) -> bool {
        self >= Self::V2025_06_01
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date.strftime("%Y-%m-%d"))?;
        match self.release {
            Some((major, minor)) => write!(f, ".{major}.{minor}"),
            None => Ok(()),
        }
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    /// Strict: exactly `YYYY-MM-DD` or `YYYY-MM-DD.N.N` (no leading zeros), so the version
    /// written back is the one read.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not an api-version: use the form 2025-06-01 or 2024-07-01.20.0");
        let (day, release) = match text.split_once('.') {
            Some((day, release)) => (day, Some(release)),
            None => (text, None),
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let parts: Vec<&str> = day.split('-').collect();
        let [y, m, d] = parts[..] else { return Err(bad()) };
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return Err(bad());
        }
        let date =
            Date::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?)
                .map_err(|_| bad())?;
        let number = |s: &str| s.parse::<u16>().ok().filter(|n| n.to_string() == s);
        let release = match release.map(|r| r.split_once('.')) {
            None => None,
            Some(Some((major, minor))) => Some((number(major).ok_or_else(bad)?, number(minor).ok_or_else(bad)?)),
            Some(None) => return Err(bad()),
        };
        Ok(ApiVersion { date, release })
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::ApiVersion;

    fn v(text: &str) -> ApiVersion {
        text.parse().unwrap()
    }

    #[test]
    fn real_versions_sort_by_release_and_newer_ones_after_2025() {
        let released = [
            "2018-03-01.6.1",
            "2018-08-01.7.0",
            "2019-08-01.10.0",
            "2023-11-01.18.0",
            "2024-02-01.19.0",
            "2024-07-01.20.0",
            "2025-06-01",
            "2026-08-01",
            "2026-10-01",
        ];
        let parsed: Vec<ApiVersion> = released.iter().map(|t| v(t)).collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
        // Release numbers compare as numbers, where text would put "9" after "20".
        assert!(v("2024-07-01.9.0") < v("2024-07-01.20.0"));
    }

    #[test]
    fn the_text_is_kept_exactly() {
        for text in ["2018-03-01.6.1", "2024-07-01.20.0", "2025-06-01", "2026-10-01"] {
            assert_eq!(v(text).to_string(), text);
            assert_eq!(serde_json::to_string(&v(text)).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<ApiVersion>(&format!("\"{text}\"")).unwrap(), v(text));
        }
        assert_eq!(ApiVersion::DEFAULT.to_string(), "2025-06-01");
        assert_eq!(ApiVersion::V2024_07_01, v("2024-07-01.20.0"));
    }

    #[test]
    fn malformed_versions_are_refused_with_the_form_to_use() {
        for bad in [
            "",
            "2025",
            "latest",
            "2025-6-01",
            "2025-06-1",
            "2025-13-01",
            "2025-02-30",
            "2025-06-01.",
            "2025-06-01.20",
            "2025-06-01.20.0.1",
            "2025-06-01.020.0",
            "2025-06-01.x.0",
            " 2025-06-01",
            "+2025-06-01",
        ] {
            let error = bad.parse::<ApiVersion>().unwrap_err();
            assert!(error.contains(&format!("'{bad}'")) && error.contains("2025-06-01"), "{bad}: {error}");
        }
        assert!(serde_json::from_str::<ApiVersion>("\"2025\"").is_err());
    }

    #[test]
    fn features_arrive_with_2025_06_01_and_stay() {
        for (text, newer) in
            [("2018-03-01.6.1", false), ("2024-07-01.20.0", false), ("2025-06-01", true), ("2026-10-01", true)]
        {
            let version = v(text);
            assert_eq!(version.has_2025_model(), newer, "{text}");
            assert_eq!(version.patches_when_empty(), newer, "{text}");
            assert_eq!(version.has_job_default_order(), newer, "{text}");
            assert_eq!(version.deallocates_nodes(), newer, "{text}");
            assert_eq!(version.updates_certificates(), !newer, "{text}");
        }
        for (text, kept) in
            [("2024-07-01.20.0", true), ("2025-06-01", true), ("2026-08-01", false), ("2026-10-01", false)]
        {
            assert_eq!(v(text).has_retained_data(), kept, "{text}");
        }
    }
}
