"""The official Python azure-batch 15.x SDK (api 2025-06-01) against `repool sim`, unchanged."""
import os
import time

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

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
