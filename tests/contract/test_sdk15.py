"""The official Python azure-batch 15.x SDK (api 2025-06-01) against `repool sim`, unchanged."""
import json
import os
import subprocess
import threading
import time

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.core.rest import HttpRequest

URL, ACCOUNT, KEY = os.environ["SIM_URL"], os.environ["SIM_ACCOUNT"], os.environ["SIM_KEY"]


def client(key=KEY):
    return BatchClient(URL, AzureNamedKeyCredential(ACCOUNT, key))


def vm():
    return m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
        node_agent_sku_id="batch.node.ubuntu 24.04",
    )


def wait_steady(pool_id):
    """A new pool is resizing at first; the service refuses a resize until it is steady."""
    deadline = time.time() + 20
    while client().get_pool(pool_id).allocation_state != "steady":
        assert time.time() < deadline, f"{pool_id} never became steady"
        time.sleep(0.05)


def exists(pool_id):
    """azure-batch 15.1.0's error policy raises on every 404, HEAD included, so pool_exists
    never returns False for a missing pool (the real service answers the same 404)."""
    try:
        return client().pool_exists(pool_id)
    except ResourceNotFoundError:
        return False


def code(error):
    return error.response.json()["code"]


def test_list_and_get():
    pools = list(client().list_pools())
    assert len(pools) >= 12
    pool = client().get_pool("p-ingest")
    assert pool.vm_size == "standard_d4s_v3"
    assert pool.allocation_state == "steady"
    assert exists("p-ingest") and not exists("no-such-pool")
    counts = list(client().list_pool_node_counts())
    assert any(c.pool_id == "p-ingest" and c.dedicated.total == 2 for c in counts)


def test_create_resize_stop_delete():
    c = client()
    c.create_pool(m.BatchPoolCreateOptions(id="sdk15-a", vm_size="STANDARD_D2S_V3", virtual_machine_configuration=vm(), target_dedicated_nodes=0))
    wait_steady("sdk15-a")
    with pytest.raises(HttpResponseError) as duplicate:
        c.create_pool(m.BatchPoolCreateOptions(id="SDK15-A", vm_size="x", virtual_machine_configuration=vm()))
    assert duplicate.value.status_code == 409 and code(duplicate.value) == "PoolExists"
    c.begin_resize_pool("sdk15-a", m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=0.2).result()
    pool = c.get_pool("sdk15-a")
    assert pool.allocation_state == "steady" and pool.current_dedicated_nodes == 2
    c.begin_resize_pool("sdk15-a", m.BatchPoolResizeOptions(target_dedicated_nodes=5), polling_interval=0.2)
    c.begin_stop_pool_resize("sdk15-a", polling_interval=0.2).result()
    assert c.get_pool("sdk15-a").allocation_state == "steady"
    c.begin_delete_pool("sdk15-a", polling_interval=0.2).result()
    assert not exists("sdk15-a")


