//! Node operations against the simulator over HTTP, through repool's client: get node, remove
//! nodes, reboot, disable/enable scheduling, the start task's output files, faults on them.

use crate::common;

use common::{client_for, frozen_sim, pool_body};
use repool::batch::models::{
    AllocationState, DisableSchedulingOption, Node, NodeDeallocationOption, NodeState, RemoveNodesRequest,
};
use repool::sim::faults::Faults;
use repool::sim::world::Workload;

/// A frozen account with pool `id` of `nodes` booted nodes that ran `start` (a command line).
async fn pool_with_start_task(
    id: &str,
    nodes: u32,
    start: &str,
) -> (repool::sim::RunningSim, repool::batch::BatchClient) {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    let mut body = pool_body(id, nodes);
    body["startTask"] = serde_json::json!({"commandLine": start, "waitForSuccess": true});
    client.add_pool(&body).await.unwrap();
    sim.advance(200.0);
    (sim, client)
}

fn states(nodes: &[Node]) -> Vec<NodeState> {
    nodes.iter().map(|n| n.state.clone().unwrap()).collect()
}

#[tokio::test]
async fn get_node_answers_the_listed_body_and_an_unknown_node_is_node_not_found() {
    let (_sim, client) = pool_with_start_task("n-get", 2, "/bin/sh -c 'echo ready'").await;
    let listed = client.list_nodes("n-get", None).await.unwrap();
    assert_eq!(listed.len(), 2);
    for node in &listed {
        let mut got = client.get_node("n-get", node.id.as_deref().unwrap()).await.unwrap();
        assert!(got.rest.shift_remove("odata.metadata").is_some());
        assert_eq!(&got, node, "one body for get and list");
        assert_eq!(got.state, Some(NodeState::Idle));
        for key in ["ipAddress", "affinityId", "lastBootTime", "totalTasksRun", "nodeAgentInfo", "virtualMachineInfo"] {
            assert!(got.rest.contains_key(key), "{key} in {got:?}");
        }
        assert_eq!(got.rest["startTask"]["commandLine"], "/bin/sh -c 'echo ready'");
        assert!(got.start_task_succeeded());
    }
    let missing = client.get_node("n-get", "tvmps_nope_d").await.unwrap_err();
    assert_eq!((missing.status(), missing.code()), (Some(404), Some("NodeNotFound")));
    let no_pool = client.get_node("no-such-pool", "tvmps_nope_d").await.unwrap_err();
    assert_eq!(no_pool.code(), Some("PoolNotFound"));
}

/// The node keeps the start task it ran until it reboots: then it runs the pool's current one,
/// going rebooting → starting → idle, and its stdout/stderr say what the new one did.
#[tokio::test]
async fn a_reboot_runs_the_pools_current_start_task_and_its_output_files_follow() {
    let (sim, client) = pool_with_start_task("n-boot", 2, "/bin/sh -c 'exit 3'").await;
    let nodes = client.list_nodes("n-boot", None).await.unwrap();
    assert_eq!(states(&nodes), [NodeState::StartTaskFailed, NodeState::StartTaskFailed]);
    let id = nodes[0].id.clone().unwrap();
    let stdout = client.node_file("n-boot", &id, "startup/stdout.txt").await.unwrap();
    assert!(stdout.contains("/bin/sh -c 'exit 3'"), "{stdout}");
    let stderr = client.node_file("n-boot", &id, "startup/stderr.txt").await.unwrap();
    assert!(stderr.contains("exit code 3"), "{stderr}");
    let other = client.node_file("n-boot", &id, "startup/wd/none.txt").await.unwrap_err();
    assert_eq!(other.code(), Some("FileNotFound"));

    let fixed = serde_json::json!({"startTask": {"commandLine": "/bin/sh -c 'echo fixed'", "waitForSuccess": true}});
    client.patch_pool("n-boot", &fixed, None).await.unwrap();
    assert_eq!(client.get_node("n-boot", &id).await.unwrap().state, Some(NodeState::StartTaskFailed));
    client.reboot_node("n-boot", &id, NodeDeallocationOption::TaskCompletion).await.unwrap();
    assert_eq!(client.get_node("n-boot", &id).await.unwrap().state, Some(NodeState::Rebooting));
    let again = client.reboot_node("n-boot", &id, NodeDeallocationOption::Requeue).await.unwrap_err();
    assert_eq!((again.status(), again.code()), (Some(409), Some("NodeBeingRebooted")));
    sim.advance(31.0);
    assert_eq!(client.get_node("n-boot", &id).await.unwrap().state, Some(NodeState::Starting));
    sim.advance(60.0);
    let rebooted = client.get_node("n-boot", &id).await.unwrap();
    assert_eq!(rebooted.state, Some(NodeState::Idle));
    assert_eq!(rebooted.start_task_exit(), Some(0));
    let stdout = client.node_file("n-boot", &id, "startup/stdout.txt").await.unwrap();
    assert!(stdout.contains("echo fixed") && stdout.contains("code 0"), "{stdout}");
    assert_eq!(client.node_file("n-boot", &id, "startup/stderr.txt").await.unwrap(), "");
    let untouched = client.get_node("n-boot", nodes[1].id.as_deref().unwrap()).await.unwrap();
    assert_eq!(untouched.state, Some(NodeState::StartTaskFailed), "only the rebooted node changed");
}

