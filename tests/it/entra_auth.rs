//! Entra ID sign-in end to end against a local fake token endpoint: the certificate flow (PEM and
//! PKCS#12) signs a client assertion the endpoint verifies with the certificate's public key and
//! `x5t`; the client secret, workload identity and managed identity (IMDS) flows; the Azure CLI flow
//! (a stand-in `az`); and the bad-input errors.
//! Test keys are generated here.

use crate::common;

use azure_core::http::{AsyncRawResponse, HttpClient, Request, Transport};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use repool::batch::http::HttpSettings;
use repool::batch::{AuthMethod, AuthSettings, BatchClient, Credential, RetryPolicy};
use repool::secret::Secret;
use repool::sim::{self, SimOptions};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const AUTHORITY: &str = "https://login.fake.local";
const TENANT: &str = "tenant-1";
const CLIENT: &str = "app-1";
/// What Kubernetes projects into the workload's token file.
const FEDERATED_TOKEN: &str = "eyJfederated.workload.token";

struct TestCertificate {
    key_pem: String,
    cert_pem: String,
    cert_der: Vec<u8>,
    pkcs8_der: Vec<u8>,
    public_pkcs1: Vec<u8>,
}

fn make_certificate() -> TestCertificate {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let pkcs8_der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let public_pkcs1 = key.to_public_key().to_pkcs1_der().unwrap().as_bytes().to_vec();
    let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["repool-test-sp".into()]).unwrap().self_signed(&pair).unwrap();
    TestCertificate { key_pem, cert_pem: cert.pem(), cert_der: cert.der().to_vec(), pkcs8_der, public_pkcs1 }
}

/// What the fake endpoint saw: Ok(grant description) or Err(why it refused).
type Seen = Arc<Mutex<Vec<Result<String, String>>>>;

/// A token endpoint that checks client assertions against `cert` (or the federated token) and
/// secrets against "s3cret".
async fn token_endpoint(cert: Option<(Vec<u8>, Vec<u8>)>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let handler = move |axum::extract::Path(tenant): axum::extract::Path<String>, body: String| {
        let log = log.clone();
        let cert = cert.clone();
        async move {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            let verdict = check_grant(&tenant, &form, cert.as_ref());
            log.lock().unwrap().push(verdict.clone());
            match verdict {
                Ok(_) => json_reply(
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": "fake-token"}),
                ),
                Err(why) => json_reply(
                    401,
                    json!({"error": "invalid_client", "error_codes": [700027], "error_description": why}),
                ),
            }
        }
    };
    let imds_log = seen.clone();
    // The instance metadata endpoint managed identity asks (169.254.169.254, redirected here).
    let imds = move |headers: axum::http::HeaderMap, axum::extract::RawQuery(query): axum::extract::RawQuery| {
        let log = imds_log.clone();
        async move {
            let query: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
            let verdict = if headers.get("metadata").is_none_or(|v| v != "true") {
                Err("no Metadata: true header".to_string())
            } else if query.get("resource").map(String::as_str) != Some("https://batch.core.windows.net/") {
                Err(format!("wrong resource {:?}", query.get("resource")))
            } else {
                Ok(format!("managed {}", query.get("client_id").map(String::as_str).unwrap_or("system-assigned")))
            };
            log.lock().unwrap().push(verdict.clone());
            let expires = (jiff::Timestamp::now().as_second() + 3600).to_string();
            match verdict {
                Ok(_) => json_reply(
                    200,
                    json!({"access_token": "mi-token", "expires_on": expires, "resource": "https://batch.core.windows.net/", "token_type": "Bearer"}),
                ),
                Err(why) => json_reply(400, json!({"error": "invalid_request", "error_description": why})),
            }
        }
    };
    let app = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(handler))
        .route("/metadata/identity/oauth2/token", axum::routing::get(imds));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn json_reply(status: u16, body: Value) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

