"""The Azure CLI's `az batch` commands against `repool sim`, unchanged: an operator's flow from
creating pools (from JSON and from flags, which sends numbers as strings) through resize,
autoscale, set/reset, counts, nodes, images and usage metrics to delete."""
import json
import os
import subprocess
import time

import pytest

AZ = os.environ["AZ"]
ACCOUNT = ["--account-endpoint", os.environ["SIM_URL"], "--account-name", os.environ["SIM_ACCOUNT"],
           "--account-key", os.environ["SIM_KEY"]]
IMAGE = ["--image", "canonical:ubuntu-24_04-lts:server", "--node-agent-sku-id", "batch.node.ubuntu 24.04"]


def az(*args, ok=True):
    """Runs `az batch …` on the simulated account; its parsed JSON output (or the failure's stderr)."""
    run = subprocess.run([AZ, "batch", *args, *ACCOUNT, "--only-show-errors", "-o", "json"],
                         capture_output=True, text=True, timeout=120)
    if not ok:
        assert run.returncode != 0, run.stdout
        return run.stderr
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.strip() else None


def steady(pool_id):
    deadline = time.time() + 30
    while (pool := az("pool", "show", "--pool-id", pool_id))["allocationState"] != "steady":
        assert time.time() < deadline, f"{pool_id} never became steady"
        time.sleep(0.2)
    return pool


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    body = {"id": "az-json", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 0,
            "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts",
                                                               "sku": "server"},
                                            "nodeAgentSKUId": "batch.node.ubuntu 24.04"}}
    path = tmp_path_factory.mktemp("az") / "pool.json"
    path.write_text(json.dumps(body))
    az("pool", "create", "--json-file", str(path))
    az("pool", "create", "--id", "az-flags", "--vm-size", "standard_d2s_v3", *IMAGE, "--target-dedicated-nodes", "1",
       "--task-slots-per-node", "2", "--start-task-command-line", "/bin/true", "--start-task-max-task-retry-count", "2")
    yield ["az-json", "az-flags"]
    for pool_id in ("az-json", "az-flags"):
        az("pool", "delete", "--pool-id", pool_id, "--yes")
        # An empty pool may be gone by the next call (the simulator runs at x60).
        after = subprocess.run([AZ, "batch", "pool", "show", "--pool-id", pool_id, *ACCOUNT, "-o", "json"],
                               capture_output=True, text=True, timeout=120)
        gone = after.returncode != 0 and "PoolNotFound" in after.stderr
        assert gone or json.loads(after.stdout)["state"] == "deleting", after.stderr


def test_created_from_json_and_from_flags(pools):
    flags = steady("az-flags")
    assert (flags["targetDedicatedNodes"], flags["taskSlotsPerNode"]) == (1, 2)
    assert flags["startTask"]["maxTaskRetryCount"] == 2
    assert steady("az-json")["vmSize"] == "standard_d2s_v3"
    again = az("pool", "create", "--id", "AZ-JSON", "--vm-size", "standard_d2s_v3", *IMAGE, ok=False)
    assert "PoolExists" in again, "pool ids ignore case"



def test_resize_and_nodes(pools):
    steady("az-flags")
    az("pool", "resize", "--pool-id", "az-flags", "--target-dedicated-nodes", "2")
    assert steady("az-flags")["currentDedicatedNodes"] == 2
    nodes = az("node", "list", "--pool-id", "az-flags")
    assert len(nodes) == 2 and all(n["id"] for n in nodes)
    counts = {c["poolId"]: c for c in az("pool", "node-counts", "list")}
    assert counts["az-flags"]["dedicated"]["total"] == 2


def test_autoscale_enable_evaluate_disable(pools):
    steady("az-json")
    az("pool", "autoscale", "enable", "--pool-id", "az-json", "--auto-scale-formula", "$TargetDedicatedNodes=1;",
       "--auto-scale-evaluation-interval", "PT5M")
    assert az("pool", "show", "--pool-id", "az-json")["enableAutoScale"] is True
    run = az("pool", "autoscale", "evaluate", "--pool-id", "az-json", "--auto-scale-formula", "$TargetDedicatedNodes=3;")
    assert "$TargetDedicatedNodes=3" in run["results"]
    failing = az("pool", "autoscale", "evaluate", "--pool-id", "az-json", "--auto-scale-formula", "$TargetDedicatedNodes=nosuch;")
    assert failing["error"]["code"], failing
    az("pool", "autoscale", "disable", "--pool-id", "az-json")
    assert az("pool", "show", "--pool-id", "az-json")["enableAutoScale"] is False


def test_set_with_if_match_and_reset(pools):
    current = az("pool", "show", "--pool-id", "az-json")
    az("pool", "set", "--pool-id", "az-json", "--metadata", "team=render", "--if-match", current["eTag"])
    assert az("pool", "show", "--pool-id", "az-json")["metadata"] == [{"name": "team", "value": "render"}]
    stale = az("pool", "set", "--pool-id", "az-json", "--metadata", "team=x", "--if-match", current["eTag"], ok=False)
    assert "ConditionNotMet" in stale
    az("pool", "reset", "--pool-id", "az-json", "--start-task-command-line", "/bin/echo hi", "--metadata", "a=b",
       "--application-package-references", "")
    pool = az("pool", "show", "--pool-id", "az-json")
    assert pool["startTask"]["commandLine"] == "/bin/echo hi"
    assert pool["metadata"] == [{"name": "a", "value": "b"}]


def test_catalogue_and_usage():
    images = az("pool", "supported-images", "list", "--filter", "osType eq 'windows'")
    assert images and all(i["osType"] == "windows" for i in images)
    assert az("pool", "usage-metrics", "list") == []
    after_p = az("pool", "list", "--filter", "id gt 'p'", "--query", "[].id")
    assert after_p and all(pool_id > "p" for pool_id in after_p)
    missing = az("pool", "show", "--pool-id", "no-such-pool", ok=False)
    assert "PoolNotFound" in missing