def test_autoscale():
    c = client()
    c.create_pool(m.BatchPoolCreateOptions(id="sdk15-auto", vm_size="standard_d2s_v3", virtual_machine_configuration=vm(), target_dedicated_nodes=0))
    wait_steady("sdk15-auto")
    c.enable_pool_auto_scale("sdk15-auto", m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=1;"))
    assert c.get_pool("sdk15-auto").enable_auto_scale
    run = c.evaluate_pool_auto_scale("sdk15-auto", m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=3;"))
    assert run.results.startswith("$TargetDedicatedNodes=3")
    with pytest.raises(HttpResponseError) as busy:
        c.enable_pool_auto_scale("sdk15-auto", m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=1;"))
    assert code(busy.value) in ("TooManyEnableAutoScaleRequests", "PoolBeingResized")
    c.disable_pool_auto_scale("sdk15-auto")
    assert not c.get_pool("sdk15-auto").enable_auto_scale


def test_errors_as_the_sdk_surfaces_them():
    with pytest.raises(HttpResponseError) as missing:
        client().get_pool("no-such-pool")
    assert missing.value.status_code == 404 and code(missing.value) == "PoolNotFound"
    with pytest.raises(HttpResponseError) as bad_key:
        list(client(key="d3Jvbmcta2V5").list_pools())
    assert bad_key.value.status_code == 403 and code(bad_key.value) == "AuthenticationFailed"
    with pytest.raises(HttpResponseError) as invalid:
        client().create_pool(m.BatchPoolCreateOptions(id="bad id!", vm_size="x", virtual_machine_configuration=vm()))
    assert code(invalid.value) == "InvalidPropertyValue"


def test_update_pool_in_place_and_only_when_empty():
    """2025-06-01 PATCH: metadata at any time; vmSize only on a pool without nodes, else 409
    PropertyCannotBeUpdated (the simulator's choice, docs/SIMULATOR.md). The pool keeps its creation time."""
    c = client()
    c.create_pool(m.BatchPoolCreateOptions(id="sdk15-patch", vm_size="standard_d2s_v3", virtual_machine_configuration=vm(), target_dedicated_nodes=1))
    wait_steady("sdk15-patch")
    created = c.get_pool("sdk15-patch").creation_time
    c.update_pool("sdk15-patch", m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="team", value="a")]))
    assert c.get_pool("sdk15-patch").metadata[0].value == "a"
    with pytest.raises(HttpResponseError) as busy:
        c.update_pool("sdk15-patch", m.BatchPoolUpdateOptions(vm_size="standard_d4s_v3"))
    assert busy.value.status_code == 409 and code(busy.value) == "PropertyCannotBeUpdated"
    assert c.get_pool("sdk15-patch").vm_size == "standard_d2s_v3"
    c.begin_resize_pool("sdk15-patch", m.BatchPoolResizeOptions(target_dedicated_nodes=0), polling_interval=0.2).result()
    deadline = time.time() + 20
    while c.get_pool("sdk15-patch").current_dedicated_nodes:
        assert time.time() < deadline, "the pool never drained"
        time.sleep(0.05)
    c.update_pool("sdk15-patch", m.BatchPoolUpdateOptions(vm_size="standard_d4s_v3", task_slots_per_node=2))
    pool = c.get_pool("sdk15-patch")
    assert pool.vm_size == "standard_d4s_v3" and pool.task_slots_per_node == 2 and pool.creation_time == created
    c.begin_delete_pool("sdk15-patch", polling_interval=0.2).result()


def test_conditional_requests_with_quoted_etags():
    """15.1.0 sends the ETag quoted (`If-Match: "0x8D…"`, its quote_etag); entity tags compare as HTTP
    does. The SDK's BatchExceptionPolicy raises ResourceModifiedError on any failure of a request
    with If-Match, and on a 304 too (not the ResourceNotModifiedError of its generated error map)."""
    c = client()
    c.create_pool(m.BatchPoolCreateOptions(id="sdk15-etag", vm_size="standard_d2s_v3", virtual_machine_configuration=vm(), target_dedicated_nodes=0))
    wait_steady("sdk15-etag")
    current = c.get_pool("sdk15-etag").etag
    assert not current.startswith('"'), "the service's ETag is bare; the SDK adds the quotes"
    team = m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="team", value="a")])
    c.update_pool("sdk15-etag", team, etag=current, match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ResourceModifiedError) as stale:
        c.update_pool("sdk15-etag", team, etag=current, match_condition=MatchConditions.IfNotModified)
    assert stale.value.status_code == 412 and code(stale.value) == "ConditionNotMet"
    fresh = c.get_pool("sdk15-etag").etag
    assert fresh != current
    with pytest.raises(ResourceModifiedError) as unchanged:
        c.get_pool("sdk15-etag", etag=fresh, match_condition=MatchConditions.IfModified)
    assert unchanged.value.status_code == 304
    assert c.get_pool("sdk15-etag", etag=current, match_condition=MatchConditions.IfModified).etag == fresh
    c.begin_resize_pool("sdk15-etag", m.BatchPoolResizeOptions(target_dedicated_nodes=1), etag=fresh,
                        match_condition=MatchConditions.IfNotModified, polling_interval=0.2).result()
    resized = c.get_pool("sdk15-etag")
    assert resized.current_dedicated_nodes == 1 and resized.allocation_state == "steady"
    with pytest.raises(ResourceModifiedError):
        c.begin_delete_pool("sdk15-etag", etag=fresh, match_condition=MatchConditions.IfNotModified, polling_interval=0.2)
    c.begin_delete_pool("sdk15-etag", etag=resized.etag, match_condition=MatchConditions.IfNotModified, polling_interval=0.2).result()
    assert not exists("sdk15-etag")