fn check_grant(
    tenant: &str,
    form: &std::collections::HashMap<String, String>,
    cert: Option<&(Vec<u8>, Vec<u8>)>,
) -> Result<String, String> {
    if tenant != TENANT || form.get("client_id").map(String::as_str) != Some(CLIENT) {
        return Err("wrong tenant or client".into());
    }
    if form.get("scope").map(String::as_str) != Some("https://batch.core.windows.net//.default") {
        return Err(format!("wrong scope {:?}", form.get("scope")));
    }
    if let Some(secret) = form.get("client_secret") {
        return if secret == "s3cret" { Ok("secret".into()) } else { Err("bad secret".into()) };
    }
    if form.get("client_assertion").map(String::as_str) == Some(FEDERATED_TOKEN) {
        return Ok("federated".into());
    }
    let (cert_der, public_key) = cert.ok_or("no certificate registered")?;
    let assertion = form.get("client_assertion").ok_or("no client_assertion")?;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else { return Err("not a JWT".into()) };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
    if header["alg"] != "RS256" || header["x5t"] != URL_SAFE_NO_PAD.encode(thumbprint.as_ref()) {
        return Err(format!("header {header} does not name the certificate"));
    }
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key);
    let signed = format!("{}.{}", parts[0], parts[1]);
    key.verify(signed.as_bytes(), &decode(signature)?).map_err(|_| "signature does not verify".to_string())?;
    let audience = format!("{AUTHORITY}/{TENANT}/oauth2/v2.0/token");
    let now = jiff::Timestamp::now().as_second();
    if claims["aud"] != audience.as_str() || claims["iss"] != CLIENT || claims["sub"] != CLIENT {
        return Err(format!("claims {claims} are not for this app"));
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= now) || claims["nbf"].as_i64().is_none_or(|nbf| nbf > now + 60) {
        return Err("assertion not valid now".into());
    }
    Ok("certificate".into())
}

/// Sends the credential's token requests for https://login.fake.local to the local endpoint.
#[derive(Debug)]
struct Redirect {
    inner: reqwest::Client,
    base: String,
}

#[async_trait::async_trait]
impl HttpClient for Redirect {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut request = request.clone();
        let target = format!("{}{}", self.base, &request.url()[url::Position::BeforePath..]);
        *request.url_mut() = target.parse().unwrap();
        self.inner.execute_request(&request).await
    }
}

fn credential(settings: &AuthSettings, endpoint: &str) -> Result<Credential, String> {
    repool::batch::http::install_crypto_provider();
    let inner = reqwest::Client::builder().no_proxy().build().unwrap();
    Credential::with_transport(settings, Transport::new(Arc::new(Redirect { inner, base: endpoint.to_string() })))
}

