//! A hostile or broken Batch endpoint: small misbehaving HTTP servers on loopback, driven by the
//! real binary. Each test asserts what repool did (requests made, bytes read, credentials sent,
//! exit code, bytes printed), never how long it took.

use crate::common;

use common::{output, repool_command};
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
enum Reply {
    Json(u16, String),
    /// Headers, then the body one byte at a time, a pause between bytes.
    Trickle(String),
    /// A chunked body that never ends.
    Endless,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authorization: bool,
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes the server managed to write.
    written: Arc<Mutex<u64>>,
}

impl Server {
    async fn start(reply: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen, written) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(0u64)));
        let reply = Arc::new(reply);
        let (seen_by, written_by, base) = (seen.clone(), written.clone(), url.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (reply, seen, written, base) = (reply.clone(), seen_by.clone(), written_by.clone(), base.clone());
                tokio::spawn(serve(stream, reply, seen, written, base));
            }
        });
        Server { url, seen, written }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    reply: Arc<impl Fn(&str, &str) -> Reply>,
    seen: Arc<Mutex<Vec<Seen>>>,
    written: Arc<Mutex<u64>>,
    base: String,
) {
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if stream.read_exact(&mut byte).await.is_err() {
                return;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let path = text.split_whitespace().nth(1).unwrap_or_default().to_string();
        let authorization = text.lines().any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
        seen.lock().unwrap().push(Seen { path: path.clone(), authorization });
        let ok = match reply(&path, &base) {
            Reply::Json(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let sent =
                    stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(body.as_bytes()).await.is_ok();
                *written.lock().unwrap() += body.len() as u64;
                sent
            }
            Reply::Trickle(body) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for byte in body.bytes() {
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    *written.lock().unwrap() += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                true
            }
            Reply::Endless => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {
                    *written.lock().unwrap() += 0x10000;
                }
                return;
            }
        };
        if !ok {
            return;
        }
    }
}

fn page(pools: &[serde_json::Value], next: Option<String>) -> String {
    let mut page = serde_json::json!({"odata.metadata": "x", "value": pools});
    if let Some(next) = next {
        page["odata.nextLink"] = next.into();
    }
    page.to_string()
}

fn pool(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "state": "active", "allocationState": "steady", "vmSize": "standard_d2s_v3",
        "currentDedicatedNodes": 0, "targetDedicatedNodes": 0, "enableAutoScale": false})
}

/// The binary pointed at `url` with a Shared Key, `config` as its config file.
fn repool_at(dir: &std::path::Path, url: &str, config: &str, args: &[&str]) -> (i32, String, String) {
    std::fs::create_dir_all(dir.join("repool")).unwrap();
    std::fs::write(dir.join("repool/config.toml"), config).unwrap();
    output(
        repool_command(dir)
            .args(args)
            .env("AZURE_BATCH_ENDPOINT", url)
            .env("AZURE_BATCH_ACCOUNT", "acct")
            .env("AZURE_BATCH_ACCESS_KEY", "c2VjcmV0LWtleQ=="),
    )
}

/// Row 1: a nextLink to another origin is not followed; no credential goes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_to_another_origin_gets_no_request_and_no_credentials() {
    let elsewhere = Server::start(|_, _| Reply::Json(200, page(&[pool("planted-elsewhere")], None))).await;
    for link in [
        format!("{}/pools?api-version=x&$skiptoken=1", elsewhere.url),
        // Same host, other scheme: the token would travel in clear.
        "https://127.0.0.1:1/pools?$skiptoken=1".to_string(),
    ] {
        let first = Server::start(move |_, _| Reply::Json(200, page(&[pool("p1")], Some(link.clone())))).await;
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = repool_at(dir.path(), &first.url, "", &["pools"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("another origin") && !out.contains("planted-elsewhere"), "{out}\n{err}");
        let requests = first.requests();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].authorization && requests[0].path.starts_with("/pools?"), "{requests:?}");
    }
    assert!(elsewhere.requests().is_empty(), "the other origin got requests: {:?}", elsewhere.requests());
}

