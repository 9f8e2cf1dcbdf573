//! Shared test set-up: a simulator on loopback and a client signed with its key.
#![allow(dead_code)]

use repool::batch::http::HttpSettings;
use repool::batch::{AuthMethod, AuthSettings, BatchClient, Credential, RetryPolicy};
use repool::secret::Secret;
use repool::sim::{self, RunningSim, SimOptions};
use std::time::Duration;

/// A simulator whose clock only moves when the test calls `advance`.
pub async fn frozen_sim(seed: Option<&str>) -> RunningSim {
    let options = SimOptions { speed: 0.0, seed: seed.map(String::from), ..Default::default() };
    sim::start(options, "127.0.0.1:0").await.expect("simulator starts")
}

pub fn client_for(sim: &RunningSim) -> BatchClient {
    client_with(
        sim,
        RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            ..Default::default()
        },
    )
}

pub fn client_with(sim: &RunningSim, retry: RetryPolicy) -> BatchClient {
    let auth = AuthSettings {
        method: AuthMethod::SharedKey,
        account_name: sim.account().to_string(),
        account_key: Some(Secret::new(sim.key())),
        ..Default::default()
    };
    let credential = Credential::from_settings(&auth, &HttpSettings::default()).expect("credential");
    BatchClient::new(&sim.url, "2024-07-01.20.0", credential, &HttpSettings::default(), retry).expect("client")
}

pub fn pool_body(id: &str, dedicated: u32) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "vmSize": "STANDARD_D2S_V3",
        "targetDedicatedNodes": dedicated,
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"
        }
    })
}