fn certificate_settings(path: &Path, password: Option<&str>) -> AuthSettings {
    AuthSettings {
        method: AuthMethod::ClientCertificate,
        account_name: "simaccount".into(),
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT.into()),
        certificate_path: Some(path.to_path_buf()),
        certificate_password: password.map(Secret::new),
        authority_host: Some(AUTHORITY.into()),
        ..Default::default()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn list_with(credential: Credential) -> usize {
    let sim = sim::start(
        SimOptions { speed: 0.0, allow_bearer: true, seed: Some("demo".into()), ..Default::default() },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let client = BatchClient::new(
        &sim.url,
        repool::batch::ApiVersion::V2025_06_01,
        credential,
        &HttpSettings::default(),
        RetryPolicy::default(),
    )
    .unwrap();
    client.list_pools(Some("id"), None, None).await.unwrap().len()
}

#[tokio::test]
async fn certificate_from_pem_and_pkcs12_signs_in() {
    let cert = make_certificate();
    let (endpoint, seen) = token_endpoint(Some((cert.cert_der.clone(), cert.public_pkcs1.clone()))).await;
    let dir = tempfile::tempdir().unwrap();

    // What operators have: one PEM with the private key and the certificate.
    let pem = write(dir.path(), "sp.pem", format!("{}{}", cert.key_pem, cert.cert_pem).as_bytes());
    let from_pem = credential(&certificate_settings(&pem, None), &endpoint).unwrap();
    assert_eq!(from_pem.method(), "client-certificate");
    assert_eq!(list_with(from_pem).await, 12);

    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8; 20],
        p12_keystore::PrivateKey::from_der(&cert.pkcs8_der).unwrap(),
        [p12_keystore::Certificate::from_der(&cert.cert_der).unwrap()],
    );
    store.add_entry("sp", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pfx = write(dir.path(), "sp.pfx", &store.writer("pfx-pass").write().unwrap());
    let from_pfx = credential(&certificate_settings(&pfx, Some("pfx-pass")), &endpoint).unwrap();
    assert_eq!(list_with(from_pfx).await, 12);
    assert_eq!(*seen.lock().unwrap(), [Ok("certificate".to_string()), Ok("certificate".to_string())]);

    let err = credential(&certificate_settings(&pfx, Some("wrong")), &endpoint).unwrap_err();
    assert!(err.contains("wrong PKCS#12 password") && err.contains("sp.pfx"), "{err}");
}

#[tokio::test]
async fn a_certificate_the_endpoint_does_not_know_is_refused_clearly() {
    let registered = make_certificate();
    let other = make_certificate();
    let (endpoint, seen) = token_endpoint(Some((registered.cert_der, registered.public_pkcs1))).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = write(dir.path(), "other.pem", format!("{}{}", other.key_pem, other.cert_pem).as_bytes());
    let sim =
        sim::start(SimOptions { speed: 0.0, allow_bearer: true, ..Default::default() }, "127.0.0.1:0").await.unwrap();
    let credential = credential(&certificate_settings(&pem, None), &endpoint).unwrap();
    let client = BatchClient::new(
        &sim.url,
        repool::batch::ApiVersion::V2025_06_01,
        credential,
        &HttpSettings::default(),
        RetryPolicy::default(),
    )
    .unwrap();
    let err = client.list_pools(None, None, None).await.unwrap_err();
    assert!(err.to_string().contains("sign-in with client-certificate failed"), "{err}");
    assert!(
        seen.lock().unwrap().iter().all(|v| v.as_ref().is_err_and(|e| e.contains("does not name the certificate")))
    );
}

#[tokio::test]
async fn client_secret_signs_in() {
    let settings = AuthSettings {
        method: AuthMethod::ClientSecret,
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT.into()),
        client_secret: Some(Secret::new("s3cret")),
        authority_host: Some(AUTHORITY.into()),
        ..Default::default()
    };
    signs_in_with(&settings, "secret").await;
}

/// Lists the demo pools signed in with `settings`; the token endpoint saw exactly `grant`.
async fn signs_in_with(settings: &AuthSettings, grant: &str) {
    let (endpoint, seen) = token_endpoint(None).await;
    assert_eq!(list_with(credential(settings, &endpoint).unwrap()).await, 12);
    assert_eq!(*seen.lock().unwrap(), [Ok(grant.to_string())]);
}

#[tokio::test]
async fn workload_identity_exchanges_the_federated_token() {
    let dir = tempfile::tempdir().unwrap();
    let settings = AuthSettings {
        method: AuthMethod::WorkloadIdentity,
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT.into()),
        federated_token_file: Some(write(dir.path(), "token", FEDERATED_TOKEN.as_bytes())),
        authority_host: Some(AUTHORITY.into()),
        ..Default::default()
    };
    signs_in_with(&settings, "federated").await;
}

#[tokio::test]
async fn managed_identity_asks_the_instance_metadata_endpoint() {
    let settings = AuthSettings {
        method: AuthMethod::ManagedIdentity,
        client_id: Some("user-assigned-7".into()),
        ..Default::default()
    };
    signs_in_with(&settings, "managed user-assigned-7").await;
}

#[test]
fn bad_certificate_files_are_named_with_the_fix() {
    let cert = make_certificate();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (write(dir.path(), "cert-only.pem", cert.cert_pem.as_bytes()), "holds no private key"),
        (write(dir.path(), "key-only.pem", cert.key_pem.as_bytes()), "no certificate"),
        (write(dir.path(), "garbage.pfx", b"not a certificate"), "neither PEM nor a readable PKCS#12"),
        (dir.path().join("missing.pem"), "cannot read the certificate file"),
    ];
    for (path, expected) in cases {
        let err = credential(&certificate_settings(&path, None), "http://127.0.0.1:9").unwrap_err();
        assert!(err.contains(expected) && err.contains(path.file_name().unwrap().to_str().unwrap()), "{err}");
    }
    let mut settings = certificate_settings(Path::new("x.pem"), None);
    settings.tenant_id = None;
    assert!(credential(&settings, "http://127.0.0.1:9").unwrap_err().contains("AZURE_TENANT_ID"));
    let https = AuthSettings {
        authority_host: Some("http://login.fake.local".into()),
        ..certificate_settings(Path::new("x"), None)
    };
    assert!(Credential::from_settings(&https, &HttpSettings::default()).unwrap_err().contains("must use https"));
}

