//! Conditional requests on one pool (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`, batch-api.md §2 "Cond"), in RFC 9110's order of evaluation. A failed
//! condition is 304 on a read and 412 `ConditionNotMet` on a write; a date that does not parse is
//! ignored, as the RFC says. Entity tags: `If-Match` compares strongly, `If-None-Match` weakly.

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
    let current = etag.map(EntityTag::parse);
    let matches = |list: &str, strong: bool| {
        entity_tags(list).any(|tag| match (&tag, &current) {
            (None, _) => true,
            (Some(tag), Some(current)) => tag.opaque == current.opaque && (!strong || !tag.weak && !current.weak),
            (Some(_), None) => false,
        })
    };
    let modified = modified.map(|t| t.as_second());
    let date = |name| text(name).and_then(parse_http_date);
    let unless_read = if access == Access::Read { Verdict::NotModified } else { Verdict::Failed };
    if let Some(list) = text(header::IF_MATCH) {
        if !matches(list, true) {
            return Verdict::Failed;
        }
    } else if let (Some(since), Some(modified)) = (date(header::IF_UNMODIFIED_SINCE), modified)
        && modified > since
    {
        return Verdict::Failed;
    }
    if let Some(list) = text(header::IF_NONE_MATCH) {
        if matches(list, false) {
            return unless_read;
        }
    } else if let (Some(since), Some(modified)) = (date(header::IF_MODIFIED_SINCE), modified)
        && modified <= since
    {
        return unless_read;
    }
    Verdict::Proceed
}

/// An entity tag as a client writes it: `"0x8D…"`, `W/"0x8D…"`, or bare `0x8D…` as the service's own
/// `ETag` header and older SDKs spell it (the service accepts both, so the simulator does).
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

impl<'a> EntityTag<'a> {
    fn parse(text: &'a str) -> EntityTag<'a> {
        let text = text.trim();
        let (weak, rest) = match text.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let opaque = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(rest);
        EntityTag { weak, opaque }
    }
}

/// The members of an `If-Match`/`If-None-Match` list; None stands for `*`. Commas inside quotes
/// belong to the tag (RFC 9110 lets an opaque tag hold one).
fn entity_tags(list: &str) -> impl Iterator<Item = Option<EntityTag<'_>>> {
    let mut members = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                members.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&list[start..]);
    members.into_iter().map(str::trim).filter(|m| !m.is_empty()).map(|m| (m != "*").then(|| EntityTag::parse(m)))
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
    fn entity_tags_compare_as_http_does_quoted_weak_bare_or_listed() {
        let cond = |name: &'static str, value: &str, access| check(&headers(&[(name, value)]), access, TAG, None);
        for current in ["\"0x8DB2401C420E2E0\"", "0x8DB2401C420E2E0", "\"0x1\", \"0x8DB2401C420E2E0\"", " * "] {
            assert_eq!(cond("if-match", current, Access::Write), Verdict::Proceed, "{current}");
            assert_eq!(cond("if-none-match", current, Access::Read), Verdict::NotModified, "{current}");
        }
        // If-Match compares strongly: a weak tag never matches; If-None-Match compares weakly.
        assert_eq!(cond("if-match", "W/\"0x8DB2401C420E2E0\"", Access::Write), Verdict::Failed);
        assert_eq!(cond("if-none-match", "W/\"0x8DB2401C420E2E0\"", Access::Read), Verdict::NotModified);
        assert_eq!(cond("if-match", "\"0x8DB2401C420E2E\"", Access::Write), Verdict::Failed, "a prefix is another tag");
        assert_eq!(cond("if-match", "\"a,b\", \"0x1\"", Access::Write), Verdict::Failed);
        assert_eq!(entity_tags("\"a,b\", W/\"c\"").collect::<Vec<_>>().len(), 2, "a comma inside quotes is the tag's");
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
