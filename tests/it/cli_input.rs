//! The real binary given bad input or settings that compete: exit 2 naming the fix, nothing sent;
//! which account, profile and api-version win.

use crate::common;

/// Arguments, environment, and what the error must say.
type BadCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test]
async fn bad_input_exits_2_naming_the_fix_and_sends_nothing() {
    let sim = common::frozen_sim(Some("demo")).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<BadCase> = vec![
        (vec!["pools", "--account-url", "not a url"], vec![("AZURE_BATCH_ACCESS_KEY", "AAAA")], "is not a URL"),
        (
            vec!["pools", "--account-url", "http://batch.example.com"],
            vec![("AZURE_BATCH_ACCESS_KEY", "AAAA")],
            "plain http",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--account-name", "simaccount"],
            vec![("AZURE_BATCH_ACCESS_KEY", "!!not-base64!!")],
            "not valid base64",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "shared-key", "--account-name", "simaccount"],
            vec![],
            "needs the account key",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "client-certificate"],
            vec![
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/sp.pem"),
            ],
            "/nonexistent/sp.pem",
        ),
        (
            vec!["pools", "--account-url", &sim.url, "--auth", "client-secret"],
            vec![("AZURE_TENANT_ID", "t")],
            "AZURE_CLIENT_ID",
        ),
        (vec!["pools", "--auth", "magic"], vec![], "invalid value 'magic'"),
        (vec!["pools"], vec![], "no Batch account configured"),
        (vec!["pools", "--log-level", "loud=="], vec![], "log level"),
        (vec!["pools", "--account-url", &sim.url, "--api-version", "2025"], vec![], "--api-version: '2025' is not"),
    ];
    for (args, env, expected) in cases {
        let mut command = common::repool_command(dir.path());
        command.args(&args).envs(env);
        let (code, _, err) = common::output(&mut command);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
    }
    // Certificates that exist but cannot sign in: named, with what is wrong.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let keyless = dir.path().join("keyless.pem");
    std::fs::write(&keyless, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    for (file, expected) in [(&garbage, "neither PEM nor a readable PKCS#12"), (&keyless, "holds no private key")] {
        let mut command = common::repool_command(dir.path());
        command.args(["pools", "--account-url", &sim.url, "--auth", "client-certificate"]).envs([
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", file.to_str().unwrap()),
        ]);
        let (code, _, err) = common::output(&mut command);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(file.to_str().unwrap()) && err.contains(expected), "{err}");
    }
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    std::fs::write(dir.path().join("repool/config.toml"), "refresh_seconds = 5\n[accounts.prod]\nurll = \"x\"\n")
        .unwrap();
    let (code, _, err) = common::output(common::repool_command(dir.path()).args(["pools"]));
    assert_eq!(code, 2);
    assert!(err.contains("config.toml") && err.contains("line 3") && err.contains("urll"), "{err}");
    std::fs::write(dir.path().join("repool/config.toml"), "api_version = \"2025-6-1\"\n").unwrap();
    let (code, _, err) = common::output(common::repool_command(dir.path()).args(["pools", "--account-url", &sim.url]));
    assert_eq!(code, 2);
    assert!(err.contains("config.toml: api_version: '2025-6-1'") && err.contains("2024-07-01.20.0"), "{err}");
    assert!(sim.stats().requests.is_empty(), "nothing reached the account: {:?}", sim.stats().requests);
}

