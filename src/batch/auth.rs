//! How repool signs in: Shared Key, or a Microsoft Entra ID token from azure_identity
//! (certificate, client secret, Azure CLI, managed identity, workload identity, or an `auto`
//! chain). One `Credential` for the client; all settings checked before any request is sent.

use super::cert::ClientCertificate;
use super::error::BatchError;
use super::http::{HttpSettings, build_client};
use super::shared_key::SharedKey;
use crate::secret::Secret;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientMethodOptions, ClientOptions, FixedRetryOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The token scope of the Batch data plane (the double slash is correct).
pub const BATCH_SCOPE: &str = "https://batch.core.windows.net//.default";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// Account key if one is set, else the Entra ID chain (env secret/certificate, workload
    /// identity, managed identity, Azure CLI).
    #[default]
    Auto,
    SharedKey,
    ClientCertificate,
    ClientSecret,
    AzureCli,
    ManagedIdentity,
    WorkloadIdentity,
}

impl AuthMethod {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::SharedKey => "shared-key",
            AuthMethod::ClientCertificate => "client-certificate",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::AzureCli => "azure-cli",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::WorkloadIdentity => "workload-identity",
        }
    }
}

/// Everything sign-in may need, merged from config, environment and flags.
#[derive(Clone, Debug, Default)]
pub struct AuthSettings {
    pub method: AuthMethod,
    pub account_name: String,
    pub account_key: Option<Secret>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub certificate_path: Option<PathBuf>,
    pub certificate_password: Option<Secret>,
    pub federated_token_file: Option<PathBuf>,
    /// Entra ID authority, `https://login.microsoftonline.com` unless a sovereign cloud.
    pub authority_host: Option<String>,
}

/// A ready credential. Cloning is cheap; an Entra token is kept until five minutes before it
/// expires, then fetched again, so a dashboard can run for days.
#[derive(Clone, Debug)]
pub enum Credential {
    SharedKey(SharedKey),
    Entra { method: &'static str, token: Arc<TokenCache> },
}

/// How long before its expiry a token is fetched again (azure_identity's own margin).
const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// One Batch token, fetched when missing or about to expire. azure_identity's AzureCliCredential
/// starts `az` for every token (about a second each, on every API call); the other kinds cache
/// in their own way. The lock also makes concurrent requests wait for one fetch, not start many.
#[derive(Debug)]
pub struct TokenCache {
    source: Arc<dyn TokenCredential>,
    current: tokio::sync::Mutex<Option<AccessToken>>,
}

impl TokenCache {
    pub fn new(source: Arc<dyn TokenCredential>) -> Self {
        TokenCache { source, current: tokio::sync::Mutex::new(None) }
    }

    /// The Batch token: the one kept, or a fresh one when it expires within the margin.
    pub async fn token(&self) -> azure_core::Result<AccessToken> {
        let mut current = self.current.lock().await;
        match current.as_ref() {
            Some(token) if token.expires_on > OffsetDateTime::now_utc() + REFRESH_MARGIN => Ok(token.clone()),
            _ => {
                let token = self.source.get_token(&[BATCH_SCOPE], None).await?;
                *current = Some(token.clone());
                Ok(token)
            }
        }
    }
}

impl Credential {
    /// Builds the credential for `settings`, with token requests going through `http`'s proxy.
    pub fn from_settings(settings: &AuthSettings, http: &HttpSettings) -> Result<Self, String> {
        let authority = authority(settings)?;
        let client = build_client(http, &authority)?;
        Self::with_transport(settings, Transport::new(Arc::new(client)))
    }

    /// As `from_settings`, with an explicit transport for the token requests (tests point it
    /// at a local token endpoint).
    pub fn with_transport(settings: &AuthSettings, transport: Transport) -> Result<Self, String> {
        let entra = |method: &'static str, token: Arc<dyn TokenCredential>| Credential::Entra {
            method,
            token: Arc::new(TokenCache::new(token)),
        };
        let options = || client_options(settings, transport.clone());
        Ok(match settings.method {
            AuthMethod::SharedKey => Credential::SharedKey(shared_key(settings)?),
            AuthMethod::Auto if settings.account_key.is_some() => Credential::SharedKey(shared_key(settings)?),
            AuthMethod::Auto => entra("auto", Arc::new(ChainCredential::new(settings, &options)?)),
            AuthMethod::ClientSecret => entra("client-secret", client_secret(settings, options()?)?),
            AuthMethod::ClientCertificate => entra("client-certificate", client_certificate(settings, options()?)?),
            AuthMethod::AzureCli => entra("azure-cli", azure_cli(settings)?),
            AuthMethod::ManagedIdentity => entra("managed-identity", managed_identity(settings, options()?)?),
            AuthMethod::WorkloadIdentity => entra("workload-identity", workload_identity(settings, options()?)?),
        })
    }

