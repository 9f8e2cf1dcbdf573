//! The one place reqwest clients are built: TLS provider, proxy and timeouts, so the Batch calls
//! and the token requests go through the same proxy with verification on.

use std::sync::Once;
use std::time::Duration;

/// Network settings shared by Batch and token requests.
#[derive(Clone, Debug, Default)]
pub struct HttpSettings {
    /// Explicit proxy URL (overrides HTTPS_PROXY); `NO_PROXY` still applies.
    pub proxy: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    /// The whole answer, headers to last byte (default 120 s).
    pub response_timeout: Option<Duration>,
    /// The largest body accepted (default 64 MiB).
    pub max_response_bytes: Option<u64>,
}

impl HttpSettings {
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout.unwrap_or(Duration::from_secs(120))
    }

    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes.unwrap_or(64 * 1024 * 1024)
    }
}

/// rustls needs a process-wide crypto provider; repool uses ring (no C toolchain beyond cc,
/// no OpenSSL). Installed before any client exists.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds a client for `target` (the Batch endpoint or token authority). Loopback targets never
/// go through a proxy, so a local simulator works with HTTPS_PROXY set.
pub fn build_client(settings: &HttpSettings, target: &url::Url) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout.unwrap_or(Duration::from_secs(10)))
        .read_timeout(settings.read_timeout.unwrap_or(Duration::from_secs(60)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("repool/", env!("CARGO_PKG_VERSION")));
    if is_loopback(target) {
        builder = builder.no_proxy();
    } else if let Some(proxy) = &settings.proxy {
        let proxy = reqwest::Proxy::all(proxy)
            .map_err(|e| format!("proxy '{proxy}' is not a valid URL ({e}); write it as http://host:port"))?
            .no_proxy(reqwest::NoProxy::from_env());
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| format!("cannot set up HTTPS: {e}"))
}

pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
