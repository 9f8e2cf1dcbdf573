//! One identity per Batch account, however it was named: a URL with any case or trailing slash,
//! a name from the environment or a profile. The lock, the journal and finding resumable runs all
//! key on it, so two spellings of one account can never run at once.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// `scheme://host[:port]`, lower-cased, default port left out: the account's origin.
    pub fn from_endpoint(endpoint: &url::Url) -> AccountId {
        let host = endpoint.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
        let port = endpoint.port().map(|p| format!(":{p}")).unwrap_or_default();
        AccountId(format!("{}://{host}{port}", endpoint.scheme().to_ascii_lowercase()))
    }

    /// As recorded in a journal (older journals recorded a bare account name).
    pub fn parse(recorded: &str) -> AccountId {
        match url::Url::parse(recorded) {
            Ok(url) if url.has_host() => AccountId::from_endpoint(&url),
            _ => AccountId(recorded.to_ascii_lowercase()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A file or folder name for this account (locks, backups).
    pub fn file_name(&self) -> String {
        self.0.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_account_is_one_identity() {
        let id = |s: &str| AccountId::from_endpoint(&url::Url::parse(s).unwrap());
        let canonical = id("https://myacct.westeurope.batch.azure.com");
        for other in [
            "https://MyAcct.WestEurope.Batch.Azure.com/",
            "HTTPS://myacct.westeurope.batch.azure.com:443",
            "https://myacct.westeurope.batch.azure.com./",
        ] {
            assert_eq!(id(other), canonical, "{other}");
        }
        assert_ne!(id("http://127.0.0.1:8080"), id("http://127.0.0.1:8081"));
        assert_eq!(AccountId::parse(canonical.as_str()), canonical);
    }
}