# The body `az batch pool create` (Azure CLI 2.91.0, azure-batch 15.0.0b1) sent, captured verbatim, for:
# --id cli-flags --vm-size Standard_D2s_v3 --target-dedicated-nodes 1 --task-slots-per-node 2
# --image canonical:ubuntu-24_04-lts:server --node-agent-sku-id "batch.node.ubuntu 24.04"
# --start-task-command-line "/bin/sh -c 'echo hi'" --start-task-max-task-retry-count 2
# --start-task-wait-for-success --target-low-priority-nodes 0 --resize-timeout PT10M
# --enable-inter-node-communication --metadata team=render
CLI_CREATE = (
    '{"id": "cli-flags", "vmSize": "Standard_D2s_v3", "virtualMachineConfiguration": {"imageReference": '
    '{"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}, "nodeAgentSKUId": '
    '"batch.node.ubuntu 24.04"}, "resizeTimeout": "PT10M00S", "targetDedicatedNodes": "1", '
    '"targetLowPriorityNodes": "0", "enableInterNodeCommunication": true, "startTask": {"commandLine": '
    '"/bin/sh -c \'echo hi\'", "maxTaskRetryCount": "2", "waitForSuccess": true}, "taskSlotsPerNode": "2", '
    '"metadata": [{"name": "team", "value": "render"}]}'
)


def post_pool(body, api_version="2024-02-01.19.0"):
    """A raw pool add through the SDK's own pipeline (Shared Key signing included), as the CLI posts
    it; the answer whatever its status (the SDK's exception policy raises on an error)."""
    request = HttpRequest("POST", f"{URL}/pools?api-version={api_version}", content=body,
                          headers={"Content-Type": "application/json; odata=minimalmetadata"})
    try:
        return client().send_request(request)
    except HttpResponseError as error:
        return error.response


def test_pool_add_as_the_azure_cli_sends_it_with_numbers_as_strings():
    created = post_pool(CLI_CREATE)
    assert created.status_code == 201, created.text()
    pool = client().get_pool("cli-flags")
    assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes, pool.task_slots_per_node) == (1, 0, 2)
    assert pool.start_task.max_task_retry_count == 2 and pool.resize_timeout.total_seconds() == 600
    assert pool.vm_size == "standard_d2s_v3"
    client().begin_delete_pool("cli-flags", polling_interval=0.2).result()


def test_a_body_that_does_not_read_gets_the_service_error_naming_the_property():
    body = json.loads(CLI_CREATE)
    body.update(id="cli-bad", taskSlotsPerNode="two")
    refused = post_pool(json.dumps(body))
    error = refused.json()
    assert refused.status_code == 400 and error["code"] == "InvalidRequestBody", refused.text()
    values = {v["key"]: v["value"] for v in error["values"]}
    assert values["PropertyName"] == "taskSlotsPerNode" and "'two'" in values["Reason"]
    body.update(taskSlotsPerNode=2, enableInterNodeCommunication="maybe")
    refused = post_pool(json.dumps(body)).json()
    assert refused["code"] == "InvalidRequestBody" and "enableInterNodeCommunication" in json.dumps(refused["values"])
    assert "invalid type" not in json.dumps(refused) and "serde" not in json.dumps(refused)
    assert not exists("cli-bad")


