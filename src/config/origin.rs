//! Which account repool acts on, and with which account key. The flags, the environment and a
//! config profile may each name an endpoint, an account name and a key. A profile named with
//! --account beats the environment; otherwise file < env < flags. A name or key is only used for
//! the endpoint of the place that gave it: a key never leaves its account.

use crate::rollout::account::AccountId;
use crate::secret::Secret;
use std::fmt;

/// Where a setting came from, as `repool info` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    /// `[accounts.NAME]` of the config file.
    Profile(String),
    /// A top-level key of the config file.
    File,
    /// The config file's only profile, chosen because it is the only one.
    OnlyProfile,
    /// The account name read from the endpoint's host (ACCOUNT.REGION.batch.azure.com).
    Host,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::Profile(name) => write!(f, "config profile [accounts.{name}]"),
            Source::File => f.write_str("config file"),
            Source::OnlyProfile => f.write_str("the config file's only profile"),
            Source::Host => f.write_str("the endpoint's host name"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
pub(super) type Sourced<T> = Option<(T, Source)>;

/// Tags `value` with `source`.
pub(super) fn from<T>(value: Option<T>, source: Source) -> Sourced<T> {
    value.map(|v| (v, source))
}

/// What one place (flags, environment, a profile) says about the account.
#[derive(Clone, Debug, Default)]
pub(super) struct Named {
    pub url: Sourced<String>,
    pub name: Sourced<String>,
    pub key: Sourced<Secret>,
}

/// The account chosen, each part with its source; what was set aside is said in `warnings`.
#[derive(Clone, Debug, Default)]
pub(super) struct Account {
    pub endpoint: Sourced<String>,
    pub name: Sourced<String>,
    pub key: Sourced<Secret>,
    /// For the operator, on stderr: which endpoint won over which, and any key left unused.
    pub warnings: Vec<String>,
}

/// Chooses the account from the flags, the environment and the profile (if any).
/// `profile_from_flag`: the profile was named with --account, so it beats the environment, and
/// a --account-url beside it is taken as that profile's (the operator paired them).
pub(super) fn choose(flags: Named, env: Named, profile: Option<Named>, profile_from_flag: bool) -> Account {
    let profile = profile.unwrap_or_default();
    let order: [(&Named, bool); 3] = if profile_from_flag {
        [(&flags, false), (&profile, true), (&env, false)]
    } else {
        [(&flags, false), (&env, false), (&profile, false)]
    };
    let endpoint = order.iter().find_map(|(n, _)| n.url.clone());
    let Some((url, url_source)) = endpoint.clone() else {
        // No endpoint: nothing to protect a key from; connecting will say what is missing.
        let pick = |f: fn(&Named) -> Sourced<String>| order.iter().find_map(|(n, _)| f(n));
        let key = order.iter().find_map(|(n, _)| n.key.clone());
        return Account { endpoint: None, name: pick(|n| n.name.clone()), key, warnings: Vec::new() };
    };
    let paired = matches!(url_source, Source::Flag(_));
    let agrees =
        |n: &Named, pairs: bool| n.url.as_ref().is_none_or(|(u, _)| same_endpoint(u, &url)) || (pairs && paired);
    let name =
        order.iter().filter(|(n, pairs)| agrees(n, *pairs)).find_map(|(n, _)| n.name.clone()).or_else(|| {
            from(crate::batch::client::parse_endpoint(&url).ok().and_then(|u| host_account(&u)), Source::Host)
        });
    let same_name = |n: &Named| {
        n.name
            .as_ref()
            .is_none_or(|(given, _)| name.as_ref().is_some_and(|(chosen, _)| given.eq_ignore_ascii_case(chosen)))
    };
    let mut warnings = Vec::new();
    let others: Vec<String> = order
        .iter()
        .filter_map(|(n, _)| n.url.as_ref())
        .filter(|(u, _)| !same_endpoint(u, &url))
        .map(|(u, source)| format!("{u} ({source})"))
        .collect();
    if !others.is_empty() {
        warnings.push(format!("warning: using account {url} ({url_source}), not {}", others.join(", not ")));
    }
    let mut key = None;
    for (n, pairs) in order {
        let Some((secret, source)) = &n.key else { continue };
        if agrees(n, pairs) && same_name(n) {
            key = key.or(Some((secret.clone(), source.clone())));
        } else {
            let owner = n.url.as_ref().or(n.name.as_ref()).map(|(v, s)| format!("{v} ({s})")).unwrap_or_default();
            warnings.push(format!(
                "warning: the account key from {source} is not used: it is the key of {owner}, not of {url}"
            ));
        }
    }
    Account { endpoint, name, key, warnings }
}

/// Whether two spellings name one account (case, trailing slash or dot, default port aside).
fn same_endpoint(a: &str, b: &str) -> bool {
    let id = |text: &str| url::Url::parse(text.trim()).ok().map(|u| AccountId::from_endpoint(&u));
    match (id(a), id(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

/// https://ACCOUNT.REGION.batch.azure.com names the account.
fn host_account(url: &url::Url) -> Option<String> {
    url.host_str().and_then(|h| h.split('.').next()).filter(|h| !h.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: &str = "https://prod.westeurope.batch.azure.com";
    const DEAD: &str = "https://dead.westeurope.batch.azure.com";

    fn env(url: Option<&str>, name: Option<&str>, key: Option<&str>) -> Named {
        Named {
            url: from(url.map(String::from), Source::Env("AZURE_BATCH_ENDPOINT")),
            name: from(name.map(String::from), Source::Env("AZURE_BATCH_ACCOUNT")),
            key: from(key.map(Secret::new), Source::Env("AZURE_BATCH_ACCESS_KEY")),
        }
    }

    fn profile(name: &str, url: &str, key: Option<&str>) -> Named {
        let source = Source::Profile(name.into());
        Named {
            url: from(Some(url.into()), source.clone()),
            name: from(Some(name.into()), source.clone()),
            key: from(key.map(Secret::new), source),
        }
    }

    fn flags(url: Option<&str>) -> Named {
        Named { url: from(url.map(String::from), Source::Flag("--account-url")), ..Default::default() }
    }

    #[test]
    fn a_profile_named_on_the_command_line_beats_the_environment() {
        let chosen = choose(
            flags(None),
            env(Some(PROD), Some("prod"), Some("cHJvZA==")),
            Some(profile("dead", DEAD, None)),
            true,
        );
        assert_eq!(chosen.endpoint, Some((DEAD.into(), Source::Profile("dead".into()))));
        assert_eq!(chosen.name.map(|n| n.0).as_deref(), Some("dead"));
        assert!(chosen.key.is_none(), "the environment's key is prod's, never sent to dead");
        let text = chosen.warnings.join("\n");
        assert!(text.contains(DEAD) && text.contains(PROD) && text.contains("AZURE_BATCH_ENDPOINT"), "{text}");
        assert!(text.contains("AZURE_BATCH_ACCESS_KEY is not used"), "{text}");
        assert!(!text.contains("cHJvZA=="), "{text}");
    }

    #[test]
    fn without_the_flag_the_environment_beats_the_file_and_keeps_the_profile_key_home() {
        let chosen =
            choose(flags(None), env(Some(PROD), None, None), Some(profile("dead", DEAD, Some("ZGVhZA=="))), false);
        assert_eq!(chosen.endpoint.map(|e| e.1), Some(Source::Env("AZURE_BATCH_ENDPOINT")));
        assert_eq!(chosen.name, Some(("prod".into(), Source::Host)));
        assert!(chosen.key.is_none(), "dead's key is not sent to prod");
        assert!(chosen.warnings.iter().any(|w| w.contains("[accounts.dead] is not used")), "{:?}", chosen.warnings);
    }

    #[test]
    fn keys_go_with_their_own_account() {
        // A key in the environment beside the profile's URL (the secret kept out of the file).
        let chosen = choose(flags(None), env(None, None, Some("a2V5")), Some(profile("prod", PROD, None)), true);
        assert_eq!(chosen.key.map(|k| k.1), Some(Source::Env("AZURE_BATCH_ACCESS_KEY")));
        assert!(chosen.warnings.is_empty(), "{:?}", chosen.warnings);
        // ...but not when the environment names another account.
        let chosen =
            choose(flags(None), env(None, Some("other"), Some("a2V5")), Some(profile("prod", PROD, None)), true);
        assert!(chosen.key.is_none());
        // The same account spelled differently is the same account.
        let spelled = "HTTPS://Prod.WestEurope.batch.azure.com/";
        let chosen =
            choose(flags(None), env(Some(spelled), None, Some("a2V5")), Some(profile("prod", PROD, None)), true);
        assert!(chosen.key.is_some() && chosen.warnings.is_empty(), "{:?}", chosen.warnings);
        // --account with --account-url: the operator paired them.
        let local = "http://127.0.0.1:8080";
        let chosen = choose(flags(Some(local)), env(None, None, None), Some(profile("prod", PROD, Some("a2V5"))), true);
        assert_eq!(chosen.key.map(|k| k.1), Some(Source::Profile("prod".into())));
        assert_eq!(chosen.name.map(|n| n.0).as_deref(), Some("prod"));
        // --account-url beside a profile the file chose: another account, the profile's key stays home.
        let chosen =
            choose(flags(Some(local)), env(None, None, None), Some(profile("prod", PROD, Some("a2V5"))), false);
        assert!(chosen.key.is_none());
        assert_eq!(chosen.name, Some(("127".into(), Source::Host)));
    }
}
