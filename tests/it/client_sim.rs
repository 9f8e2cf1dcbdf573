//! repool's client against the simulator over HTTP: every operation and the errors that matter.

use crate::common;

use common::{client_for, client_with, frozen_sim, pool_body};
use repool::batch::models::{
    AllocationState, EnableAutoScaleRequest, NodeDeallocationOption, PoolState, ResizeRequest,
};
use repool::batch::{BatchDuration, RetryPolicy};
use repool::sim::faults::Faults;
use repool::sim::world::Workload;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn lists_every_page_in_id_order_with_select_and_filter() {
    let sim = frozen_sim(Some("demo")).await;
    let client = client_for(&sim);
    let all = client.list_pools(None, None, Some(5)).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|p| p.id()).collect();
    assert_eq!(ids.len(), 12);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| id.to_lowercase());
    assert_eq!(ids, sorted);
    // Seeded state as the service shows it: errors only where there are some, never `[]`.
    let legacy = all.iter().find(|p| p.id() == "legacy-batch").unwrap();
    assert_eq!(legacy.resize_errors.as_ref().unwrap()[0].code, "AccountCoreQuotaReached");
    assert!(
        all.iter().filter(|p| p.id() != "legacy-batch").all(|p| p.resize_errors.is_none()),
        "no empty resizeErrors"
    );
    assert!(all.iter().filter(|p| p.id() != "ml-infer").all(|p| p.is_steady()));
    let paged_calls = sim.stats().requests.get("GET list pools 200").copied();
    assert_eq!(paged_calls, Some(3), "12 pools at 5 a page take 3 calls");

    let slim = client.list_pools(Some("id,state"), None, None).await.unwrap();
    assert!(slim.iter().all(|p| p.vm_size.is_none() && p.state == Some(PoolState::Active) && p.rest.is_empty()));

    let auto =
        client.list_pools(Some("id"), Some("enableAutoScale eq true and startswith(id,'p-')"), None).await.unwrap();
    assert_eq!(auto.iter().map(|p| p.id()).collect::<Vec<_>>(), ["p-render"]);

    let err = client.list_pools(None, Some("state like 'x'"), None).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidQueryParameterValue"));
    let err = client.list_pools(None, None, Some(0)).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidQueryParameterValue"));
    assert!(err.to_string().contains("MaxResults cannot be less than 1"), "{err}");
}

#[tokio::test]
async fn add_fills_server_defaults_and_ids_ignore_case() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("Pool-A", 2)).await.unwrap();
    let pool = client.get_pool("pool-a", None).await.unwrap();
    assert_eq!(pool.id(), "Pool-A");
    assert_eq!(pool.vm_size.as_deref(), Some("standard_d2s_v3"));
    assert_eq!(pool.resize_timeout, Some(BatchDuration::from_mins(15)));
    assert_eq!(pool.allocation_state, Some(AllocationState::Resizing));
    assert_eq!(pool.rest["taskSchedulingPolicy"]["nodeFillType"], "Spread");
    assert_eq!(pool.rest["virtualMachineConfiguration"]["imageReference"]["version"], "latest");
    assert!(pool.e_tag.as_deref().unwrap().starts_with("0x") && pool.e_tag.as_ref().unwrap().len() == 17);

    let err = client.add_pool(&pool_body("POOL-a", 1)).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("PoolExists")));
    assert!(client.pool_exists("pool-A").await.unwrap());
    assert!(!client.pool_exists("nope").await.unwrap());

    sim.advance(120.0);
    let pool = client.get_pool("Pool-A", None).await.unwrap();
    assert!(pool.is_steady());
    assert_eq!(pool.current_dedicated_nodes, Some(2));
}

