//! Conditional requests on one pool (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`, batch-api.md §2 "Cond"), in RFC 9110's order of evaluation. A failed
//! condition is 304 on a read and 412 `ConditionNotMet` on a write; a date that does not parse is
//! ignored, as the RFC says.

use super::route::Access;
use axum::http::{HeaderMap, header};

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412 `ConditionNotMet`.
    Failed,
}

/// Judges the request's conditions against the pool's ETag and Last-Modified (1 s precision on
/// the wire, so compared at that precision).
pub(super) fn check(
    headers: &HeaderMap,
    access: Access,
    etag: Option<&str>,
    modified: Option<jiff::Timestamp>,
) -> Verdict {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let matches = |list: &str| list.split(',').map(str::trim).any(|tag| tag == "*" || Some(tag) == etag);
    let modified = modified.map(|t| t.as_second());
    let date = |name| text(name).and_then(parse_http_date);
    let unless_read = if access == Access::Read { Verdict::NotModified } else { Verdict::Failed };
    if let Some(list) = text(header::IF_MATCH) {
        if !matches(list) {
            return Verdict::Failed;
        }
    } else if let (Some(since), Some(modified)) = (date(header::IF_UNMODIFIED_SINCE), modified)
        && modified > since
    {
        return Verdict::Failed;
    }
    if let Some(list) = text(header::IF_NONE_MATCH) {
        if matches(list) {
            return unless_read;
        }
    } else if let (Some(since), Some(modified)) = (date(header::IF_MODIFIED_SINCE), modified)
        && modified <= since
    {
        return unless_read;
    }
    Verdict::Proceed
}

/// An RFC 1123 date (`Tue, 01 Dec 2026 19:19:13 GMT`) as Unix seconds.
fn parse_http_date(text: &str) -> Option<i64> {
    let civil = jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", text.trim()).ok()?.to_datetime().ok()?;
    Some(civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    const TAG: Option<&str> = Some("0x8DB2401C420E2E0");

    fn at(text: &str) -> Option<jiff::Timestamp> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn if_match_fails_reads_and_writes_alike_when_stale() {
        let stale = headers(&[("if-match", "0x1")]);
        assert_eq!(check(&stale, Access::Read, TAG, None), Verdict::Failed);
        assert_eq!(check(&stale, Access::Write, TAG, None), Verdict::Failed);
        assert_eq!(check(&headers(&[("if-match", "*")]), Access::Write, TAG, None), Verdict::Proceed);
        assert_eq!(
            check(&headers(&[("if-match", "0x1, 0x8DB2401C420E2E0")]), Access::Write, TAG, None),
            Verdict::Proceed
        );
    }

    #[test]
    fn if_none_match_is_not_modified_on_reads_and_fails_writes() {
        let current = headers(&[("if-none-match", "0x8DB2401C420E2E0")]);
        assert_eq!(check(&current, Access::Read, TAG, None), Verdict::NotModified);
        assert_eq!(check(&current, Access::Write, TAG, None), Verdict::Failed);
        assert_eq!(check(&headers(&[("if-none-match", "0x1")]), Access::Read, TAG, None), Verdict::Proceed);
    }

    #[test]
    fn dates_compare_at_the_seconds_the_wire_carries() {
        let modified = at("2026-12-01T19:19:13.7Z");
        let same = headers(&[("if-modified-since", "Tue, 01 Dec 2026 19:19:13 GMT")]);
        assert_eq!(check(&same, Access::Read, TAG, modified), Verdict::NotModified);
        let before = headers(&[("if-modified-since", "Tue, 01 Dec 2026 19:19:12 GMT")]);
        assert_eq!(check(&before, Access::Read, TAG, modified), Verdict::Proceed);
        let older = headers(&[("if-unmodified-since", "Tue, 01 Dec 2026 19:00:00 GMT")]);
        assert_eq!(check(&older, Access::Write, TAG, modified), Verdict::Failed);
        let garbage = headers(&[("if-unmodified-since", "yesterday")]);
        assert_eq!(check(&garbage, Access::Write, TAG, modified), Verdict::Proceed, "an invalid date is ignored");
    }
}
