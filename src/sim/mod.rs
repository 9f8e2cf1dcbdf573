//! The simulated Batch account: a state machine behind the real Batch REST surface on loopback.
//! Used in-process by tests and `repool demo`, and as a server by `repool sim`.

pub mod auth;
mod body;
pub mod clock;
mod conditional;
mod entra;
mod errors;
pub mod faults;
pub mod filter;
pub mod formula;
pub mod http;
pub mod images;
mod inspect;
mod jobs;
mod nodes;
mod paging;
mod pools;
mod route;
pub mod seed;
mod stats;
mod tasks;
pub mod tls;
mod validate;
pub mod world;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clock::SimClock;
use faults::Faults;
use std::sync::{Arc, Mutex};
use world::{Stats, World};

pub struct SimState {
    pub world: Mutex<World>,
    pub clock: Mutex<SimClock>,
    pub verifier: auth::Verifier,
    pub account: String,
    pub key: String,
    /// `https` under --tls: the scheme of the links answers carry.
    pub scheme: &'static str,
}

impl SimState {
    /// Runs `f` on the world brought up to date, with the current simulated time.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World, f64) -> R) -> R {
        let clock = self.clock.lock().expect("clock lock").clone();
        let now = clock.now();
        let mut world = self.world.lock().expect("world lock");
        world.advance(now, &clock);
        f(&mut world, now)
    }
}

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub account: String,
    /// Base64 account key; None makes a random one.
    pub key: Option<String>,
    pub speed: f64,
    pub faults: Faults,
    pub seed_rng: u64,
    pub allow_bearer: bool,
    /// `demo`, a JSON file of pools, or a directory of them.
    pub seed: Option<String>,
    /// Serve HTTPS under the CA kept in this directory (written there the first time), with a
    /// token endpoint whose bearer tokens the account accepts.
    pub tls: Option<std::path::PathBuf>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            account: "simaccount".into(),
            key: None,
            speed: 1.0,
            faults: Faults::default(),
            seed_rng: 1,
            allow_bearer: false,
            seed: None,
            tls: None,
        }
    }
}

/// A simulator serving on loopback; stops when dropped.
pub struct RunningSim {
    pub url: String,
    /// With TLS: the CA certificate clients must trust.
    pub ca_file: Option<std::path::PathBuf>,
    pub state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a simulator listening on `listen` (e.g. `127.0.0.1:0`).
pub async fn start(options: SimOptions, listen: &str) -> Result<RunningSim, String> {
    let key = match &options.key {
        Some(key) => key.clone(),
        None => {
            let mut bytes = [0u8; 64];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                .map_err(|_| "no randomness")?;
            STANDARD.encode(bytes)
        }
    };
    let verifier = auth::Verifier::new(&options.account, &key, options.allow_bearer)?;
    let mut world = World::new(options.seed_rng);
    world.faults = options.faults.clone();
    let clock = SimClock::new(options.speed);
    if let Some(source) = &options.seed {
        seed::load(&mut world, &clock, source)?;
    }
    let state = Arc::new(SimState {
        world: Mutex::new(world),
        clock: Mutex::new(clock),
        verifier,
        account: options.account.clone(),
        key,
        scheme: if options.tls.is_some() { "https" } else { "http" },
    });
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut app = axum::Router::new();
    let tls = match &options.tls {
        Some(dir) => {
            app = app.route("/{tenant}/oauth2/v2.0/token", axum::routing::post(entra::token));
            Some(tls::server_config(dir)?)
        }
        None => None,
    };
    let app = app.fallback(http::handle).with_state(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = rx.await;
    };
    let (ca_file, task) = match tls {
        Some((config, ca_file)) => {
            let listener = tls::TlsListener::new(listener, config).map_err(|e| e.to_string())?;
            let serving = axum::serve(listener, app).with_graceful_shutdown(shutdown);
            (Some(ca_file), tokio::spawn(async move { report(serving.await) }))
        }
        None => {
            let serving = axum::serve(listener, app).with_graceful_shutdown(shutdown);
            (None, tokio::spawn(async move { report(serving.await) }))
        }
    };
    Ok(RunningSim { url: format!("{}://{addr}", state.scheme), ca_file, state, shutdown: Some(tx), task: Some(task) })
}

fn report(served: std::io::Result<()>) {
    if let Err(e) = served {
        tracing::error!("simulator stopped: {e}");
    }
}

impl RunningSim {
    pub fn account(&self) -> &str {
        &self.state.account
    }

    pub fn key(&self) -> &str {
        &self.state.key
    }

    pub fn stats(&self) -> Stats {
        self.state.world.lock().expect("world lock").stats.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.world.lock().expect("world lock").faults = faults;
    }

    /// Jumps simulated time forward.
    pub fn advance(&self, secs: f64) {
        self.state.clock.lock().expect("clock lock").advance(secs);
    }

    /// Runs `f` on the world brought up to date, with the current simulated time.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World, f64) -> R) -> R {
        self.state.with_world(f)
    }

    /// A second operator deletes pool `body.id` and creates another with the same id in one
    /// instant (its tasks requeued), as a race between two tools would leave it: for tests.
    pub fn replace_pool(&self, body: serde_json::Value) -> Result<(), String> {
        let clock = self.state.clock.lock().expect("clock lock").clone();
        let now = clock.now();
        let body = body.as_object().cloned().ok_or("a pool body is a JSON object")?;
        let pool = validate::validate_new_pool(body, crate::batch::ApiVersion::DEFAULT)
            .map_err(|refused| refused.describe())?;
        let mut world = self.state.world.lock().expect("world lock");
        world.advance(now, &clock);
        world.pools.remove(&pool.id().to_lowercase());
        world.admit(pool, now, now, None, None, &clock);
        Ok(())
    }

    /// Adds job `id` on pool `pool` with these (task id, command line) tasks queued now, as
    /// `POST /jobs` and `POST /jobs/{id}/tasks` would: for tests.
    pub fn add_job(&self, id: &str, pool: &str, tasks: &[(&str, &str)]) {
        self.with_world(|world, now| {
            let e_tag = world.next_etag();
            let job = world::SimJob {
                id: id.into(),
                pool_id: pool.into(),
                created: now,
                e_tag,
                completed: None,
                rest: Default::default(),
                tasks: Default::default(),
                background: false,
            };
            world.jobs.insert(id.to_lowercase(), job);
            for (task, line) in tasks {
                let task = world::SimTask {
                    id: task.to_string(),
                    command_line: line.to_string(),
                    created: now,
                    queued_at: now,
                    requeues: 0,
                    run: None,
                    rest: Default::default(),
                };
                let key = task.id.to_lowercase();
                world.jobs.get_mut(&id.to_lowercase()).expect("just added").tasks.insert(key.clone(), task);
                world.enqueue(&id.to_lowercase(), &key, now);
            }
        });
    }

    /// Stops serving and waits for open connections to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