/// Definition problems through the real binary: exit 2, the location named, nothing sent that changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_exit_2_with_the_location_and_change_nothing() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let cases = [
        ("syntax.json", "{\n  \"p-render\": {\"vmSize\": \"a\",}\n}", "syntax.json:2:"),
        (
            "schema.json",
            "{\"p-render\": {\"vmSize\": \"a\", \"targetDedicatedNodes\": 1, \"virtualMachineConfiguration\": {\"imageReference\": {\"publisher\": \"p\", \"offer\": \"o\", \"sku\": \"s\"}, \"nodeAgentSKUId\": \"n\"}, \"networkConfiguration\": {\"subnetId\": \"s\", \"dynamicVnetAssignmentScope\": \"job\"}}}",
            "p-render.networkConfiguration.dynamicVnetAssignmentScope: unknown property",
        ),
        ("template.json.j2", "{\n\"p-render\": {\"vmSize\": \"{{ size }}\"}\n}", "template.json.j2:2:"),
        (
            "rules.json",
            "{\"p-render\": {\"vmSize\": \"a\", \"enableAutoScale\": true, \"virtualMachineConfiguration\": {\"imageReference\": {\"publisher\": \"p\", \"offer\": \"o\", \"sku\": \"s\"}, \"nodeAgentSKUId\": \"n\"}}}",
            "p-render.autoScaleFormula: is required",
        ),
        // A key or a pool written twice: JSON would keep the last in silence.
        (
            "dup-key.json",
            "{\n  \"p-render\": {\"vmSize\": \"a\",\n    \"vmSize\": \"b\"}\n}",
            "dup-key.json:3:5: pool 'p-render': p-render.vmSize: written twice (first at line 2, column 16)",
        ),
        (
            "dup-pool.json",
            "{\"p-render\": {\"vmSize\": \"a\"},\n\"p-render\": {\"vmSize\": \"b\"}}",
            "dup-pool.json:2:1: pool 'p-render': the pool is defined twice (first at line 1, column 2)",
        ),
        // Work without end is refused, not waited for.
        (
            "runaway.json.j2",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "runaway.json.j2 does too much work",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for command in [vec!["validate"], vec!["plan"], vec!["recreate", "--all", "--yes"]] {
            let (code, _, err) = common::output(
                common::repool_command(dir.path())
                    .args(&command)
                    .args(["--definition", path.to_str().unwrap()])
                    .env("AZURE_BATCH_ACCESS_KEY", sim.key()),
            );
            assert_eq!(code, 2, "{name} {command:?}: {err}");
            assert!(err.contains(expected), "{name} {command:?}: expected '{expected}' in {err}");
        }
    }
    assert_eq!(common::mutating_calls(&sim), 0);
}