#[tokio::test]
async fn invalid_bodies_get_the_service_errors() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    let mut body = pool_body("bad id!", 1);
    let err = client.add_pool(&body).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidPropertyValue"));
    assert_eq!(err.service().unwrap().value("PropertyName"), Some("id"));
    body = pool_body("ok", 1);
    body["resizeTimeout"] = "PT1M".into();
    assert_eq!(client.add_pool(&body).await.unwrap_err().code(), Some("InvalidPropertyValue"));
    body = pool_body("ok", 1);
    body.as_object_mut().unwrap().remove("vmSize");
    let err = client.add_pool(&body).await.unwrap_err();
    assert_eq!(
        (err.code(), err.service().unwrap().value("PropertyName")),
        (Some("MissingRequiredProperty"), Some("vmSize"))
    );
    // Integers as JSON strings read as the service reads them (the Azure CLI sends flags so).
    body = pool_body("cli", 0);
    body["targetDedicatedNodes"] = "2".into();
    body["startTask"] = serde_json::json!({"commandLine": "true", "maxTaskRetryCount": "3"});
    client.add_pool(&body).await.unwrap();
    let pool = client.get_pool("cli", None).await.unwrap();
    assert_eq!((pool.target_dedicated_nodes, &pool.rest["startTask"]["maxTaskRetryCount"]), (Some(2), &3.into()));
    body["id"] = "cli-2".into();
    body["taskSlotsPerNode"] = "two".into();
    let err = client.add_pool(&body).await.unwrap_err();
    assert_eq!(
        (err.code(), err.service().unwrap().value("PropertyName")),
        (Some("InvalidRequestBody"), Some("taskSlotsPerNode"))
    );
    body["taskSlotsPerNode"] = 1.into();
    body["enableAutoScale"] = "sometimes".into();
    let err = client.add_pool(&body).await.unwrap_err();
    assert_eq!(err.service().unwrap().value("PropertyName"), Some("enableAutoScale"));
    assert!(!err.to_string().contains("invalid type"), "no parser text reaches a client: {err}");
    let err = client.resize_pool("nope", &ResizeRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Some("MissingRequiredProperty"), "body is checked before existence");
    let resize = ResizeRequest { target_dedicated_nodes: Some(1), ..Default::default() };
    let err = client.resize_pool("nope", &resize).await.unwrap_err();
    assert!(err.is_not_found() && err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn resize_stop_and_drain_follow_the_service() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("p", 0)).await.unwrap();
    sim.advance(5.0);
    let grow = ResizeRequest { target_dedicated_nodes: Some(3), ..Default::default() };
    let before = client.get_pool("p", None).await.unwrap().e_tag;
    client.resize_pool("p", &grow).await.unwrap();
    let resizing = client.get_pool("p", None).await.unwrap();
    assert_ne!(resizing.e_tag, before, "resize is a user mutation");
    assert_eq!(resizing.allocation_state, Some(AllocationState::Resizing));
    let err = client.resize_pool("p", &grow).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("PoolBeingResized")));

    client.stop_resize("p").await.unwrap();
    let stopping = client.get_pool("p", None).await.unwrap();
    assert_eq!(stopping.allocation_state, Some(AllocationState::Stopping));
    assert_eq!(stopping.e_tag, resizing.e_tag, "stopresize keeps the ETag");
    sim.advance(60.0);
    let stopped = client.get_pool("p", None).await.unwrap();
    assert!(stopped.is_steady());
    assert_eq!(stopped.resize_errors.unwrap()[0].code, "ResizeStopped");
    assert_eq!(stopped.target_dedicated_nodes, Some(3));

    client.resize_pool("p", &grow).await.unwrap();
    sim.advance(200.0);
    let counts = client.list_node_counts().await.unwrap();
    let nodes = client.list_nodes("p", None).await.unwrap();
    let pool = client.get_pool("p", None).await.unwrap();
    assert_eq!(pool.current_dedicated_nodes, Some(3));
    assert_eq!(counts[0].dedicated.total, 3);
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes.iter().all(|n| n.id.as_ref().unwrap().starts_with("tvmps_") && n.id.as_ref().unwrap().ends_with("_d"))
    );

    let drain = ResizeRequest {
        target_dedicated_nodes: Some(0),
        target_low_priority_nodes: Some(0),
        node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
        resize_timeout: Some(BatchDuration::from_mins(10)),
    };
    client.resize_pool("p", &drain).await.unwrap();
    sim.advance(60.0);
    let drained = client.get_pool("p", None).await.unwrap();
    assert!(drained.is_steady() && drained.current_nodes() == 0);
}

#[tokio::test]
async fn taskcompletion_waits_for_running_tasks_and_times_out_honestly() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("busy", 2)).await.unwrap();
    sim.advance(200.0);
    // Hour-long tasks start on both nodes now.
    sim.with_world(|world, now| {
        let pool = world.find_mut("busy").unwrap();
        pool.workload = Some(Workload { task_seconds: 3600.0 });
        pool.nodes.iter_mut().for_each(|n| n.tasks_begin_at(now));
    });
    sim.advance(1.0);
    let drain = |minutes| ResizeRequest {
        target_dedicated_nodes: Some(0),
        target_low_priority_nodes: Some(0),
        node_deallocation_option: Some(NodeDeallocationOption::TaskCompletion),
        resize_timeout: Some(BatchDuration::from_mins(minutes)),
    };
    client.resize_pool("busy", &drain(5)).await.unwrap();
    sim.advance(6.0 * 60.0);
    let timed_out = client.get_pool("busy", None).await.unwrap();
    assert!(timed_out.is_steady());
    assert_eq!(timed_out.current_dedicated_nodes, Some(2), "busy nodes stay when the timeout hits first");
    assert_eq!(timed_out.resize_errors.unwrap()[0].code, "AllocationTimedout");
    assert_eq!(client.list_node_counts().await.unwrap()[0].dedicated.running, 2);

    client.resize_pool("busy", &drain(120)).await.unwrap();
    sim.advance(30.0 * 60.0);
    assert_eq!(client.get_pool("busy", None).await.unwrap().current_dedicated_nodes, Some(2), "still running");
    sim.advance(30.0 * 60.0);
    let drained = client.get_pool("busy", None).await.unwrap();
    assert!(drained.is_steady() && drained.current_nodes() == 0 && drained.resize_errors.is_none());
    assert_eq!(sim.stats().tasks_killed_by_resize, 0, "taskcompletion never cuts a task short");
}

