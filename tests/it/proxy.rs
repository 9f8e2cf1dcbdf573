//! HTTPS through a proxy, end to end: the real binary reaches an `https://` Batch account only
//! through the CONNECT proxy in HTTPS_PROXY, verifies the account's certificate against the
//! trusted roots (here a test CA given by SSL_CERT_FILE), and refuses a certificate it cannot
//! verify, at once (a certificate does not get better by retrying). Behind the proxy's TLS end sits
//! the simulator.

use crate::common;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOST: &str = "simaccount.westeurope.batch.example";

/// A CA, and a certificate for HOST it issued.
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_params = {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    };
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![HOST.to_string()]).unwrap().signed_by(&leaf_key, &ca).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), server)
}

/// A CONNECT proxy that ends TLS for HOST itself and relays the plain HTTP to the simulator;
/// records each request line it was sent.
async fn proxy(tls: rustls::ServerConfig, sim: &repool::sim::RunningSim, seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let upstream: SocketAddr = sim.url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
                seen.lock().unwrap().push(line);
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.unwrap();
                let Ok(mut tls) = acceptor.accept(client).await else { return };
                let mut server = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    address
}

/// `repool pools` against https://HOST through `proxy`, trusting `ca_file` if given.
async fn pools_via_proxy(
    dir: &std::path::Path,
    sim: &repool::sim::RunningSim,
    proxy: SocketAddr,
    ca_file: Option<&std::path::Path>,
) -> std::process::Output {
    let mut command = common::repool_command(dir);
    command
        .args(["pools", "--account-url", &format!("https://{HOST}"), "--account-name", sim.account()])
        .env("AZURE_BATCH_ACCESS_KEY", sim.key())
        .env("HTTPS_PROXY", format!("http://{proxy}"))
        .env_remove("SSL_CERT_DIR")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    match ca_file {
        Some(file) => command.env("SSL_CERT_FILE", file),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_calls_go_through_the_proxy_with_tls_verified() {
    let sim = common::frozen_sim(Some("demo")).await;
    let (ca_pem, tls) = certificates();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = proxy(tls, &sim, seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let output = pools_via_proxy(dir.path(), &sim, proxy, Some(&ca_file)).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("p-render") && stdout.contains("p-ingest"), "the demo pools came back: {stdout}");
    let requests = seen.lock().unwrap().clone();
    assert!(requests.iter().any(|line| line == &format!("CONNECT {HOST}:443 HTTP/1.1")), "via the proxy: {requests:?}");
    assert!(sim.stats().requests.keys().any(|k| k.starts_with("GET list pools 200")), "{:?}", sim.stats().requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused() {
    let sim = common::frozen_sim(Some("demo")).await;
    let (_, tls) = certificates();
    let proxy = proxy(tls, &sim, Arc::new(Mutex::new(Vec::new()))).await;
    let dir = tempfile::tempdir().unwrap();
    let output = pools_via_proxy(dir.path(), &sim, proxy, None).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a configuration problem: {stderr}");
    assert!(stderr.contains("cannot be verified (UnknownIssuer)") && stderr.contains("SSL_CERT_FILE"), "{stderr}");
    assert!(!stderr.contains("BACKTRACE"), "an operator's message, not a report: {stderr}");
    assert!(sim.stats().requests.is_empty(), "nothing reached the account: {:?}", sim.stats().requests);
}