    pub fn method(&self) -> &'static str {
        match self {
            Credential::SharedKey(_) => "shared-key",
            Credential::Entra { method, .. } => method,
        }
    }

    /// Signs or adds a bearer token to `request`.
    pub async fn authorize(&self, request: &mut reqwest::Request) -> Result<(), BatchError> {
        match self {
            Credential::SharedKey(key) => key.sign(request),
            Credential::Entra { method, token } => {
                let token = token.token().await.map_err(|e| BatchError::Auth { method, detail: sign_in_detail(&e) })?;
                let value = format!("Bearer {}", token.token.secret());
                request.headers_mut().insert(
                    reqwest::header::AUTHORIZATION,
                    value
                        .parse()
                        .map_err(|_| BatchError::Auth { method, detail: "the token is not a valid header".into() })?,
                );
            }
        }
        Ok(())
    }
}

/// Why a token request failed, for an operator: an unverifiable certificate of the authority (a
/// TLS-inspecting proxy, a local endpoint) says what to trust instead of the SDK's retry story.
fn sign_in_detail(e: &dyn std::error::Error) -> String {
    let chain = error_chain(e);
    match chain.split_once("invalid peer certificate: ") {
        Some((_, reason)) => format!(
            "the sign-in authority presented a TLS certificate that cannot be verified ({}). If a proxy inspects \
             TLS, add its CA certificate to the system trust store or SSL_CERT_FILE; repool never turns \
             verification off",
            reason.split(':').next().unwrap_or(reason).trim()
        ),
        None => chain,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn authority(settings: &AuthSettings) -> Result<url::Url, String> {
    let host = settings.authority_host.as_deref().unwrap_or(DEFAULT_AUTHORITY);
    let url = url::Url::parse(host)
        .map_err(|e| format!("auth.authority_host '{host}' is not a URL ({e}); e.g. {DEFAULT_AUTHORITY}"))?;
    if url.scheme() != "https" {
        return Err(format!("auth.authority_host '{host}' must use https"));
    }
    Ok(url)
}

fn client_options(settings: &AuthSettings, transport: Transport) -> Result<ClientOptions, String> {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority(settings)?.as_str().trim_end_matches('/').to_string();
    // A few quick retries: azure_core's default retries for over 80 s before saying anything.
    let retry = FixedRetryOptions {
        max_retries: 2,
        delay: azure_core::time::Duration::milliseconds(500),
        max_total_elapsed: azure_core::time::Duration::seconds(15),
    };
    Ok(ClientOptions {
        transport: Some(transport),
        retry: RetryOptions::fixed(retry),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        ..Default::default()
    })
}

fn required<'a>(value: &'a Option<String>, what: &str, key: &str, env: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{what} is not set: set auth.{key} in config.toml or {env}"))
}

fn shared_key(settings: &AuthSettings) -> Result<SharedKey, String> {
    let key = settings.account_key.as_ref().filter(|k| !k.is_empty()).ok_or(
        "shared-key sign-in needs the account key: set auth.account_key in config.toml or AZURE_BATCH_ACCESS_KEY",
    )?;
    SharedKey::new(&settings.account_name, key.expose())
}

fn client_secret(settings: &AuthSettings, options: ClientOptions) -> Result<Arc<dyn TokenCredential>, String> {
    let tenant = required(&settings.tenant_id, "the tenant id", "tenant_id", "AZURE_TENANT_ID")?;
    let client = required(&settings.client_id, "the client id", "client_id", "AZURE_CLIENT_ID")?;
    let secret = settings.client_secret.as_ref().filter(|s| !s.is_empty()).ok_or(
        "client-secret sign-in needs the secret: set auth.client_secret in config.toml or AZURE_CLIENT_SECRET",
    )?;
    let credential = ClientSecretCredential::new(
        tenant,
        client.to_string(),
        secret.expose().to_string().into(),
        Some(ClientSecretCredentialOptions { client_options: options }),
    )
    .map_err(|e| format!("client-secret sign-in: {e}"))?;
    Ok(credential)
}

fn client_certificate(settings: &AuthSettings, options: ClientOptions) -> Result<Arc<dyn TokenCredential>, String> {
    let tenant = required(&settings.tenant_id, "the tenant id", "tenant_id", "AZURE_TENANT_ID")?;
    let client = required(&settings.client_id, "the client id", "client_id", "AZURE_CLIENT_ID")?;
    let path = settings.certificate_path.as_ref().ok_or(
        "client-certificate sign-in needs the certificate: set auth.certificate_path in config.toml or AZURE_CLIENT_CERTIFICATE_PATH",
    )?;
    let certificate = ClientCertificate::load(path, settings.certificate_password.as_ref().map(Secret::expose))?;
    let token_url = format!("{}/{tenant}/oauth2/v2.0/token", authority(settings)?.as_str().trim_end_matches('/'));
    let assertion =
        CertificateAssertion { certificate: Arc::new(certificate), client_id: client.to_string(), token_url };
    let credential = ClientAssertionCredential::new(
        tenant.to_string(),
        client.to_string(),
        assertion,
        Some(ClientAssertionCredentialOptions { client_options: options }),
    )
    .map_err(|e| format!("client-certificate sign-in: {e}"))?;
    Ok(credential)
}

fn azure_cli(settings: &AuthSettings) -> Result<Arc<dyn TokenCredential>, String> {
    let options = AzureCliCredentialOptions { tenant_id: settings.tenant_id.clone(), ..Default::default() };
    Ok(AzureCliCredential::new(Some(options)).map_err(|e| format!("azure-cli sign-in: {e}"))?)
}

fn managed_identity(settings: &AuthSettings, options: ClientOptions) -> Result<Arc<dyn TokenCredential>, String> {
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
        client_options: options,
    };
    Ok(ManagedIdentityCredential::new(Some(options)).map_err(|e| format!("managed-identity sign-in: {e}"))?)
}

