//! Shared Key request signing, exactly as the Batch docs define it (batch-api.md §4.2):
//! `ocp-date` always sent with an empty Date line, query names lower-cased, the exact
//! Content-Length sent is the one signed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// An account name and its decoded key. The key never appears in Debug output.
#[derive(Clone)]
pub struct SharedKey {
    account: String,
    key: hmac::Key,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedKey({}, key redacted)", self.account)
    }
}

impl SharedKey {
    /// `key_base64` as the portal shows it; an error names the problem without echoing the key.
    pub fn new(account: &str, key_base64: &str) -> Result<Self, String> {
        if account.trim().is_empty() {
            return Err("the account name is empty: set account.name or AZURE_BATCH_ACCOUNT".into());
        }
        let bytes = STANDARD.decode(key_base64.trim()).map_err(|e| {
            format!("the account key is not valid base64 ({e}); copy it again from the portal (Batch account → Keys)")
        })?;
        if bytes.is_empty() {
            return Err("the account key is empty: set it in config or AZURE_BATCH_ACCESS_KEY".into());
        }
        Ok(SharedKey { account: account.to_string(), key: hmac::Key::new(hmac::HMAC_SHA256, &bytes) })
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Base64 HMAC-SHA256 of `string_to_sign`.
    pub fn signature(&self, string_to_sign: &str) -> String {
        STANDARD.encode(hmac::sign(&self.key, string_to_sign.as_bytes()).as_ref())
    }

    /// Adds `ocp-date` (if missing) and `Authorization: SharedKey …` to `request`.
    pub fn sign(&self, request: &mut reqwest::Request) {
        let headers = request.headers_mut();
        if !headers.contains_key("ocp-date") {
            let now = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
            headers.insert("ocp-date", now.parse().expect("an RFC 1123 date is a valid header"));
        }
        let text = string_to_sign(request, &self.account);
        let value = format!("SharedKey {}:{}", self.account, self.signature(&text));
        request.headers_mut().insert(reqwest::header::AUTHORIZATION, value.parse().expect("base64 is a valid header"));
    }
}

/// The canonical string for `request` (docs: "Authenticate requests to Azure Batch").
pub fn string_to_sign(request: &reqwest::Request, account: &str) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut text = String::new();
    text.push_str(request.method().as_str());
    text.push('\n');
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        // ocp-date replaces Date, which is then signed empty.
        if !(name == "date" && request.headers().contains_key("ocp-date")) {
            text.push_str(&header(name));
        }
        text.push('\n');
    }
    let mut ocp: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("ocp-"))
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").trim().to_string()))
        .collect();
    ocp.sort();
    for (name, value) in ocp {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push('/');
    text.push_str(account);
    text.push_str(request.url().path());
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in request.url().query_pairs() {
        params.entry(name.to_lowercase()).or_default().push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        text.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_example_string_to_sign() {
        crate::batch::http::install_crypto_provider();
        let client = reqwest::Client::builder().build().unwrap();
        let mut request = client
            .get("https://myaccount.westus.batch.azure.com/jobs?api-version=2014-01-01.1.0&timeout=20")
            .build()
            .unwrap();
        request.headers_mut().insert("ocp-date", "Tue, 29 Jul 2014 21:49:13 GMT".parse().unwrap());
        assert_eq!(
            string_to_sign(&request, "myaccount"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 29 Jul 2014 21:49:13 GMT\n/myaccount/jobs\napi-version:2014-01-01.1.0\ntimeout:20"
        );
    }

    #[test]
    fn bad_keys_are_explained_without_echoing_them() {
        let err = SharedKey::new("acct", "not base64 !!").unwrap_err();
        assert!(err.contains("not valid base64"), "{err}");
        assert!(!err.contains("!!"));
        assert!(SharedKey::new("", "AAAA").unwrap_err().contains("account name"));
        assert!(!format!("{:?}", SharedKey::new("a", "AAAA").unwrap()).contains("AAAA"));
    }
}