/// `--account NAME` acts on that profile's account even with another account in the environment;
/// both endpoints are named on stderr, `info` says where each setting came from, and the
/// environment's key is never used for the profile's account. Without --account, the
/// environment beats the file's default profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_named_on_the_command_line_beats_the_environment() {
    let live = common::frozen_sim(Some("demo")).await;
    let dead = common::frozen_sim(None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("repool")).unwrap();
    let config = dir.path().join("repool/config.toml");
    let write_config = |dead_key: &str| {
        let text = format!(
            "account = \"dead\"\n[accounts.dead]\nurl = \"{}\"\nname = \"{}\"\n[accounts.dead.auth]\nmethod = \"shared-key\"\n{dead_key}",
            dead.url,
            dead.account()
        );
        std::fs::write(&config, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_config(&format!("account_key = \"{}\"\n", dead.key()));
    let with_env = |args: &[&str]| {
        let mut command = common::repool_command(dir.path());
        command
            .args(args)
            .env("AZURE_BATCH_ENDPOINT", &live.url)
            .env("AZURE_BATCH_ACCOUNT", live.account())
            .env("AZURE_BATCH_ACCESS_KEY", live.key());
        common::output(&mut command)
    };

    let (code, out, err) = with_env(&["info", "--account", "dead"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("account   dead  (flag --account)"), "{out}");
    assert!(out.contains(&format!("endpoint  {}  (config profile [accounts.dead])", dead.url)), "{out}");
    assert!(out.contains("key       set  (config profile [accounts.dead])"), "{out}");
    assert!(!out.contains(live.key()) && !out.contains(dead.key()), "{out}");
    let warning = err.lines().find(|l| l.contains("using account")).unwrap_or_else(|| panic!("{err}"));
    assert!(
        warning.contains(&dead.url) && warning.contains("[accounts.dead]") && warning.contains(&live.url),
        "{warning}"
    );
    assert!(warning.contains("AZURE_BATCH_ENDPOINT"), "{warning}");

    let (code, out, err) = with_env(&["pools", "--account", "dead"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(no pools in this account)") && !out.contains("p-render"), "{out}");
    assert!(live.stats().requests.is_empty(), "the environment's account was not asked");

    // The file's default profile gives way to the environment (file < env < flags), said on stderr.
    let (code, out, err) = with_env(&["pools"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p-render"), "{out}");
    assert!(err.contains(&format!("using account {} (environment AZURE_BATCH_ENDPOINT)", live.url)), "{err}");
    assert!(err.contains("account key from config profile [accounts.dead] is not used"), "{err}");

    // A profile without a key of its own never borrows the environment's (another account's).
    write_config("");
    let asked = dead.stats().requests.values().sum::<u64>();
    let (code, _, err) = with_env(&["pools", "--account", "dead"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("AZURE_BATCH_ACCESS_KEY is not used") && err.contains("needs the account key"), "{err}");
    assert!(!err.contains(live.key()), "{err}");
    assert_eq!(dead.stats().requests.values().sum::<u64>(), asked, "nothing was sent");
    let (code, out, _) = with_env(&["info", "--account", "dead"]);
    assert_eq!(code, 0);
    assert!(out.contains("key       -"), "{out}");

    // Nor does it sign in with the environment's client secret, which is another client's.
    let text = format!(
        "[accounts.dead]\nurl = \"{}\"\n[accounts.dead.auth]\nmethod = \"client-secret\"\ntenant_id = \"t-1\"\nclient_id = \"dead-app\"\n",
        dead.url
    );
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = common::output(
        common::repool_command(dir.path())
            .args(["pools", "--account", "dead"])
            .env("AZURE_CLIENT_ID", "live-app")
            .env("AZURE_CLIENT_SECRET", "live-secret"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("client-secret sign-in needs the secret"), "{err}");
    assert_eq!(dead.stats().requests.values().sum::<u64>(), asked, "nothing was sent");
}

/// api-versions after 2025-06-01 are taken (the 2025 model), and `retaineddata`, gone from
/// 2026-08-01 on, is refused with them before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deallocation_option_the_api_version_lacks_is_refused_before_anything_is_sent() {
    let (sim, dir) = common::fast_demo_with_config().await;
    let config = dir.path().join("repool/config.toml");
    let (code, _, err) =
        common::output(common::repool_command(dir.path()).args(["validate", "--api-version", "2026-10-01"]));
    assert_eq!(code, 0, "a newer api-version is taken: {err}");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("node_deallocation_option = \"retaineddata\"\n");
    std::fs::write(&config, &text).unwrap();
    let recreate = |extra: &[&str]| {
        let mut command = common::repool_command(dir.path());
        command.args(["recreate", "--pool", "p-ingest", "--yes"]).args(extra).env("AZURE_BATCH_ACCESS_KEY", sim.key());
        common::output(&mut command)
    };
    let (code, _, err) = recreate(&["--api-version", "2026-08-01"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "node_deallocation_option 'retaineddata' does not exist in api-version 2026-08-01 (--api-version;"
        ) && err.contains("use taskcompletion, requeue or terminate"),
        "{err}"
    );
    std::fs::write(&config, format!("api_version = \"2026-10-01\"\n{text}")).unwrap();
    let (code, _, err) = recreate(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("api-version 2026-10-01 (api_version in the config;"), "{err}");
    assert!(sim.stats().requests.is_empty(), "nothing reached the account: {:?}", sim.stats().requests);
    // The versions that have it still take it.
    let (code, out, err) = recreate(&["--api-version", "2025-06-01", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retaineddata"), "the drain would use it: {out}");
}
