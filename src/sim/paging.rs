//! List paging as the service does it (batch-api.md §2 "Paging"): `maxresults`, an opaque
//! `$skiptoken`, an absolute `odata.nextLink` that repeats the query, and `$select`.

use super::errors::{Reply, bad_query};
use super::http::Call;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

fn max_results(call: &Call, limit: u32, default: u32) -> Result<usize, Reply> {
    let Some(text) = call.param("maxresults") else { return Ok(default as usize) };
    let n: i64 = text.parse().map_err(|_| bad_query("maxresults", text, "MaxResults must be a number"))?;
    if n < 1 {
        return Err(bad_query("maxresults", text, "MaxResults cannot be less than 1"));
    }
    if n > limit as i64 {
        return Err(bad_query("maxresults", text, &format!("MaxResults cannot be greater than {limit}")));
    }
    Ok(n as usize)
}

/// One page of `items` after the `$skiptoken`. Items come in key order with a builder that returns
/// None when `$filter` rejects the item; only items on this page (and the one after it) are built,
/// so paging through N items costs O(N), not O(N²).
pub(super) fn page<F>(
    call: &Call,
    items: impl Iterator<Item = (String, F)>,
    limit: u32,
    default: u32,
    metadata: &str,
) -> Result<Reply, Reply>
where
    F: FnOnce() -> Option<Map<String, Value>>,
{
    let max = max_results(call, limit, default)?;
    let after = match call.param("$skiptoken") {
        Some(token) => Some(
            decode_skiptoken(token)
                .ok_or_else(|| bad_query("$skiptoken", token, "The continuation token is not valid"))?,
        ),
        None => None,
    };
    let select = call.select();
    let mut remaining = items
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .filter_map(|(key, build)| build().map(|object| (key, object)))
        .peekable();
    let mut value = Vec::new();
    let mut last = None;
    while value.len() < max {
        let Some((key, object)) = remaining.next() else { break };
        value.push(Value::Object(project(object, select.as_deref())));
        last = Some(key);
    }
    let mut body = Map::new();
    body.insert("odata.metadata".into(), json!(format!("{}/$metadata#{metadata}", call.base)));
    body.insert("value".into(), Value::Array(value));
    if let (Some(_), Some(last)) = (remaining.peek(), last) {
        let mut pairs: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| format!("{k}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
            .collect();
        pairs.push(format!("$skiptoken={}", encode_skiptoken(&last)));
        let link = format!("{}/{}?{}", call.base, call.segments.join("/"), pairs.join("&"));
        body.insert("odata.nextLink".into(), json!(link));
    }
    Ok(Reply::Ok { status: StatusCode::OK, headers: vec![], body: Some(Value::Object(body)) })
}

/// `$select`: only the keys asked for.
pub(super) fn project(object: Map<String, Value>, select: Option<&[&str]>) -> Map<String, Value> {
    match select {
        None => object,
        Some(keys) => object.into_iter().filter(|(k, _)| keys.contains(&k.as_str())).collect(),
    }
}

/// Opaque continuation tokens shaped like the service's (`WATV2:…:1$1`).
fn encode_skiptoken(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("WATV2:{hex}:1$1")
}

fn decode_skiptoken(token: &str) -> Option<String> {
    let hex = token.strip_prefix("WATV2:")?.strip_suffix(":1$1")?;
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_forgeries_are_refused() {
        let token = encode_skiptoken("pool-007");
        assert!(token.starts_with("WATV2:") && token.ends_with(":1$1"));
        assert_eq!(decode_skiptoken(&token).as_deref(), Some("pool-007"));
        assert_eq!(decode_skiptoken("WATV2:zz:1$1"), None);
        assert_eq!(decode_skiptoken("pool-007"), None);
    }

    #[test]
    fn select_keeps_only_the_keys_asked_for() {
        let object = json!({"id": "p", "state": "active", "vmSize": "x"}).as_object().cloned().unwrap();
        let kept = project(object, Some(&["id", "state"]));
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["id", "state"]);
    }
}
