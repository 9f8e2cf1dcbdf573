//! `repool sim --tls`: the simulated account over HTTPS under a CA of its own, with an Entra ID
//! token endpoint whose bearer tokens it accepts. repool's own client-secret sign-in runs end to
//! end through the binary (the official SDKs' bearer flows run in the contract suite).

use crate::common;

use repool::sim::{self, RunningSim, SimOptions};
use std::path::Path;

async fn tls_sim(dir: &Path) -> RunningSim {
    let options =
        SimOptions { speed: 0.0, seed: Some("demo".into()), tls: Some(dir.to_path_buf()), ..Default::default() };
    sim::start(options, "127.0.0.1:0").await.unwrap()
}

/// `repool pools` signed in with a client secret: the token from the simulator's endpoint, the
/// account over TLS verified against `ca_file` (SSL_CERT_FILE) when given.
async fn pools_with_client_secret(dir: &Path, sim: &RunningSim, ca_file: Option<&Path>) -> (i32, String, String) {
    let mut command = common::repool_command(dir);
    command
        .args(["pools", "--auth", "client-secret", "--account-url", &sim.url, "--account-name", sim.account()])
        .env("AZURE_TENANT_ID", "tenant-1")
        .env("AZURE_CLIENT_ID", "app-1")
        .env("AZURE_CLIENT_SECRET", "s3cret")
        .env("AZURE_AUTHORITY_HOST", &sim.url)
        .env_remove("SSL_CERT_DIR");
    match ca_file {
        Some(file) => command.env("SSL_CERT_FILE", file),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    tokio::task::spawn_blocking(move || common::output(&mut command)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repool_signs_in_with_a_client_secret_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let sim = tls_sim(&dir.path().join("sim-tls")).await;
    assert!(sim.url.starts_with("https://127.0.0.1:"), "{}", sim.url);
    let ca = sim.ca_file.clone().expect("a CA to trust");

    let (code, out, err) = pools_with_client_secret(dir.path(), &sim, Some(&ca)).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-render") && out.contains("win-build"), "the demo pools over TLS: {out}");
    assert!(!err.contains("s3cret") && !out.contains("s3cret"), "the secret is never shown");
    assert!(sim.stats().requests.keys().any(|k| k.starts_with("GET list pools 200")), "{:?}", sim.stats().requests);

    // Without the CA the certificate cannot be verified: refused at once, nothing reaches the account.
    let before = sim.stats().requests.values().sum::<u64>();
    let (code, _, err) = pools_with_client_secret(dir.path(), &sim, None).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be verified") && err.contains("SSL_CERT_FILE"), "{err}");
    assert_eq!(sim.stats().requests.values().sum::<u64>(), before, "no Batch call without a verified certificate");
}

#[tokio::test]
async fn the_account_takes_only_tokens_its_endpoint_issued() {
    let dir = tempfile::tempdir().unwrap();
    let sim = tls_sim(dir.path()).await;
    repool::batch::http::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(sim.ca_file.as_ref().unwrap()).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).no_proxy().build().unwrap();
    let list = |token: String| {
        client
            .get(format!("{}/pools?api-version=2025-06-01&$select=id", sim.url))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };

    let refused = list("made-up".into()).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("not issued by this simulator"));

    let ask = |scope: &str| {
        client
            .post(format!("{}/tenant-1/oauth2/v2.0/token", sim.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&client_id=a&client_secret=b&scope={scope}"))
            .send()
    };
    assert_eq!(ask("x").await.unwrap().status(), 400, "a token for another resource is refused");
    let token: serde_json::Value =
        ask("https%3A%2F%2Fbatch.core.windows.net%2F.default").await.unwrap().json().await.unwrap();
    let listed = list(token["access_token"].as_str().unwrap().to_string()).await.unwrap();
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().await.unwrap();
    assert!(body["odata.metadata"].as_str().unwrap().starts_with("https://"), "links carry the scheme: {body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn the_ca_is_written_privately_once_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let first = tls_sim(dir.path()).await;
    let ca = std::fs::read(first.ca_file.as_ref().unwrap()).unwrap();
    first.stop().await;
    for file in ["ca.pem", "ca-key.pem"] {
        let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is private to the user");
    }
    let second = tls_sim(dir.path()).await;
    assert_eq!(std::fs::read(second.ca_file.as_ref().unwrap()).unwrap(), ca, "clients keep trusting one CA");
    // The second start's fresh server certificate chains to the CA written the first time.
    repool::batch::http::install_crypto_provider();
    let root = reqwest::Certificate::from_pem(&ca).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(root).no_proxy().build().unwrap();
    let answer = client.get(format!("{}/pools?api-version=2025-06-01", second.url)).send().await.unwrap();
    assert_eq!(answer.status(), 400, "TLS verified; the account then asks for credentials");

    std::fs::write(dir.path().join("ca-key.pem"), "not a key").unwrap();
    let options = SimOptions { tls: Some(dir.path().to_path_buf()), ..Default::default() };
    let refused = sim::start(options, "127.0.0.1:0").await.err().unwrap();
    assert!(refused.contains("ca-key.pem") && refused.contains("delete"), "{refused}");
}
