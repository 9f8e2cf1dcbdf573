//! `repool sim --tls`: HTTPS on loopback under a certificate authority of the simulator's own.
//! Official SDKs (azure-core, the JavaScript clients) refuse bearer tokens over plain http, so an
//! Entra ID flow can only be tried against the simulator over TLS. The CA is written once to a
//! directory and reused on later starts, so a client told to trust `ca.pem` keeps trusting it;
//! the server certificate (localhost, 127.0.0.1, ::1) is issued anew at each start.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// The CA a client must trust, as written.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";

/// The CA's certificate, always the same for the same key (so a reloaded key issues certificates
/// that chain to the `ca.pem` written the first time).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "repool simulator local CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params
}

/// The CA in `dir`: loaded if written before, else made and written (files private to the user).
fn ca(dir: &Path) -> Result<Issuer<'static, KeyPair>, String> {
    let key_path = dir.join(CA_KEY_FILE);
    let cert_path = dir.join(CA_FILE);
    if key_path.exists() && cert_path.exists() {
        let pem = std::fs::read_to_string(&key_path).map_err(|e| format!("cannot read {}: {e}", key_path.display()))?;
        let key = KeyPair::from_pem(&pem).map_err(|e| {
            format!(
                "{} is not the simulator's CA key ({e}): delete {} to make a new CA",
                key_path.display(),
                dir.display()
            )
        })?;
        return Ok(Issuer::new(ca_params(), key));
    }
    let key = KeyPair::generate().map_err(|e| format!("cannot make a CA key: {e}"))?;
    let cert = ca_params().self_signed(&key).map_err(|e| format!("cannot make a CA certificate: {e}"))?;
    let write = |path: &Path, text: &str| {
        crate::files::write_atomic(path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&key_path, &key.serialize_pem())?;
    write(&cert_path, &cert.pem())?;
    Ok(Issuer::new(ca_params(), key))
}

/// The server's TLS settings under the CA in `dir`, and the path of the CA file to trust.
pub fn server_config(dir: &Path) -> Result<(Arc<rustls::ServerConfig>, PathBuf), String> {
    let issuer = ca(dir)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| e.to_string())?;
    params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    let key = KeyPair::generate().map_err(|e| format!("cannot make a server key: {e}"))?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| format!("cannot issue the server certificate: {e}"))?;
    let private = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).map_err(str::to_string)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], private)
        .map_err(|e| format!("cannot use the server certificate: {e}"))?;
    Ok((Arc::new(config), dir.join(CA_FILE)))
}

/// Accepts TCP connections and hands on those whose TLS handshake succeeded; handshakes run side
/// by side, so a client that never finishes one holds up nobody.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { continue };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
