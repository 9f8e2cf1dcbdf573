//! Verifies Shared Key signatures the way the service appears to: any of the canonical forms
//! the official SDKs produce is accepted (batch-api.md §4.2). Written apart from the client's
//! signer on purpose, so a bug in one does not hide in the other.

use axum::http::{HeaderMap, Method};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

pub enum AuthOutcome {
    Ok,
    /// No Authorization header: 400 MissingRequiredHeader.
    Missing,
    /// 403 AuthenticationFailed with this detail.
    Failed(String),
}

pub struct Verifier {
    pub account: String,
    pub key: hmac::Key,
    pub allow_bearer: bool,
    /// Tokens this simulator's token endpoint issued (`--tls`): accepted without --allow-bearer.
    issued: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Verifier {
    pub fn new(account: &str, key_base64: &str, allow_bearer: bool) -> Result<Self, String> {
        let bytes = STANDARD.decode(key_base64).map_err(|e| format!("--key is not base64: {e}"))?;
        Ok(Verifier {
            account: account.to_string(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            allow_bearer,
            issued: Default::default(),
        })
    }

    /// Remembers a token the simulator's token endpoint handed out.
    pub fn issued(&self, token: &str) {
        self.issued.lock().expect("issued tokens").insert(token.to_string());
    }

    pub fn check(&self, method: &Method, raw_path: &str, raw_query: &str, headers: &HeaderMap) -> AuthOutcome {
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return AuthOutcome::Missing;
        };
        if let Some(token) = auth.strip_prefix("Bearer ") {
            let token = token.trim();
            let known = self.issued.lock().expect("issued tokens").contains(token);
            return if known || (self.allow_bearer && !token.is_empty()) {
                AuthOutcome::Ok
            } else {
                AuthOutcome::Failed(
                    "This bearer token was not issued by this simulator: get one from its token endpoint \
                     (repool sim --tls) or start it with --allow-bearer."
                        .into(),
                )
            };
        }
        let Some((account, signature)) = auth.strip_prefix("SharedKey ").and_then(|rest| rest.split_once(':')) else {
            return AuthOutcome::Failed(format!(
                "The Authorization header '{auth}' is not SharedKey ACCOUNT:SIGNATURE."
            ));
        };
        if !account.eq_ignore_ascii_case(&self.account) {
            return AuthOutcome::Failed(format!("The account '{account}' is not this account."));
        }
        if let Some(skew) = date_skew(headers)
            && skew > 15 * 60
        {
            return AuthOutcome::Failed("Request date header too old or too new: more than 15 minutes off.".into());
        }
        let forms = canonical_forms(method, raw_path, raw_query, headers, account);
        for form in &forms {
            let expected = STANDARD.encode(hmac::sign(&self.key, form.as_bytes()).as_ref());
            if expected == signature {
                return AuthOutcome::Ok;
            }
        }
        AuthOutcome::Failed(format!(
            "The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. Server used following string to sign: '{}'.",
            forms[0]
        ))
    }
}

/// Seconds between the request's date (ocp-date, else Date) and now; None if it has none.
fn date_skew(headers: &HeaderMap) -> Option<i64> {
    let text = headers.get("ocp-date").or_else(|| headers.get("date"))?.to_str().ok()?;
    let when = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
    Some((jiff::Timestamp::now().as_second() - when.as_second()).abs())
}

/// Every string-to-sign variant an official SDK may have signed.
fn canonical_forms(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    account: &str,
) -> Vec<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let sent_length = header("content-length");
    let mut lengths = vec![sent_length.clone()];
    for alt in ["0", ""] {
        if (sent_length == "0" || sent_length.is_empty()) && !lengths.contains(&alt.to_string()) {
            lengths.push(alt.to_string());
        }
    }
    let date = if headers.contains_key("ocp-date") { String::new() } else { header("date") };
    let mut ocp: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("ocp-"))
        .map(|(n, v)| (n.as_str().to_lowercase(), v.to_str().unwrap_or("").trim().to_string()))
        .collect();
    ocp.sort();
    let canonical_headers: String = ocp.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
    let mut forms = Vec::new();
    for lowercase_names in [true, false] {
        let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (name, value) in &pairs {
            let name = if lowercase_names { name.to_lowercase() } else { name.clone() };
            params.entry(name).or_default().push(value.clone());
        }
        let query: String = params
            .iter_mut()
            .map(|(name, values)| {
                values.sort();
                format!("\n{name}:{}", values.join(","))
            })
            .collect();
        for account_form in [account.to_string(), account.to_lowercase()] {
            for length in &lengths {
                let mut text = format!("{method}\n");
                for value in [
                    header("content-encoding"),
                    header("content-language"),
                    length.clone(),
                    header("content-md5"),
                    header("content-type"),
                    date.clone(),
                    header("if-modified-since"),
                    header("if-match"),
                    header("if-none-match"),
                    header("if-unmodified-since"),
                    header("range"),
                ] {
                    text.push_str(&value);
                    text.push('\n');
                }
                text.push_str(&canonical_headers);
                text.push_str(&format!("/{account_form}{raw_path}{query}"));
                if !forms.contains(&text) {
                    forms.push(text);
                }
            }
        }
    }
    forms
}
