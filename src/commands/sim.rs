//! `repool sim` (the simulated account as a server) and `repool demo` (repool on it, no set-up).

use crate::cli::{DemoArgs, SimArgs};
use crate::config::Settings;
use crate::errors::{BadInput, Exit};
use crate::sim::{self, SimOptions, faults::Faults};

fn options(args: &SimArgs, account: String, settings: &Settings) -> Result<SimOptions, BadInput> {
    let faults = match &args.faults {
        Some(spec) => Faults::parse(spec).map_err(|e| BadInput::new(format!("--faults: {e}")))?,
        None => Faults::default(),
    };
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(BadInput::new("--speed must be a positive number, e.g. 60 for a simulated minute per second"));
    }
    Ok(SimOptions {
        account,
        key: args.key.clone(),
        speed: args.speed,
        faults,
        seed_rng: args.seed_rng,
        allow_bearer: args.allow_bearer,
        seed: args.seed.clone(),
        tls: args
            .tls
            .then(|| args.tls_dir.clone().unwrap_or_else(|| crate::config::layout::sim_tls(&settings.paths.data_dir))),
    })
}

/// Serves until SIGINT/SIGTERM; the first stdout line tells clients where and how to connect
/// (with --tls, the second what to trust and where tokens come from).
pub async fn serve(args: SimArgs, account: String, settings: &Settings) -> color_eyre::Result<Exit> {
    let running = sim::start(options(&args, account, settings)?, &args.listen).await.map_err(BadInput)?;
    if args.pools > 0 {
        let clock = running.state.clock.lock().expect("clock lock").clone();
        running.with_world(|world, _| sim::seed::generated(world, &clock, args.pools)).map_err(BadInput)?;
    }
    println!("listening on {} account={} key={}", running.url, running.account(), running.key());
    if let Some(ca) = &running.ca_file {
        println!(
            "trust ca={} token={}/TENANT/oauth2/v2.0/token (repool: SSL_CERT_FILE and auth.authority_host={}; \
             Python: REQUESTS_CA_BUNDLE; Node.js: NODE_EXTRA_CA_CERTS)",
            ca.display(),
            running.url,
            running.url
        );
    }
    tracing::info!(url = %running.url, "simulator listening");
    // SIGINT, SIGTERM, SIGHUP or SIGQUIT: stop serving.
    crate::signals::claim().received().await;
    running.stop().await;
    Ok(Exit::Done)
}

/// The demo account in-process, with `extra` generated pools.
pub async fn start_demo(speed: f64, extra: usize) -> Result<sim::RunningSim, BadInput> {
    let options = SimOptions { speed, seed: Some("demo".into()), ..Default::default() };
    let running = sim::start(options, "127.0.0.1:0").await.map_err(BadInput)?;
    running
        .with_world(|world, _| {
            let clock = running.state.clock.lock().expect("clock lock").clone();
            sim::seed::generated(world, &clock, extra)
        })
        .map_err(BadInput)?;
    Ok(running)
}

/// Settings pointing at a running simulator with Shared Key.
pub fn settings_for(running: &sim::RunningSim, mut settings: Settings) -> Settings {
    settings.endpoint = Some(running.url.clone());
    settings.auth = crate::batch::AuthSettings {
        method: crate::batch::AuthMethod::SharedKey,
        account_name: running.account().to_string(),
        account_key: Some(crate::secret::Secret::new(running.key())),
        ..Default::default()
    };
    settings
}

/// The demo account running, and what the dashboard shows it with.
pub struct Demo {
    pub running: sim::RunningSim,
    pub settings: Settings,
    pub client: crate::batch::BatchClient,
    pub definition: crate::definition::Definition,
}

/// Starts the demo account; `app` opens the dashboard on it (commands never draw the dashboard).
pub async fn demo(args: DemoArgs, settings: Settings) -> color_eyre::Result<Demo> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(BadInput::new("--speed must be a positive number").into());
    }
    let running = start_demo(args.speed, args.pools).await?;
    let mut settings = settings_for(&running, settings);
    // Demo runs keep their journals and backups apart from real accounts'.
    settings.paths.data_dir = crate::config::layout::demo(&settings.paths.data_dir);
    settings.policy.poll_interval = std::time::Duration::from_millis(500);
    settings.policy.fast_poll_interval = std::time::Duration::from_millis(200);
    settings.refresh = std::time::Duration::from_secs(2);
    let definition = crate::definition::Definition::from_text(
        "pools.demo.json (built in)",
        crate::definition::DEMO,
        false,
        &Default::default(),
    )
    .map_err(|e| BadInput::new(e.to_string()))?;
    let client = crate::setup::connect(&settings)?;
    Ok(Demo { running, settings, client, definition })
}