/// removenodes: each node's kind target drops by one; taskcompletion keeps a node until its task
/// ends, requeue cuts it short; the service's errors for too many, unknown and not steady.
#[tokio::test]
async fn remove_nodes_lowers_the_target_and_honours_the_deallocation_option() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("n-rm", 3)).await.unwrap();
    sim.advance(200.0);
    sim.with_world(|world, now| {
        let pool = world.find_mut("n-rm").unwrap();
        pool.workload = Some(Workload { task_seconds: 600.0 });
        pool.nodes.iter_mut().for_each(|n| n.tasks_begin_at(now));
    });
    sim.advance(1.0);
    let ids: Vec<String> = client.list_nodes("n-rm", None).await.unwrap().into_iter().filter_map(|n| n.id).collect();
    let request = |nodes: &[String], option| RemoveNodesRequest {
        node_list: Some(nodes.to_vec()),
        node_deallocation_option: Some(option),
        ..Default::default()
    };
    let too_many: Vec<String> = (0..101).map(|i| format!("n{i}")).collect();
    let refused = client.remove_nodes("n-rm", &request(&too_many, NodeDeallocationOption::Requeue)).await.unwrap_err();
    assert_eq!((refused.status(), refused.code()), (Some(400), Some("InvalidPropertyValue")));
    let unknown = vec![ids[0].clone(), "tvmps_nope_d".to_string()];
    let refused = client.remove_nodes("n-rm", &request(&unknown, NodeDeallocationOption::Requeue)).await.unwrap_err();
    assert_eq!(refused.code(), Some("NodeNotFound"));
    assert_eq!(client.get_pool("n-rm", None).await.unwrap().target_dedicated_nodes, Some(3), "nothing changed");

    client.remove_nodes("n-rm", &request(&ids[..1], NodeDeallocationOption::TaskCompletion)).await.unwrap();
    let pool = client.get_pool("n-rm", None).await.unwrap();
    assert_eq!((pool.target_dedicated_nodes, pool.allocation_state), (Some(2), Some(AllocationState::Resizing)));
    let busy = client.remove_nodes("n-rm", &request(&ids[1..2], NodeDeallocationOption::Requeue)).await.unwrap_err();
    assert_eq!((busy.status(), busy.code()), (Some(409), Some("PoolBeingResized")));
    assert_eq!(client.get_node("n-rm", &ids[0]).await.unwrap().state, Some(NodeState::Running), "its task goes on");
    sim.advance(600.0);
    assert_eq!(client.get_node("n-rm", &ids[0]).await.unwrap().state, Some(NodeState::LeavingPool));
    sim.advance(60.0);
    let pool = client.get_pool("n-rm", None).await.unwrap();
    assert_eq!((pool.current_dedicated_nodes, pool.allocation_state), (Some(2), Some(AllocationState::Steady)));
    assert_eq!(sim.stats().tasks_killed_by_resize, 0, "taskcompletion cut nothing short");

    client.remove_nodes("n-rm", &request(&ids[1..2], NodeDeallocationOption::Requeue)).await.unwrap();
    assert_eq!(client.get_node("n-rm", &ids[1]).await.unwrap().state, Some(NodeState::LeavingPool), "at once");
    assert_eq!(sim.stats().tasks_killed_by_resize, 1, "requeue cut its task short");
}

#[tokio::test]
async fn disabled_scheduling_takes_the_node_offline_after_its_task_and_enabling_brings_tasks_back() {
    let sim = frozen_sim(None).await;
    let client = client_for(&sim);
    client.add_pool(&pool_body("n-sched", 1)).await.unwrap();
    sim.advance(200.0);
    sim.with_world(|world, now| {
        let pool = world.find_mut("n-sched").unwrap();
        pool.workload = Some(Workload { task_seconds: 100.0 });
        pool.nodes.iter_mut().for_each(|n| n.tasks_begin_at(now));
    });
    sim.advance(1.0);
    let id = client.list_nodes("n-sched", None).await.unwrap()[0].id.clone().unwrap();
    client.disable_node_scheduling("n-sched", &id, DisableSchedulingOption::TaskCompletion).await.unwrap();
    let node = client.get_node("n-sched", &id).await.unwrap();
    assert_eq!((node.state, node.scheduling_state.as_deref()), (Some(NodeState::Running), Some("disabled")));
    sim.advance(100.0);
    assert_eq!(client.get_node("n-sched", &id).await.unwrap().state, Some(NodeState::Offline));
    client.enable_node_scheduling("n-sched", &id).await.unwrap();
    let node = client.get_node("n-sched", &id).await.unwrap();
    assert_eq!((node.state, node.scheduling_state.as_deref()), (Some(NodeState::Running), Some("enabled")));
    assert_eq!(sim.stats().tasks_killed_by_node_ops, 0);
}

