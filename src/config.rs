//! config.toml: model, load, and merge with the environment and flags (file < env < flags).

use crate::batch::http::HttpSettings;
use crate::batch::{ApiVersion, AuthMethod, AuthSettings, BatchDuration, NodeDeallocationOption};
use crate::cli::GlobalArgs;
use crate::errors::BadInput;
use crate::rollout::policy::{DrainTimeoutPolicy, RunPolicy};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod layout;
mod origin;
pub use origin::Source;
use origin::{Named, from};

/// The file as written. Unknown keys are errors, so a typo does not silently do nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Profile used when --account is not given.
    pub account: Option<String>,
    pub definition: Option<PathBuf>,
    pub api_version: Option<String>,
    pub proxy: Option<String>,
    /// Longest time one answer may take, headers to last byte.
    pub request_timeout_seconds: Option<u64>,
    /// Largest answer accepted, in MiB.
    pub max_response_mb: Option<u64>,
    pub refresh_seconds: Option<u64>,
    pub readonly: Option<bool>,
    pub log_level: Option<String>,
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
    #[serde(default)]
    pub recreate: RecreateConfig,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Dashboard key bindings: action name → key.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// Dashboard colours: role → colour.
    #[serde(default)]
    pub theme: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub url: Option<String>,
    pub name: Option<String>,
    pub definition: Option<PathBuf>,
    #[serde(default)]
    pub auth: AuthConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub method: Option<AuthMethod>,
    pub account_key: Option<Secret>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub certificate_path: Option<PathBuf>,
    pub certificate_password: Option<Secret>,
    pub federated_token_file: Option<PathBuf>,
    pub authority_host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecreateConfig {
    pub node_deallocation_option: Option<String>,
    pub resize_timeout: Option<String>,
    pub poll_seconds: Option<f64>,
    pub drain_timeout: Option<String>,
    pub wait_timeout: Option<String>,
    pub parallel: Option<usize>,
    pub on_drain_timeout: Option<DrainTimeoutPolicy>,
    pub sign_in_grace: Option<String>,
    pub healthy: Option<String>,
    pub health_timeout: Option<String>,
    pub canary: Option<usize>,
    pub on_unhealthy: Option<String>,
    pub max_unavailable: Option<usize>,
    pub probe: Option<bool>,
}