fn workload_identity(settings: &AuthSettings, options: ClientOptions) -> Result<Arc<dyn TokenCredential>, String> {
    let options = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions { client_options: options },
        client_id: settings.client_id.clone(),
        tenant_id: settings.tenant_id.clone(),
        token_file_path: settings.federated_token_file.clone(),
    };
    Ok(WorkloadIdentityCredential::new(Some(options)).map_err(|e| {
        format!(
            "workload-identity sign-in: {e}; it needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE"
        )
    })?)
}

/// Signs a fresh client assertion for every token request.
#[derive(Debug)]
struct CertificateAssertion {
    certificate: Arc<ClientCertificate>,
    client_id: String,
    token_url: String,
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.certificate
            .assertion(&self.client_id, &self.token_url)
            .map_err(|e| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e))
    }
}

/// The `auto` chain: the first credential that yields a token is used from then on.
#[derive(Debug)]
struct ChainCredential {
    links: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    chosen: AtomicUsize,
}

impl ChainCredential {
    fn new(settings: &AuthSettings, options: &dyn Fn() -> Result<ClientOptions, String>) -> Result<Self, String> {
        let mut links: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        let has_app = settings.tenant_id.is_some() && settings.client_id.is_some();
        if has_app && settings.client_secret.is_some() {
            links.push(("client-secret", client_secret(settings, options()?)?));
        }
        if has_app && settings.certificate_path.is_some() {
            links.push(("client-certificate", client_certificate(settings, options()?)?));
        }
        if settings.federated_token_file.is_some() && has_app {
            links.push(("workload-identity", workload_identity(settings, options()?)?));
        }
        links.push(("managed-identity", managed_identity(settings, options()?)?));
        links.push(("azure-cli", azure_cli(settings)?));
        Ok(ChainCredential { links, chosen: AtomicUsize::new(usize::MAX) })
    }
}

#[async_trait::async_trait]
impl TokenCredential for ChainCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = self.chosen.load(Ordering::Relaxed);
        if let Some((_, link)) = self.links.get(chosen) {
            return link.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (index, (name, link)) in self.links.iter().enumerate() {
            match link.get_token(scopes, options.clone()).await {
                Ok(token) => {
                    tracing::info!(credential = name, "auto sign-in chose {name}");
                    self.chosen.store(index, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(e) => failures.push(format!("{name}: {}", error_chain(&e))),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no sign-in method worked ({}); set auth.method and its settings in config.toml",
                failures.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::Secret as TokenSecret;

    /// Hands out tokens that expire `lifetime` after they are made, counting them.
    #[derive(Debug)]
    struct Counting {
        lifetime: Duration,
        made: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(&self, _: &[&str], _: Option<TokenRequestOptions<'_>>) -> azure_core::Result<AccessToken> {
            let n = self.made.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(TokenSecret::new(format!("token-{n}")), OffsetDateTime::now_utc() + self.lifetime))
        }
    }

    async fn tokens(lifetime: Duration, requests: usize) -> (usize, Vec<String>) {
        let source = Arc::new(Counting { lifetime, made: AtomicUsize::new(0) });
        let cache = TokenCache::new(source.clone());
        let mut seen = Vec::new();
        for _ in 0..requests {
            seen.push(cache.token().await.unwrap().token.secret().to_string());
        }
        (source.made.load(Ordering::SeqCst), seen)
    }

    #[tokio::test]
    async fn a_token_is_kept_until_shortly_before_it_expires() {
        let (made, seen) = tokens(Duration::hours(1), 5).await;
        assert_eq!((made, seen.last().map(String::as_str)), (1, Some("token-0")));
        // One that expires within the margin (or has expired) is fetched again every time.
        for lifetime in [Duration::minutes(4), Duration::seconds(-10)] {
            let (made, seen) = tokens(lifetime, 3).await;
            assert_eq!((made, seen.last().map(String::as_str)), (3, Some("token-2")));
        }
    }
}