/// Node operations meet faults like every other operation and are counted by name.
#[tokio::test]
async fn node_operations_take_faults_and_are_counted() {
    let (sim, client) = pool_with_start_task("n-fault", 2, "/bin/sh -c 'exit 1'").await;
    let ids: Vec<String> = client.list_nodes("n-fault", None).await.unwrap().into_iter().filter_map(|n| n.id).collect();
    sim.set_faults(Faults::parse("429@reboot-node=1x,retry-after=0").unwrap());
    client.reboot_node("n-fault", &ids[0], NodeDeallocationOption::Requeue).await.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.requests.get("POST reboot node 429"), Some(&1));
    assert_eq!(stats.requests.get("POST reboot node 202"), Some(&1), "retried once");
    // A lost answer: the reboot happened, the client cannot know, and does not send it again.
    sim.set_faults(Faults::parse("lost@reboot-node=1x").unwrap());
    assert!(client.reboot_node("n-fault", &ids[1], NodeDeallocationOption::Requeue).await.is_err());
    assert_eq!(client.get_node("n-fault", &ids[1]).await.unwrap().state, Some(NodeState::Rebooting));
    assert_eq!(sim.stats().requests.get("POST reboot node lost"), Some(&1));
    assert!(sim.stats().requests.contains_key("GET get node 200"));
}

/// `repool nodes`: the table and its JSON twin name a failed start task with its exit code and
/// failure; an unknown pool is bad input (exit 2) with the command that lists pools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repool_nodes_shows_each_nodes_state_and_start_task_result() {
    let (sim, dir) = common::fast_demo_with_config().await;
    common::fail_start_tasks(&sim, "win-test");
    let count = sim.with_world(|w, now| w.find("win-test").unwrap().visible_nodes(now).count());
    assert!(count > 0);
    let nodes = |args: &[&str]| {
        common::output(
            common::repool_command(dir.path()).arg("nodes").args(args).env("AZURE_BATCH_ACCESS_KEY", sim.key()),
        )
    };
    let (code, out, err) = nodes(&["--pool", "win-test"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID") && out.contains("START TASK"), "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.contains("starttaskfailed")).collect();
    assert_eq!(failed.len(), count, "{out}");
    assert!(failed.iter().all(|l| l.contains("exit 3 (FailureExitCode") && l.contains("enabled")), "{out}");

    let (code, out, err) = nodes(&["--pool", "win-test", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), count);
    assert!(rows.iter().all(|r| r["state"] == "starttaskfailed" && r["startTask"]["exitCode"] == 3), "{out}");
    assert!(!out.contains("cmd /c"), "the start task's command line stays out of the output");

    let (code, out, err) = nodes(&["--pool", "no-such-pool"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("--pool no-such-pool") && err.contains("repool pools"), "{err}");
}

/// The api-versions past 2025-06-01 (2026-08-01, 2026-10-01) are answered with their breaking
/// change: no `retaineddata` deallocation option, no `usageStats` in pool statistics; the versions
/// before keep both.
#[tokio::test]
async fn api_versions_of_2026_refuse_retained_data_and_drop_usage_stats() {
    let (sim, _) = pool_with_start_task("p2026", 2, "/bin/true").await;
    let remove = |version| {
        let client = common::client_at(&sim, version, repool::batch::RetryPolicy::default());
        async move {
            let nodes = client.list_nodes("p2026", None).await.unwrap();
            let request = RemoveNodesRequest {
                node_list: Some(vec![nodes[0].id.clone().unwrap()]),
                resize_timeout: None,
                node_deallocation_option: Some(NodeDeallocationOption::RetainedData),
            };
            client.remove_nodes("p2026", &request).await
        }
    };
    let refused = remove(repool::batch::ApiVersion::dated(2026, 10, 1)).await.unwrap_err();
    assert_eq!((refused.status(), refused.code()), (Some(400), Some("InvalidPropertyValue")), "{refused}");
    let still = common::client_for(&sim).list_nodes("p2026", None).await.unwrap();
    assert!(still.iter().all(|n| n.state != Some(NodeState::LeavingPool)), "nothing removed: {still:?}");
    remove(repool::batch::ApiVersion::V2025_06_01).await.expect("2025-06-01 still has retaineddata");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for (version, usage) in [("2025-06-01", true), ("2026-08-01", false)] {
        let url = format!("{}/pools/p2026?api-version={version}&$expand=stats", sim.url);
        let mut request = http.get(url).build().unwrap();
        repool::batch::shared_key::SharedKey::new(sim.account(), sim.key()).unwrap().sign(&mut request);
        let body: serde_json::Value = http.execute(request).await.unwrap().json().await.unwrap();
        assert_eq!(body["stats"].get("usageStats").is_some(), usage, "{version}: {}", body["stats"]);
        assert!(body["stats"]["resourceStats"].is_object(), "{version}");
    }
}