def test_usage_metrics_stats_image_filters_and_comparison_filters():
    c = client()
    assert list(c.list_pool_usage_metrics()) == [], "a new account has no usage metrics (recorded live)"
    stats = c.get_pool("p-ingest", expand=["stats"]).pool_statistics
    assert stats is not None and stats.url.endswith("/pools/p-ingest/stats")
    assert stats.usage_statistics.dedicated_core_time.total_seconds() > 0, "two 4-core nodes for a day"
    assert 0 <= stats.resource_statistics.avg_cpu_percentage <= 100
    assert c.get_pool("p-ingest").pool_statistics is None, "only with $expand=stats"
    listed = [p for p in c.list_pools(expand=["stats"]) if p.id == "p-ingest"]
    assert listed[0].pool_statistics.usage_statistics is not None
    windows = list(c.list_supported_images(filter="osType eq 'windows'"))
    assert windows and all(i.os_type == "windows" for i in windows)
    verified = list(c.list_supported_images(filter="verificationType eq 'verified' and osType eq 'linux'"))
    assert verified and all(i.verification_type == "verified" and i.os_type == "linux" for i in verified)
    assert len(verified) < len(list(c.list_supported_images()))
    later = [p.id for p in c.list_pools(filter="id gt 'p'", select=["id"])]
    assert later and all(i > "p" for i in later) and "legacy-batch" not in later
    created = c.get_pool("p-ingest").creation_time
    since = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    newer = [p.id for p in c.list_pools(filter=f"creationTime ge datetime'{since}'", select=["id"])]
    assert "p-ingest" in newer


def test_a_failing_evaluation_answers_the_pools_current_values():
    c = client()
    run = c.evaluate_pool_auto_scale("p-render", m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = $something_useless;"))
    assert run.error.code == "AutoScalingFormulaEvaluationError"
    pool = c.get_pool("p-render")
    assert run.results.startswith(f"$TargetDedicatedNodes={pool.target_dedicated_nodes};$TargetLowPriorityNodes={pool.target_low_priority_nodes};")


def test_a_start_task_needs_a_command_line():
    c = client()
    empty = m.BatchStartTask(command_line="")
    with pytest.raises(HttpResponseError) as refused:
        c.create_pool(m.BatchPoolCreateOptions(id="sdk15-st", vm_size="standard_d2s_v3", virtual_machine_configuration=vm(), start_task=empty))
    values = {v["key"]: v["value"] for v in refused.value.response.json()["values"]}
    assert code(refused.value) == "MissingRequiredProperty" and values["PropertyName"] == "commandLine"
    assert not exists("sdk15-st")
    with pytest.raises(HttpResponseError) as patched:
        c.update_pool("p-ingest", m.BatchPoolUpdateOptions(start_task=empty))
    assert code(patched.value) == "MissingRequiredProperty"
    assert c.get_pool("p-ingest").start_task is None or c.get_pool("p-ingest").start_task.command_line


def wait_for(what, condition, seconds=30):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"never: {what}"
        time.sleep(0.1)


def test_nodes_get_files_reboot_scheduling_and_remove():
    c, pool = client(), "sdk15-nodes"
    failing = m.BatchStartTask(command_line="/bin/sh -c 'exit 2'", wait_for_success=True)
    c.create_pool(m.BatchPoolCreateOptions(id=pool, vm_size="STANDARD_D2S_V3", virtual_machine_configuration=vm(), target_dedicated_nodes=2, start_task=failing))
    states = lambda: [n.state for n in c.list_nodes(pool)]
    wait_for("two nodes whose start task failed", lambda: states() == ["starttaskfailed"] * 2)
    first, second = sorted(n.id for n in c.list_nodes(pool))
    node = c.get_node(pool, first)
    assert node.start_task_info.exit_code == 2 and node.start_task_info.failure_info.code == "FailureExitCode"
    assert node.ip_address and node.affinity_id and node.virtual_machine_info.image_reference.offer == "ubuntu-24_04-lts"
    stdout = b"".join(c.download_node_file(pool, first, "startup/stdout.txt")).decode()
    assert "exit 2" in stdout
    stderr = b"".join(c.download_node_file(pool, first, "startup/stderr.txt")).decode()
    assert "exit code 2" in stderr
    props = c.get_node_file_properties(pool, first, "startup/stderr.txt")
    assert int(props.content_length) == len(stderr.encode())
    with pytest.raises(ResourceNotFoundError) as missing:
        c.get_node(pool, "tvmps_nope_d")
    assert code(missing.value) == "NodeNotFound"

    # The fixed start task reaches the node only through its reboot (the poller waits it out).
    fixed = m.BatchStartTask(command_line="/bin/sh -c 'echo fixed'", wait_for_success=True)
    c.update_pool(pool, m.BatchPoolUpdateOptions(start_task=fixed))
    assert c.get_node(pool, first).state == "starttaskfailed"
    reboot = m._models.BatchNodeRebootOptions(node_reboot_kind="taskcompletion")  # 15.1.0 does not export it
    c.begin_reboot_node(pool, first, reboot, polling_interval=1).result()
    wait_for("the rebooted node idle", lambda: c.get_node(pool, first).state == "idle")
    assert c.get_node(pool, first).start_task_info.exit_code == 0
    assert c.get_node(pool, second).state == "starttaskfailed"

    c.disable_node_scheduling(pool, first, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="taskcompletion"))
    assert c.get_node(pool, first).scheduling_state == "disabled"
    c.enable_node_scheduling(pool, first)
    assert c.get_node(pool, first).scheduling_state == "enabled"

    c.begin_remove_nodes(pool, m.BatchNodeRemoveOptions(node_ids=[second], node_deallocation_option="taskcompletion"), polling_interval=1).result()
    after = c.get_pool(pool)
    assert after.allocation_state == "steady" and after.target_dedicated_nodes == 1
    assert [n.id for n in c.list_nodes(pool)] == [first]
    c.begin_delete_pool(pool, polling_interval=1).result()


