"""The official Python azure-batch 14.2.0 SDK (api 2024-02-01.19.0) against `repool sim`, unchanged."""
import datetime
import os
import time

import pytest
from azure.batch import BatchServiceClient
from azure.batch import models as m
from azure.batch.batch_auth import SharedKeyCredentials

URL, ACCOUNT, KEY = os.environ["SIM_URL"], os.environ["SIM_ACCOUNT"], os.environ["SIM_KEY"]


def client(key=KEY):
    return BatchServiceClient(SharedKeyCredentials(ACCOUNT, key), batch_url=URL)


def vm():
    return m.VirtualMachineConfiguration(
        image_reference=m.ImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
        node_agent_sku_id="batch.node.ubuntu 24.04",
    )


def wait(predicate, what):
    """The simulator runs fast; a few real seconds are minutes of simulated time."""
    deadline = time.time() + 20
    while not predicate():
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_list_get_exists():
    pools = list(client().pool.list(m.PoolListOptions(max_results=3)))
    assert len(pools) >= 12
    assert client().pool.get("p-ingest").allocation_state == m.AllocationState.steady
    assert client().pool.exists("p-ingest") and not client().pool.exists("no-such-pool")
    selected = list(client().pool.list(m.PoolListOptions(filter="startswith(id,'p-')", select="id,state")))
    assert sorted(p.id for p in selected) == ["p-ingest", "p-render"]


def test_add_resize_stop_autoscale_delete():
    c = client()
    c.pool.add(m.PoolAddParameter(id="sdk14-a", vm_size="STANDARD_D2S_V3", virtual_machine_configuration=vm()))
    wait(lambda: c.pool.get("sdk14-a").allocation_state == m.AllocationState.steady, "created pool settles")
    with pytest.raises(m.BatchErrorException) as exists:
        c.pool.add(m.PoolAddParameter(id="SDK14-A", vm_size="x", virtual_machine_configuration=vm()))
    assert exists.value.error.code == "PoolExists"
    c.pool.resize("sdk14-a", m.PoolResizeParameter(target_dedicated_nodes=2, resize_timeout=datetime.timedelta(minutes=10), node_deallocation_option="taskcompletion"))
    with pytest.raises(m.BatchErrorException) as resizing:
        c.pool.resize("sdk14-a", m.PoolResizeParameter(target_dedicated_nodes=3))
    assert resizing.value.error.code == "PoolBeingResized"
    c.pool.stop_resize("sdk14-a")
    wait(lambda: c.pool.get("sdk14-a").allocation_state == m.AllocationState.steady, "stop resize settles")
    c.pool.enable_auto_scale("sdk14-a", auto_scale_formula="$TargetDedicatedNodes=1;", auto_scale_evaluation_interval=datetime.timedelta(minutes=5))
    run = c.pool.evaluate_auto_scale("sdk14-a", "$TargetDedicatedNodes = $something_useless;")
    assert run.error.code == "AutoScalingFormulaEvaluationError"
    c.pool.disable_auto_scale("sdk14-a")
    wait(lambda: c.pool.get("sdk14-a").allocation_state == m.AllocationState.steady, "disable settles")
    c.pool.delete("sdk14-a")
    with pytest.raises(m.BatchErrorException) as deleting:
        c.pool.delete("sdk14-a")
    assert deleting.value.error.code == "PoolBeingDeleted"
    wait(lambda: not c.pool.exists("sdk14-a"), "pool goes away")


def test_errors():
    with pytest.raises(m.BatchErrorException) as missing:
        client().pool.get("no-such-pool")
    assert missing.value.error.code == "PoolNotFound"
    with pytest.raises(m.BatchErrorException) as bad_key:
        list(client(key="d3Jvbmcta2V5").pool.list())
    assert bad_key.value.error.code == "AuthenticationFailed"
    with pytest.raises(m.BatchErrorException) as empty:
        client().pool.resize("p-ingest", m.PoolResizeParameter())
    assert empty.value.error.code == "MissingRequiredProperty"