/// Row 2: a nextLink that repeats ends with an error after two pages, not a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_next_link_ends_the_listing() {
    let server = Server::start(|_, base| {
        Reply::Json(200, page(&[pool("p1")], Some(format!("{base}/pools?api-version=x&$skiptoken=same"))))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = repool_at(dir.path(), &server.url, "", &["pools"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("same odata.nextLink twice"), "{err}");
    assert_eq!(server.requests().len(), 2, "page 1, then the link once: {:?}", server.requests());
}

/// Row 3: a body too large, an endless body, a trickling body: each stops within its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_bounded_in_size_and_time() {
    let config = "max_response_mb = 1\nrequest_timeout_seconds = 1\n";
    let big = Server::start(|_, _| {
        let pools: Vec<_> = (0..20_000).map(|i| pool(&format!("pool-{i:05}"))).collect();
        Reply::Json(200, page(&pools, None))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = repool_at(dir.path(), &big.url, config, &["pools"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("larger than 1 MiB"), "{err}");
    assert_eq!(big.requests().len(), 1, "not retried");

    let endless = Server::start(|_, _| Reply::Endless).await;
    let (code, _, err) = repool_at(dir.path(), &endless.url, config, &["pools"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("larger than 1 MiB"), "{err}");
    // Whatever the socket buffers held, repool stopped reading near the limit.
    assert!(*endless.written.lock().unwrap() < 16 * 1024 * 1024, "{} bytes", endless.written.lock().unwrap());

    let trickle = Server::start(|_, _| Reply::Trickle(page(&[pool("p1")], None))).await;
    let (code, _, err) = repool_at(dir.path(), &trickle.url, config, &["pools"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("took longer than 1 s"), "{err}");
    assert!(*trickle.written.lock().unwrap() < 40, "stopped reading long before the end");
    assert_eq!(trickle.requests().len(), 1, "not retried");
}

/// Row 4: terminal escapes from the server are shown, not executed; JSON stays valid JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_never_reaches_the_terminal_raw() {
    let evil = "evil\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nforged line\u{8}";
    let server = Server::start(move |path, _| {
        if path.contains("/pools/") {
            let error =
                serde_json::json!({"odata.metadata": "x", "code": evil, "message": {"lang": "en-US", "value": evil}});
            Reply::Json(409, error.to_string())
        } else {
            let mut p = pool(evil);
            p["vmSize"] = evil.into();
            Reply::Json(200, page(&[p], None))
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = repool_at(dir.path(), &server.url, "", &["pools"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\r') && !out.contains('\u{8}'),
        "{out:?}"
    );
    assert!(out.contains("evil\\u{1b}]0;PWNED") && !out.contains("\nforged line"), "{out}");
    let (code, out, _) = repool_at(dir.path(), &server.url, "", &["pools", "--json"]);
    assert_eq!(code, 0);
    let parsed: serde_json::Value = serde_json::from_str(out.trim()).expect("valid JSON");
    assert_eq!(parsed["id"], evil, "JSON carries the value exactly, escaped the JSON way");
    // An error message from the server, on stderr.
    let (code, _, err) = repool_at(dir.path(), &server.url, "", &["restore", "--pool", "x"]);
    assert_ne!(code, 0);
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// Row 5: no answer and no closed pipe makes repool panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_and_a_closed_stdout_do_not_panic() {
    let huge = "p".repeat(5 * 1024 * 1024);
    let server = Server::start(move |_, _| Reply::Json(200, page(&[pool(&huge), pool("p2")], None))).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = repool_at(dir.path(), &server.url, "", &["pools"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.chars().count() < 2_000), "cells are cut");
    assert!(!err.contains("panicked"), "{err}");
    let mut child = repool_command(dir.path())
        .args(["pools", "--json"])
        .env("AZURE_BATCH_ENDPOINT", &server.url)
        .env("AZURE_BATCH_ACCOUNT", "acct")
        .env("AZURE_BATCH_ACCESS_KEY", "c2VjcmV0LWtleQ==")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone: like `| head -c 10`.
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Row 6: a certificate that does not verify stops `repool pools` at once with exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_exit_2_at_once_for_every_command() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(Mutex::new(0));
    let counted = handshakes.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            *counted.lock().unwrap() += 1;
            let _ = acceptor.accept(stream).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{port}");
    for command in
        [&["pools"][..], &["plan", "--definition", concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pools.example.json")]]
    {
        *handshakes.lock().unwrap() = 0;
        let (code, _, err) = repool_at(dir.path(), &url, "", command);
        assert_eq!(code, 2, "{command:?}: {err}");
        assert!(err.contains("certificate that cannot be verified"), "{err}");
        assert_eq!(*handshakes.lock().unwrap(), 1, "{command:?}: a certificate is not retried");
    }
}

/// Row 7: credentials that stop working mid-run stop the run safely after the grace period;
/// resume continues once they work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_sign_in_failures_stop_a_wait_safely() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let config = dir.path().join("repool/config.toml");
    let text =
        std::fs::read_to_string(&config).unwrap().replace("[recreate]\n", "[recreate]\nsign_in_grace = \"PT1S\"\n");
    std::fs::write(&config, text).unwrap();
    // 25-minute tasks at 30×: the drain takes 50 s, time enough for the credentials to fail.
    common::set_speed(&sim, 30.0);
    common::tasks_just_began(&sim, "p-ingest");
    let key = sim.key().to_string();
    let child = repool_command(dir.path())
        .args(["recreate", "--pool", "p-ingest", "--yes"])
        .env("AZURE_BATCH_ACCESS_KEY", &key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the drain wait begins", || {
        common::journal_text(dir.path()).contains(r#""step":"wait-drained""#)
    });
    sim.set_faults(repool::sim::faults::Faults::parse("401=1.0").unwrap());
    let finished = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&finished.stderr);
    assert_eq!(finished.status.code(), Some(1), "{err}");
    assert!(err.contains("sign-in kept failing") && err.contains("repool resume"), "{err}");
    assert_eq!(sim.stats().pools_deleted, 0, "nothing deleted");
    sim.set_faults(Default::default());
    common::set_speed(&sim, 3000.0);
    let (code, _, err) =
        output(repool_command(dir.path()).args(["resume", "--yes"]).env("AZURE_BATCH_ACCESS_KEY", &key));
    assert_eq!(code, 0, "{err}");
    assert_eq!(sim.stats().pools_created, 1);
}

/// Rows 8 and 9: a start-task secret from env(), rotated between two runs, and a one-letter
/// registry password: in no file repool wrote, no output; short secrets mangle nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_secrets_stay_out_of_files_and_output_even_rotated() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let key = sim.key().to_string();
    let mut example: serde_json::Value = serde_json::from_str(repool::definition::EXAMPLE).unwrap();
    example["p-render"]["startTask"] = serde_json::json!({
        "commandLine": "/bin/sh -c 'login'", "waitForSuccess": true,
        "environmentSettings": [{"name": "START_TOKEN", "value": "@@START@@"}, {"name": "MODE", "value": "x"}]
    });
    let template = serde_json::to_string_pretty(&example).unwrap().replace("@@START@@", "{{ env(\"START_TOKEN\") }}");
    let definition = dir.path().join("pools.json.j2");
    std::fs::write(&definition, template).unwrap();
    let definition = definition.display().to_string();
    let secrets = ["planted-start-token-one", "planted-start-token-two"];
    for secret in secrets {
        let (code, _, err) = output(
            repool_command(dir.path())
                .args(["recreate", "--pool", "p-render", "--yes", "--definition", &definition])
                .env("AZURE_BATCH_ACCESS_KEY", &key)
                .env("START_TOKEN", secret),
        );
        assert_eq!(code, 0, "{err}");
    }
    let mut shown = Vec::new();
    for args in [&["pools", "--json"][..], &["plan", "--json"], &["plan"], &["runs", "--json"]] {
        let (_, out, err) = output(
            repool_command(dir.path())
                .args(args)
                .args(["--definition", &definition])
                .env("AZURE_BATCH_ACCESS_KEY", &key)
                .env("START_TOKEN", "x"),
        );
        shown.push(format!("{args:?}:\n{out}\n{err}"));
    }
    let shown = shown.join("\n");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(shown.contains("\"eTag\":\"0x"), "a one-letter secret mangles no other text");
    let mut files = vec![dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} in {}", path.display());
            }
        }
    }
    // The backup keeps the reference; restore resolves it from the environment.
    let backups = dir.path().join("backups");
    let mut found = false;
    let mut folders = vec![backups];
    while let Some(path) = folders.pop() {
        if path.is_dir() {
            folders.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.to_string_lossy().contains("p-render") {
            found |= std::fs::read_to_string(&path).unwrap().contains("${env:START_TOKEN}");
        }
    }
    assert!(found, "backups reference START_TOKEN");
}

/// Row 10: everything repool writes is private.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let (sim, dir) = common::fast_demo_with_config().await;
    let (code, _, err) = output(
        repool_command(dir.path())
            .args(["recreate", "--pool", "p-render", "--yes"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    let mut paths = vec![];
    for top in ["journal", "backups", "logs", "locks"] {
        let mut stack = vec![dir.path().join(top)];
        while let Some(path) = stack.pop() {
            paths.push(path.clone());
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        }
    }
    assert!(paths.len() > 8, "{paths:?}");
    for path in paths {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
        assert!(!path.to_string_lossy().ends_with(".tmp"), "left behind: {}", path.display());
    }
}

/// Issue 21, item 3: nothing is written through a link planted where repool writes, and a
/// directory repool did not create keeps its mode (the current one, a shared data directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_links_are_never_followed_and_shared_directories_keep_their_mode() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let (sim, dir) = common::fast_demo_with_config().await;
    let mode = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    let set_mode = |p: &std::path::Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let intact = || assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "written through a link");
    // export into the current directory, links at the old temporary name and at the output itself.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    set_mode(&work, 0o755);
    symlink(&victim, work.join(".pools.json.j2.tmp")).unwrap();
    symlink(&victim, work.join("pools.json.j2")).unwrap();
    let (code, _, err) = output(
        repool_command(dir.path())
            .current_dir(&work)
            .args(["export", "--all", "--output", "pools.json.j2"])
            .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
    );
    assert_eq!(code, 0, "{err}");
    intact();
    assert_eq!(mode(&work), 0o755, "the current directory keeps its mode");
    let exported = work.join("pools.json.j2");
    assert!(std::fs::symlink_metadata(&exported).unwrap().is_file(), "the link was replaced by the export");
    assert_eq!(mode(&exported), 0o600);
    assert!(std::fs::read_to_string(&exported).unwrap().contains("p-render"));
    // A shared data directory keeps its mode, for a command that reads and one that writes.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    for args in [&["info"][..], &["runs"], &["recreate", "--pool", "p-ingest", "--until", "steady", "--yes"]] {
        let (code, _, err) = output(
            repool_command(dir.path())
                .args(args)
                .env("REPOOL_DATA_DIR", &shared)
                .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
        );
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(mode(&shared), 0o1777, "{args:?} changed the shared directory's mode");
    }
    assert_eq!(mode(&shared.join("journal")), 0o700, "what repool creates there is private");
    // In the data directory, a link at the account's lock, its probe ledger or today's log is refused.
    let account = repool::rollout::account::AccountId::from_endpoint(&url::Url::parse(&sim.url).unwrap()).file_name();
    let recreate = |extra: &[&str]| {
        let mut command = repool_command(dir.path());
        command.args(["recreate", "--pool", "p-render", "--yes"]).args(extra).env("AZURE_BATCH_ACCESS_KEY", sim.key());
        output(&mut command)
    };
    for folder in ["locks", "probes", "logs"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
    }
    let before = common::mutating_calls(&sim);
    let lock = dir.path().join(format!("locks/{account}.lock"));
    symlink(&victim, &lock).unwrap();
    let (code, _, err) = recreate(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot open lock"), "{err}");
    intact();
    std::fs::remove_file(&lock).unwrap();
    symlink(&victim, dir.path().join(format!("probes/{account}.jsonl"))).unwrap();
    let (code, _, err) = recreate(&["--probe"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot write the probe ledger"), "{err}");
    intact();
    std::fs::remove_file(dir.path().join(format!("probes/{account}.jsonl"))).unwrap();
    // A folder link planted in the data directory carries no backup elsewhere.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::create_dir_all(dir.path().join("backups")).unwrap();
    symlink(&elsewhere, dir.path().join(format!("backups/{account}"))).unwrap();
    let (code, _, err) = recreate(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing written through the link");
    std::fs::remove_file(dir.path().join(format!("backups/{account}"))).unwrap();
    assert_eq!(common::mutating_calls(&sim), before, "refused before any change");
    let today = dir.path().join(format!("logs/repool.log.{}", jiff::Timestamp::now().strftime("%Y-%m-%d")));
    let _ = std::fs::remove_file(&today);
    symlink(&victim, &today).unwrap();
    let (code, _, err) = output(repool_command(dir.path()).arg("info"));
    assert_eq!(code, 0, "a log that cannot be opened costs the log, not the command: {err}");
    intact();
}

/// One timestamp past the date library's range (.NET's DateTime.MaxValue) or not a timestamp at
/// all spoils only that field: the account still lists, every pool in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_timestamp_spoils_only_its_field() {
    let mut odd = pool("p-odd");
    odd["creationTime"] = "9999-12-31T23:59:59.9999999Z".into();
    odd["allocationStateTransitionTime"] = "9999-12-31T23:59:59.9999999Z".into();
    odd["lastModified"] = "not a time".into();
    let server = Server::start(move |_, _| Reply::Json(200, page(&[odd.clone(), pool("p-plain")], None))).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = repool_at(dir.path(), &server.url, "", &["pools"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-odd") && out.contains("p-plain"), "{out}");
    let (code, out, err) = repool_at(dir.path(), &server.url, "", &["pools", "--json"]);
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], "p-odd");
    assert!(first["creationTime"].as_str().is_some_and(|t| t.starts_with("9999-")), "{first}");
}