def test_jobs_and_tasks_run_on_a_pools_nodes():
    c, job = client(), "sdk15-job"
    # A seeded busy pool's background job: what its node runs resolves through get task.
    assert c.get_job("job-reporting").pool_info.pool_id == "reporting"
    busy = c.list_nodes("reporting").__next__()
    recent = busy.recent_tasks[0]
    running = c.get_task(recent.job_id, recent.task_id)
    assert running.state == "running" and running.node_info.node_id == busy.id
    assert recent.task_url.endswith(f"/jobs/{recent.job_id}/tasks/{recent.task_id}")

    # A job of our own on a seeded idle pool of one node: one task runs, the next one waits.
    c.create_job(m.BatchJobCreateOptions(id=job, pool_info=m.BatchPoolInfo(pool_id="win-test")))
    with pytest.raises(HttpResponseError) as twice:
        c.create_job(m.BatchJobCreateOptions(id=job, pool_info=m.BatchPoolInfo(pool_id="win-test")))
    assert code(twice.value) == "JobExists"
    c.create_task(job, m.BatchTaskCreateOptions(id="long", command_line="/bin/sh -c 'sleep 3000'"))
    added = c.create_tasks(job, [m.BatchTaskCreateOptions(id="fails", command_line="/bin/sh -c 'sleep 1; exit 3'")])
    assert [r.status for r in added.result_values] == ["success"]
    assert [j.id for j in c.list_jobs(filter="executionInfo/poolId eq 'win-test'")] == [job]
    node = c.list_nodes("win-test").__next__()
    tasks = {t.id: t for t in c.list_tasks(job)}
    assert tasks["long"].state == "running" and tasks["long"].node_info.node_id == node.id
    assert tasks["long"].node_info.pool_id == "win-test" and tasks["fails"].state == "active"
    assert [t.id for t in c.list_tasks(job, filter="state eq 'active'")] == ["fails"]
    counts = c.get_job_task_counts(job)
    assert (counts.task_counts.active, counts.task_counts.running) == (1, 1)
    assert counts.task_slot_counts.running == 1
    assert c.get_node("win-test", node.id).recent_tasks[0].task_id == "long"

    # A reboot with requeue puts the long task back; the failing one runs first once the node is back.
    c.begin_reboot_node("win-test", node.id, m._models.BatchNodeRebootOptions(node_reboot_kind="requeue"), polling_interval=1).result()
    long = c.get_task(job, "long")
    assert long.execution_info.requeue_count == 1
    wait_for("the failing task completed", lambda: c.get_job_task_counts(job).task_counts.failed == 1)
    fails = c.get_task(job, "fails")
    assert fails.execution_info.exit_code == 3 and fails.execution_info.result == "failure"
    wait_for("the long task running again", lambda: c.get_task(job, "long").state == "running")

    # Terminating the job ends its running task as a failure; deleting it forgets it.
    terminate = m._models.BatchJobTerminateOptions(termination_reason="operator")  # not exported by 15.1.0
    c.begin_terminate_job(job, terminate, polling_interval=1).result()
    terminated = c.get_job(job)
    assert terminated.state == "completed" and terminated.execution_info.termination_reason == "operator"
    ended = c.get_task(job, "long")
    assert ended.state == "completed" and ended.execution_info.failure_info.code == "TaskEnded"
    wait_for("the node idle again", lambda: c.get_node("win-test", node.id).state == "idle")
    c.begin_delete_job(job, polling_interval=1).result()
    with pytest.raises(ResourceNotFoundError) as gone:
        c.get_task(job, "long")
    assert code(gone.value) == "JobNotFound"