/// A stand-in `az` on PATH: records its arguments (one line per start) and answers as
/// `az account get-access-token` does with a token valid for `lifetime` seconds, or fails as it
/// does when nobody is logged in (None).
fn fake_az(dir: &Path, lifetime: Option<u64>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let answer = match lifetime {
        Some(seconds) => format!(
            r#"echo "{{\"accessToken\": \"cli-token-4711\", \"expiresOn\": \"2030-01-02 03:04:05.000000\", \"expires_on\": $(( $(date +%s) + {seconds} )), \"tokenType\": \"Bearer\"}}""#
        ),
        None => "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1".into(),
    };
    let script = format!("#!/bin/sh\necho \"$@\" >> '{}'\n{answer}\n", dir.join("az-calls").display());
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// PATH with the stand-in `az` first.
fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_signs_in_with_the_token_az_prints() {
    let options = SimOptions { speed: 0.0, seed: Some("demo".into()), allow_bearer: true, ..Default::default() };
    let sim = sim::start(options, "127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for logged_in in [true, false] {
        let path = path_with(&fake_az(dir.path(), logged_in.then_some(3600)));
        let mut command = common::repool_command(dir.path());
        command.args(["pools", "--account-url", &sim.url, "--auth", "azure-cli"]).env("PATH", path);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if logged_in {
            assert!(output.status.success(), "{stderr}");
            assert!(stdout.contains("p-render"), "{stdout}");
        } else {
            assert_eq!(output.status.code(), Some(2), "not signed in is configuration: {stderr}");
            assert!(stderr.contains("sign-in with azure-cli failed") && stderr.contains("az login"), "{stderr}");
            assert!(!stderr.contains("cli-token-4711"));
        }
    }
    let calls = std::fs::read_to_string(dir.path().join("az-calls")).unwrap();
    assert!(
        calls.contains("account get-access-token -o json --scope https://batch.core.windows.net//.default"),
        "{calls}"
    );
    let listed = sim.stats().requests.get("GET list pools 200").copied().unwrap_or(0);
    assert!(listed >= 1, "the bearer token was accepted: {:?}", sim.stats().requests);
    for log in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let text = std::fs::read_to_string(log.unwrap().path()).unwrap();
        assert!(!text.contains("cli-token-4711"), "the token stays out of the log");
    }
}

/// `az` takes about a second a start: one token serves every call until shortly before it
/// expires; one about to expire is fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_is_asked_once_per_token_not_per_call() {
    let options = SimOptions { speed: 0.0, seed: Some("demo".into()), allow_bearer: true, ..Default::default() };
    let sim = sim::start(options, "127.0.0.1:0").await.unwrap();
    let definition = format!("{}/assets/pools.example.json", env!("CARGO_MANIFEST_DIR"));
    let requests = || sim.stats().requests.values().sum::<u64>();
    // Valid for an hour: once. Expiring within the five-minute margin: every call.
    for (lifetime, once) in [(3600, true), (120, false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = path_with(&fake_az(dir.path(), Some(lifetime)));
        let mut command = common::repool_command(dir.path());
        command
            .args(["recreate", "--pool", "p-render", "--dry-run", "--definition", &definition])
            .args(["--account-url", &sim.url, "--auth", "azure-cli"])
            .env("PATH", path);
        let before = requests();
        let (code, _, err) = tokio::task::spawn_blocking(move || common::output(&mut command)).await.unwrap();
        assert_eq!(code, 0, "{err}");
        let calls = requests() - before;
        let started = std::fs::read_to_string(dir.path().join("az-calls")).unwrap().lines().count() as u64;
        assert!(calls >= 2, "the run makes several calls: {calls}");
        if once {
            assert_eq!(started, 1, "{calls} calls");
        } else {
            assert_eq!(started, calls, "a token about to expire is fetched again for each call");
        }
    }
}