#[tokio::test]
async fn autoscale_enable_evaluate_disable() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("auto", 0)).await.unwrap();
    sim.advance(5.0);
    let err = client.evaluate_autoscale("auto", "$TargetDedicatedNodes=1;").await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    let enable = EnableAutoScaleRequest {
        auto_scale_formula: Some("$TargetDedicatedNodes = 2;".into()),
        auto_scale_evaluation_interval: Some(BatchDuration::from_mins(5)),
    };
    client.enable_autoscale("auto", &enable).await.unwrap();
    let pool = client.get_pool("auto", None).await.unwrap();
    assert!(pool.autoscale());
    assert_eq!(pool.target_dedicated_nodes, Some(2));
    assert!(pool.auto_scale_run.unwrap().results.unwrap().starts_with("$TargetDedicatedNodes=2"));
    let err = client.enable_autoscale("auto", &enable).await.unwrap_err();
    assert_eq!(err.code(), Some("TooManyEnableAutoScaleRequests"));
    sim.advance(200.0);
    let resize = ResizeRequest { target_dedicated_nodes: Some(0), ..Default::default() };
    assert_eq!(client.resize_pool("auto", &resize).await.unwrap_err().status(), Some(409));
    let run = client.evaluate_autoscale("auto", "$TargetDedicatedNodes = $something_useless;").await.unwrap();
    assert_eq!(run.error.unwrap().code, "AutoScalingFormulaEvaluationError");

    client.disable_autoscale("auto").await.unwrap();
    let pool = client.get_pool("auto", None).await.unwrap();
    assert!(!pool.autoscale() && pool.auto_scale_formula.is_none() && pool.auto_scale_run.is_none());
    assert_eq!(pool.allocation_state, Some(AllocationState::Resizing), "disable settles for a while");
    sim.advance(60.0);
    assert!(client.get_pool("auto", None).await.unwrap().is_steady());
}

#[tokio::test]
async fn delete_goes_through_deleting_to_gone() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("d", 1)).await.unwrap();
    sim.advance(120.0);
    let tag = client.get_pool("d", None).await.unwrap().e_tag.unwrap();
    // The simulator measures each pool's own service time (the recreation benchmark's yardstick).
    let allocating = sim.stats().service_seconds["d"];
    assert!((30.0..32.0).contains(&allocating), "one node allocates in ~30 s: {allocating}");
    let err = client.delete_pool("d", Some("0x000000000000000")).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(412), Some("ConditionNotMet")));
    client.delete_pool("d", Some(&tag)).await.unwrap();
    let deleting = client.get_pool("d", None).await.unwrap();
    assert_eq!(deleting.state, Some(PoolState::Deleting));
    assert_eq!(client.delete_pool("d", None).await.unwrap_err().code(), Some("PoolBeingDeleted"));
    assert_eq!(client.add_pool(&pool_body("D", 1)).await.unwrap_err().code(), Some("PoolBeingDeleted"));
    sim.advance(120.0);
    assert!(client.get_pool("d", None).await.unwrap_err().is_not_found());
    let deleting = sim.stats().service_seconds["d"] - allocating;
    assert!((deleting - 50.0).abs() < 1e-9, "deleting a pool with a node: 20 s + twice the node release: {deleting}");
    client.add_pool(&pool_body("d", 1)).await.unwrap();
}