/// Where repool keeps its files.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// `REPOOL_CONFIG` / `REPOOL_DATA_DIR` override the platform directories.
    pub fn discover(config_flag: Option<&Path>) -> Result<Self, BadInput> {
        let dirs = directories::ProjectDirs::from("", "", "repool");
        let config_file = match config_flag.map(Path::to_path_buf).or_else(|| env_path("REPOOL_CONFIG")) {
            Some(path) => path,
            None => dirs.as_ref().map(|d| d.config_dir().join("config.toml")).ok_or_else(|| {
                BadInput::new("cannot find a home directory: pass --config FILE and set REPOOL_DATA_DIR")
            })?,
        };
        let data_dir = match env_path("REPOOL_DATA_DIR") {
            Some(path) => path,
            None => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| BadInput::new("cannot find a home directory: set REPOOL_DATA_DIR"))?,
        };
        Ok(Paths { config_file, data_dir })
    }

    pub fn journal_dir(&self) -> PathBuf {
        layout::journal(&self.data_dir)
    }

    pub fn backup_dir(&self) -> PathBuf {
        layout::backups(&self.data_dir)
    }

    pub fn log_dir(&self) -> PathBuf {
        layout::logs(&self.data_dir)
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where each account setting came from.
#[derive(Clone, Debug)]
pub struct Sources {
    pub profile: Source,
    pub endpoint: Source,
    pub account_name: Source,
    /// None: no account key.
    pub account_key: Option<Source>,
    pub auth: Source,
    pub api_version: Source,
    pub definition: Source,
}

/// Everything resolved: what the commands use.
#[derive(Clone, Debug)]
pub struct Settings {
    pub paths: Paths,
    pub config_found: bool,
    pub profile: Option<String>,
    /// Every `[accounts.NAME]` of the config file and its URL (the dashboard switches between them).
    pub accounts: Vec<(String, String)>,
    /// The flags these settings were resolved with (another account resolves with them too).
    pub flags: GlobalArgs,
    pub endpoint: Option<String>,
    pub auth: AuthSettings,
    /// Where the account settings came from (`repool info`).
    pub sources: Sources,
    /// Said on stderr before a command runs: which endpoint won, any key left unused.
    pub warnings: Vec<String>,
    pub http: HttpSettings,
    pub api_version: ApiVersion,
    pub definition: Option<PathBuf>,
    pub vars: BTreeMap<String, String>,
    pub refresh: Duration,
    pub readonly: bool,
    pub policy: RunPolicy,
    pub log_level: String,
    pub keys: BTreeMap<String, String>,
    pub theme: BTreeMap<String, String>,
}

impl Settings {
    /// The config's account `name`, with the flags that do not name an account of their own.
    pub fn for_account(&self, name: &str) -> Result<Self, BadInput> {
        let flags = GlobalArgs {
            config: Some(self.paths.config_file.clone()),
            account: Some(name.to_string()),
            account_url: None,
            account_name: None,
            definition: None,
            ..self.flags.clone()
        };
        Self::load(&flags, false)
    }

    /// Loads the config file (absent is fine unless named explicitly, or `missing_ok`) and applies
    /// env and flags.
    pub fn load(flags: &GlobalArgs, missing_ok: bool) -> Result<Self, BadInput> {
        let paths = Paths::discover(flags.config.as_deref())?;
        let explicit = (flags.config.is_some() || env("REPOOL_CONFIG").is_some()) && !missing_ok;
        let (file, config_found) = match std::fs::read_to_string(&paths.config_file) {
            Ok(text) => (parse_file(&paths.config_file, &text)?, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => (FileConfig::default(), false),
            Err(e) => {
                return Err(BadInput::new(format!(
                    "cannot read config file {}: {e}; check --config / REPOOL_CONFIG",
                    paths.config_file.display()
                )));
            }
        };
        if config_found {
            warn_if_secret_readable(&paths.config_file, &file);
        }
        Self::resolve(paths, config_found, file, flags)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "every setting's precedence (flag, profile, environment, file) decided in one place, top to bottom"
    )]
    fn resolve(paths: Paths, config_found: bool, mut file: FileConfig, flags: &GlobalArgs) -> Result<Self, BadInput> {
        let shown = paths.config_file.display().to_string();
        let profile = match (&flags.account, &file.account) {
            (Some(name), _) => Some((name.clone(), Source::Flag("--account"))),
            (None, Some(name)) => Some((name.clone(), Source::File)),
            (None, None) if file.accounts.len() == 1 => {
                file.accounts.keys().next().map(|n| (n.clone(), Source::OnlyProfile))
            }
            (None, None) => None,
        };
        let accounts =
            file.accounts.iter().map(|(name, a)| (name.clone(), a.url.clone().unwrap_or_default())).collect();
        let account = match &profile {
            Some((name, _)) => file.accounts.remove(name).ok_or_else(|| {
                let known: Vec<_> = file.accounts.keys().cloned().collect();
                BadInput::new(format!(
                    "{shown}: no [accounts.{name}] section (known: {}); add it or pick another with --account",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ))
            })?,
            None => AccountConfig::default(),
        };
        let a = account.auth;
        let named = matches!(profile, Some((_, Source::Flag(_))));
        let chosen = origin::choose(
            Named {
                url: from(flags.account_url.clone(), Source::Flag("--account-url")),
                name: from(flags.account_name.clone(), Source::Flag("--account-name")),
                key: None,
            },
            Named {
                url: from(env("AZURE_BATCH_ENDPOINT"), Source::Env("AZURE_BATCH_ENDPOINT")),
                name: from(env("AZURE_BATCH_ACCOUNT"), Source::Env("AZURE_BATCH_ACCOUNT")),
                key: from(env("AZURE_BATCH_ACCESS_KEY").map(Secret::new), Source::Env("AZURE_BATCH_ACCESS_KEY")),
            },
            profile.as_ref().map(|(name, _)| {
                let source = Source::Profile(name.clone());
                Named {
                    url: from(account.url, source.clone()),
                    name: from(account.name, source.clone()),
                    key: from(a.account_key, source),
                }
            }),
            named,
        );
        // Sign-in: a profile named with --account beats the environment here too, and a client's
        // secret or certificate only signs in as that client (never as another place's client).
        let client_id = first(named, env("AZURE_CLIENT_ID"), a.client_id.clone());
        let owns = |given: Option<String>| given.is_none_or(|c| Some(&c) == client_id.as_ref());
        let (env_owns, file_owns) = (owns(env("AZURE_CLIENT_ID")), owns(a.client_id.clone()));
        let secret = |env_name: &str, file_value: Option<Secret>| {
            first(named, env(env_name).filter(|_| env_owns).map(Secret::new), file_value.filter(|_| file_owns))
        };
        let profile_source =
            || profile.as_ref().map(|(name, _)| Source::Profile(name.clone())).unwrap_or(Source::Default);
        let sources = Sources {
            profile: profile.as_ref().map(|(_, s)| s.clone()).unwrap_or(Source::Default),
            endpoint: chosen.endpoint.as_ref().map(|e| e.1.clone()).unwrap_or(Source::Default),
            account_name: chosen.name.as_ref().map(|n| n.1.clone()).unwrap_or(Source::Default),
            account_key: chosen.key.as_ref().map(|k| k.1.clone()),
            auth: match (flags.auth, a.method) {
                (Some(_), _) => Source::Flag("--auth"),
                (None, Some(_)) => profile_source(),
                (None, None) => Source::Default,
            },
            api_version: if flags.api_version.is_some() {
                Source::Flag("--api-version")
            } else if file.api_version.is_some() {
                Source::File
            } else {
                Source::Default
            },
            definition: if flags.definition.is_some() {
                Source::Flag("--definition")
            } else if account.definition.is_some() {
                profile_source()
            } else if file.definition.is_some() {
                Source::File
            } else {
                Source::Default
            },
        };
        let auth = AuthSettings {
            method: flags.auth.or(a.method).unwrap_or_default(),
            account_name: chosen.name.map(|n| n.0).unwrap_or_default(),
            account_key: chosen.key.map(|k| k.0),
            tenant_id: first(named, env("AZURE_TENANT_ID"), a.tenant_id),
            client_id,
            client_secret: secret("AZURE_CLIENT_SECRET", a.client_secret),
            certificate_path: first(
                named,
                env_path("AZURE_CLIENT_CERTIFICATE_PATH").filter(|_| env_owns),
                a.certificate_path.filter(|_| file_owns),
            ),
            certificate_password: secret("AZURE_CLIENT_CERTIFICATE_PASSWORD", a.certificate_password),
            federated_token_file: first(named, env_path("AZURE_FEDERATED_TOKEN_FILE"), a.federated_token_file),
            authority_host: first(named, env("AZURE_AUTHORITY_HOST"), a.authority_host),
        };
        let proxy = env("HTTPS_PROXY").or_else(|| env("https_proxy")).or(file.proxy);
        let mut vars = file.vars;
        for pair in &flags.vars {
            let (k, v) =
                pair.split_once('=').ok_or_else(|| BadInput::new(format!("--var '{pair}' must be KEY=VALUE")))?;
            vars.insert(k.trim().to_string(), v.to_string());
        }
        let api_version = match (&flags.api_version, file.api_version) {
            (Some(text), _) => text.parse().map_err(|e| BadInput::new(format!("--api-version: {e}")))?,
            (None, Some(text)) => text.parse().map_err(|e| BadInput::new(format!("{shown}: api_version: {e}")))?,
            (None, None) => ApiVersion::DEFAULT,
        };
        let policy = policy(&shown, file.recreate)?;
        if policy.node_deallocation_option == NodeDeallocationOption::RetainedData && !api_version.has_retained_data() {
            let from = if flags.api_version.is_some() { "--api-version" } else { "api_version in the config" };
            return Err(BadInput::new(format!(
                "{shown}: [recreate] node_deallocation_option 'retaineddata' does not exist in api-version \
                 {api_version} ({from}; gone from 2026-08-01 on): use taskcompletion, requeue or terminate, \
                 or an api-version before 2026-08-01"
            )));
        }
        Ok(Settings {
            config_found,
            profile: profile.map(|(name, _)| name),
            accounts,
            flags: flags.clone(),
            endpoint: chosen.endpoint.map(|e| e.0),
            auth,
            sources,
            warnings: chosen.warnings,
            http: HttpSettings {
                proxy,
                response_timeout: file.request_timeout_seconds.map(|s| Duration::from_secs(s.max(1))),
                max_response_bytes: file.max_response_mb.map(|mb| mb.max(1) * 1024 * 1024),
                ..Default::default()
            },
            api_version,
            definition: flags.definition.clone().or(account.definition).or(file.definition),
            vars,
            refresh: Duration::from_secs(file.refresh_seconds.unwrap_or(5).max(1)),
            readonly: flags.readonly || file.readonly.unwrap_or(false),
            policy,
            log_level: flags
                .log_level
                .clone()
                .or_else(|| env("REPOOL_LOG"))
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            keys: file.keys,
            theme: file.theme,
            paths,
        })
    }
}

/// The environment's value or the file's; the file's first when its profile was named with --account.
fn first<T>(named: bool, env_value: Option<T>, file_value: Option<T>) -> Option<T> {
    if named { file_value.or(env_value) } else { env_value.or(file_value) }
}

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, BadInput> {
    toml::from_str(text)
        .map_err(|e| BadInput::new(format!("config file {}: {e}see config.example.toml for every key", path.display())))
}

fn policy(shown: &str, c: RecreateConfig) -> Result<RunPolicy, BadInput> {
    let mut policy = RunPolicy::default();
    let duration = |key: &str, text: &str| {
        BatchDuration::parse(text).map_err(|e| BadInput::new(format!("{shown}: [recreate] {key}: {e}")))
    };
    if let Some(option) = c.node_deallocation_option {
        policy.node_deallocation_option = match NodeDeallocationOption::from(option.as_str()) {
            NodeDeallocationOption::Other(v) => {
                return Err(BadInput::new(format!(
                    "{shown}: [recreate] node_deallocation_option '{v}' is not one of taskcompletion, retaineddata, requeue, terminate"
                )));
            }
            known => known,
        };
    }
    if let Some(text) = c.resize_timeout {
        policy.resize_timeout = duration("resize_timeout", &text)?;
        if policy.resize_timeout < BatchDuration::from_mins(5) {
            return Err(BadInput::new(format!(
                "{shown}: [recreate] resize_timeout must be at least PT5M (Batch's minimum)"
            )));
        }
    }
    if let Some(secs) = c.poll_seconds {
        if !(secs.is_finite() && secs >= 0.05) {
            return Err(BadInput::new(format!(
                "{shown}: [recreate] poll_seconds must be a number of seconds, at least 0.05"
            )));
        }
        policy.poll_interval = Duration::from_secs_f64(secs);
        policy.fast_poll_interval = policy.fast_poll_interval.min(policy.poll_interval / 2);
    }
    if let Some(text) = c.drain_timeout {
        policy.drain_timeout = duration("drain_timeout", &text)?.as_std();
    }
    if let Some(text) = c.wait_timeout {
        policy.wait_timeout = duration("wait_timeout", &text)?.as_std();
    }
    if let Some(parallel) = c.parallel {
        if parallel == 0 {
            return Err(BadInput::new(format!("{shown}: [recreate] parallel must be at least 1")));
        }
        policy.parallel = parallel;
    }
    if let Some(text) = c.healthy {
        policy.healthy =
            text.parse().map_err(|e: String| BadInput::new(format!("{shown}: [recreate] healthy: {e}")))?;
    }
    if let Some(text) = c.on_unhealthy {
        policy.on_unhealthy =
            text.parse().map_err(|e: String| BadInput::new(format!("{shown}: [recreate] on_unhealthy: {e}")))?;
    }
    if let Some(canary) = c.canary {
        policy.canary = canary;
    }
    if let Some(max) = c.max_unavailable {
        if max == 0 {
            return Err(BadInput::new(format!("{shown}: [recreate] max_unavailable must be at least 1")));
        }
        policy.max_unavailable = Some(max);
    }
    if let Some(probe) = c.probe {
        policy.probe = probe;
    }
    if let Some(text) = c.health_timeout {
        policy.health_timeout = duration("health_timeout", &text)?.as_std();
    }
    if let Some(text) = c.sign_in_grace {
        policy.sign_in_grace = duration("sign_in_grace", &text)?.as_std();
    }
    if let Some(on_timeout) = c.on_drain_timeout {
        policy.on_drain_timeout = on_timeout;
    }
    Ok(policy)
}

/// A secret in a file others can read deserves a warning (not an error: it is their machine).
fn warn_if_secret_readable(path: &Path, file: &FileConfig) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let holds_secret = file.accounts.values().any(|a| {
            a.auth.account_key.is_some() || a.auth.client_secret.is_some() || a.auth.certificate_password.is_some()
        });
        let others_read = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o044 != 0).unwrap_or(false);
        if holds_secret && others_read {
            crate::noteln!(
                "warning: {} holds a secret and other users can read it; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, flags: GlobalArgs) -> Result<Settings, BadInput> {
        let paths = Paths { config_file: "c.toml".into(), data_dir: "d".into() };
        Settings::resolve(paths, true, parse_file(Path::new("c.toml"), text)?, &flags)
    }

    #[test]
    fn the_example_config_documents_real_keys() {
        let settings = resolve(include_str!("../config.example.toml"), GlobalArgs::default())
            .unwrap_or_else(|e| panic!("config.example.toml: {e}"));
        assert_eq!(settings.policy.sign_in_grace, Duration::from_secs(60));
        assert_eq!(settings.http.max_response_bytes(), 64 * 1024 * 1024);
    }

    #[test]
    fn flags_beat_the_file() {
        let text = "[accounts.prod]\nurl = \"https://a.westus.batch.azure.com\"\nname = \"a\"\n[accounts.prod.auth]\nmethod = \"azure-cli\"\n";
        let url = Some("http://127.0.0.1:1".to_string());
        let s = resolve(text, GlobalArgs { account_url: url.clone(), ..Default::default() }).unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(s.sources.endpoint, Source::Flag("--account-url"));
        assert_eq!(s.auth.method, AuthMethod::AzureCli);
        assert_eq!(s.sources.auth, Source::Profile("prod".into()));
        assert_eq!((s.profile.as_deref(), &s.sources.profile), (Some("prod"), &Source::OnlyProfile));
        assert!(s.warnings.iter().any(|w| w.contains("a.westus.batch.azure.com")), "{:?}", s.warnings);
        // The file's profile names another URL: its account name is not this endpoint's...
        assert_eq!(s.sources.account_name, Source::Host);
        // ...unless --account pairs them on the command line.
        let paired = GlobalArgs { account: Some("prod".into()), account_url: url, ..Default::default() };
        let s = resolve(text, paired).unwrap();
        assert_eq!((s.auth.account_name.as_str(), &s.sources.account_name), ("a", &Source::Profile("prod".into())));
    }

    #[test]
    fn typos_and_bad_values_name_the_place() {
        let err = resolve("refresh_secnds = 3\n", GlobalArgs::default()).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("line 1") && err.contains("refresh_secnds"), "{err}");
        let err = resolve("[recreate]\nresize_timeout = \"PT1M\"\n", GlobalArgs::default()).unwrap_err().to_string();
        assert!(err.contains("at least PT5M"), "{err}");
        let err = resolve("[recreate]\nnode_deallocation_option = \"nope\"\n", GlobalArgs::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let err = resolve("", GlobalArgs { account: Some("x".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("[accounts.x]"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let text = "[accounts.a.auth]\naccount_key = \"c2VjcmV0LWtleQ==\"\nclient_secret = \"hunter2\"\n";
        let s = resolve(text, GlobalArgs::default()).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("c2VjcmV0LWtleQ==") && !shown.contains("hunter2"), "{shown}");
    }
}