def repool(home, *args):
    """The repool binary under test (run.sh's REPOOL) against the same simulator, signed in with its key."""
    env = {"PATH": os.environ["PATH"], "REPOOL_DATA_DIR": home, "XDG_CONFIG_HOME": home,
           "AZURE_BATCH_ENDPOINT": URL, "AZURE_BATCH_ACCOUNT": ACCOUNT, "AZURE_BATCH_ACCESS_KEY": KEY}
    done = subprocess.run([os.environ["REPOOL"], *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"repool {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    print(done.stderr)
    return done.stdout


class Passing:
    """Time passes on the simulator's clock (a minute every few milliseconds) while a change runs:
    the seeded busy pool's 30-minute tasks end without the test waiting half an hour per node."""

    def __enter__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.02):
            client().send_request(HttpRequest("POST", f"{URL}/_sim/advance?seconds=60"))

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()


def test_refresh_and_roll_keep_the_pool_the_sdk_sees(tmp_path):
    """The seeded 'reporting' pool (busy, with a user-assigned identity): after `repool refresh` and
    a start task change rolled by `repool apply`, the SDK reads the same pool (id, creation time,
    identity); the refresh gave it new nodes, the roll rebooted each of them."""
    c, pool, home = client(), "reporting", str(tmp_path)
    (tmp_path / "repool").mkdir()
    (tmp_path / "repool" / "config.toml").write_text("[recreate]\npoll_seconds = 0.05\n")
    identity = lambda p: [(u.resource_id, u.client_id, u.principal_id) for u in p.identity.user_assigned_identities]
    before = c.get_pool(pool)
    assert before.identity.type == "UserAssigned" and identity(before), "the seed's pool with an identity"
    nodes = {n.id: n.last_boot_time for n in c.list_nodes(pool)}
    assert nodes and all(n.state == "running" for n in c.list_nodes(pool)), "a busy pool"

    with Passing():
        repool(home, "refresh", "--pool", pool, "--yes")
    refreshed = c.get_pool(pool)
    fresh = {n.id: n.last_boot_time for n in c.list_nodes(pool)}
    assert (refreshed.id, refreshed.creation_time, identity(refreshed)) == (before.id, before.creation_time, identity(before))
    assert len(fresh) == before.target_dedicated_nodes and not set(fresh) & set(nodes), f"{nodes} then {fresh}"

    definition = json.loads(repool(home, "export", "--pool", pool))
    definition[pool]["startTask"] = {"commandLine": "/bin/sh -c 'echo v2'", "waitForSuccess": True}
    (tmp_path / "v2.json").write_text(json.dumps(definition))
    with Passing():
        repool(home, "apply", "--pool", pool, "--yes", "--definition", str(tmp_path / "v2.json"))
    rolled = c.get_pool(pool)
    assert (rolled.id, rolled.creation_time, identity(rolled)) == (before.id, before.creation_time, identity(before))
    assert rolled.start_task.command_line == "/bin/sh -c 'echo v2'"
    after = {n.id: n.last_boot_time for n in c.list_nodes(pool)}
    assert set(after) == set(fresh) and all(after[n] > fresh[n] for n in fresh), f"{fresh} then {after}"