#[tokio::test]
async fn patch_and_update_properties() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("u", 0)).await.unwrap();
    client
        .patch_pool("u", &serde_json::json!({"metadata": [{"name": "team", "value": "render"}]}), None)
        .await
        .unwrap();
    assert_eq!(client.get_pool("u", None).await.unwrap().rest["metadata"][0]["value"], "render");
    let err = client.update_pool_properties("u", &serde_json::json!({"metadata": []}), None).await.unwrap_err();
    assert_eq!(err.code(), Some("MissingRequiredProperty"));
    let body = serde_json::json!({"certificateReferences": [], "applicationPackageReferences": [], "metadata": []});
    client.update_pool_properties("u", &body, None).await.unwrap();
    assert_eq!(client.get_pool("u", None).await.unwrap().rest["metadata"], serde_json::json!([]));
    // A PATCH is answered in the service's case as an add is (a restore compares them).
    sim.advance(120.0);
    let spelled = serde_json::json!({"vmSize": "Standard_D4s_v3", "taskSchedulingPolicy": {"nodeFillType": "pack"}});
    let client = common::client_at(&sim, repool::batch::ApiVersion::V2025_06_01, RetryPolicy::default());
    let before = client.get_pool("u", None).await.unwrap().e_tag;
    client.patch_pool("u", &spelled, before.as_deref()).await.unwrap();
    let pool = client.get_pool("u", None).await.unwrap();
    assert_ne!(pool.e_tag, before, "a PATCH is a user change: a new ETag");
    assert_eq!(pool.vm_size.as_deref(), Some("standard_d4s_v3"));
    assert_eq!(pool.rest["taskSchedulingPolicy"]["nodeFillType"], "Pack");
}

#[tokio::test]
async fn retries_transient_faults_and_reports_each_attempt() {
    let sim = frozen_sim(Some("demo")).await;
    let client = client_for(&sim);
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let seen = attempts.clone();
    client.set_observer(Arc::new(move |e| seen.lock().unwrap().push((e.attempt, e.status))));
    sim.set_faults(Faults::parse("503=2x,retry-after=0").unwrap());
    assert_eq!(client.list_pools(None, None, None).await.unwrap().len(), 12);
    assert_eq!(*attempts.lock().unwrap(), [(1, Some(503)), (2, Some(503)), (3, Some(200))]);

    sim.set_faults(Faults::parse("429=3x,retry-after=0").unwrap());
    client.get_pool("sandbox", None).await.unwrap();
    sim.set_faults(Faults::parse("timeout=2x").unwrap());
    client.get_pool("sandbox", None).await.unwrap();
    sim.set_faults(Faults::parse("drop=2x").unwrap());
    client.get_pool("sandbox", None).await.unwrap();

    // A pool add whose answer was lost may have happened: not resent blindly.
    sim.set_faults(Faults::parse("drop=1x").unwrap());
    assert!(matches!(client.add_pool(&pool_body("once", 0)).await, Err(repool::batch::BatchError::Transport { .. })));
    // …but throttling means it was not applied, so it is retried.
    sim.set_faults(Faults::parse("503=1x,retry-after=0").unwrap());
    client.add_pool(&pool_body("twice", 0)).await.unwrap();
}

#[tokio::test]
async fn retries_stop_within_the_total_time_bound() {
    let sim = frozen_sim(None).await;
    let policy = RetryPolicy {
        max_attempts: 100,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_total: Duration::from_millis(300),
    };
    let client = client_with(&sim, policy);
    sim.set_faults(Faults::parse("503=1.0,retry-after=0").unwrap());
    let err = client.list_pools(None, None, None).await.unwrap_err();
    assert_eq!(err.code(), Some("ServerBusy"));
    let calls = sim.stats().requests.get("GET list pools 503").copied().unwrap();
    assert!(calls > 2 && calls < 100, "gave up by time, not attempts: {calls}");
    assert!(err.to_string().contains("transient"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_a_clear_transport_error() {
    let sim = frozen_sim(None).await;
    let policy = RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1), ..Default::default() };
    let client = client_with(&sim, policy);
    sim.stop().await;
    let err = client.list_pools(None, None, None).await.unwrap_err();
    assert!(err.to_string().contains("cannot reach the Batch account"), "{err}");
}

/// One HTTP/1.1 answer off `stream`: its head (lower-cased) once the body is read to its length.
async fn answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed mid-answer");
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if bytes.len() >= end + 4 + length {
                return text[..end].to_string();
            }
        }
    }
}

#[tokio::test]
async fn connections_are_kept_alive_and_an_idle_one_does_not_hold_the_stop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = frozen_sim(None).await;
    let mut stream = tokio::net::TcpStream::connect(sim.url.trim_start_matches("http://")).await.unwrap();
    for _ in 0..2 {
        stream.write_all(b"GET /pools?api-version=2025-06-01 HTTP/1.1\r\nHost: sim\r\n\r\n").await.unwrap();
        let head = answer(&mut stream).await;
        assert!(head.starts_with("http/1.1 ") && !head.contains("connection: close"), "{head}");
    }
    // The simulator's stop waits for requests in flight, not for an idle keep-alive connection
    // (the timeout only turns a hang into a failure).
    tokio::time::timeout(Duration::from_secs(30), sim.stop()).await.expect("stop hung on an idle connection");
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0, "the server closed the idle connection");
}
