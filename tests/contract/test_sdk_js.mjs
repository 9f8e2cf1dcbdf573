// The official JavaScript SDK, @azure/batch 10.2.0 (api-version 2022-10-01.16.0, its own default),
// against `repool sim`, unchanged: the operations repool uses, and the five answers that once
// differed from the service (api-version, one clock, evaluation errors, conditional requests,
// DataServiceId of updateproperties).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(process.env.SDK_JS_DIR + "/package.json");
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");

const client = new BatchServiceClient(
  new BatchSharedKeyCredentials(process.env.SIM_ACCOUNT, process.env.SIM_KEY),
  process.env.SIM_URL,
);

const vm = {
  imageReference: { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: "server" },
  nodeAgentSKUId: "batch.node.ubuntu 24.04",
};

async function refused(promise) {
  try {
    const answer = await promise;
    return { statusCode: answer._response.status };
  } catch (error) {
    return error;
  }
}

async function waitSteady(id) {
  const deadline = Date.now() + 20000;
  while ((await client.pool.get(id)).allocationState !== "steady") {
    assert.ok(Date.now() < deadline, `${id} never became steady`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("the SDK's own api-version is accepted, and lists page", async () => {
  assert.equal(client.apiVersion, "2022-10-01.16.0");
  const first = await client.pool.list({ poolListOptions: { maxResults: 5 } });
  assert.equal(first.length, 5);
  assert.ok(first.odatanextLink, "a next page");
  const ids = first.map((p) => p.id);
  let link = first.odatanextLink;
  while (link) {
    const page = await client.pool.listNext(link);
    ids.push(...page.map((p) => p.id));
    link = page.odatanextLink;
  }
  assert.ok(ids.length >= 12 && ids.includes("p-ingest"), ids.join(","));
  const counts = await client.account.listPoolNodeCounts({ accountListPoolNodeCountsOptions: { maxResults: 10 } });
  assert.ok(counts.length > 0);
  const nodes = await client.computeNode.list("p-ingest");
  assert.ok(nodes.length > 0 && nodes.every((n) => n.id && n.state));
});

test("one clock: Last-Modified is never after Date", async () => {
  const pool = await client.pool.get("p-ingest");
  const headers = pool._response.headers;
  const date = Date.parse(headers.get("date"));
  const modified = Date.parse(headers.get("last-modified"));
  assert.ok(modified <= date, `Last-Modified ${headers.get("last-modified")} after Date ${headers.get("date")}`);
  const missing = await refused(client.pool.get("no-such-pool"));
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, "PoolNotFound");
  const time = /Time:(\S+)/.exec(missing.body.message.value)[1];
  assert.ok(Math.abs(Date.parse(time) - Date.parse(missing.response.headers.get("date"))) < 2000, "error Time: and Date agree");
});

test("a formula that parses but fails is an evaluation error inside a 200", async () => {
  const run = await client.pool.evaluateAutoScale("p-render", "$something_useless");
  assert.equal(run._response.status, 200);
  assert.equal(run.error.code, "AutoScalingFormulaEvaluationError");
  assert.equal(run.error.values[0].value, "Line 1, Col 1: Undefined symbol: $something_useless");
  assert.ok(run.results);
  const syntax = await refused(client.pool.evaluateAutoScale("p-render", "$TargetDedicatedNodes = (3;"));
  assert.equal(syntax.statusCode, 400);
  assert.equal(syntax.code, "AutoScalingFormulaSyntaxError");
});

test("conditional requests: stale If-Match, current If-None-Match, old If-Unmodified-Since", async () => {
  const pool = await client.pool.get("p-ingest");
  const stale = await refused(client.pool.get("p-ingest", { poolGetOptions: { ifMatch: "0x8DB0000000000000" } }));
  assert.equal(stale.statusCode, 412);
  const current = await refused(client.pool.get("p-ingest", { poolGetOptions: { ifNoneMatch: pool.eTag } }));
  assert.equal(current.statusCode, 304);
  const older = new Date(pool.lastModified.getTime() - 3600 * 1000);
  const resize = await refused(
    client.pool.resize("p-ingest", { targetDedicatedNodes: 5 }, { poolResizeOptions: { ifUnmodifiedSince: older } }),
  );
  assert.equal(resize.statusCode, 412);
  assert.equal(resize.code, "ConditionNotMet");
  const after = await client.pool.get("p-ingest");
  assert.equal(after.eTag, pool.eTag, "nothing changed");
  assert.equal(after.targetDedicatedNodes, pool.targetDedicatedNodes);
});

test("a pool's life: add, resize, stop, autoscale, patch, update properties, delete", async () => {
  const id = "sdk-js-a";
  const added = await client.pool.add({ id, vmSize: "STANDARD_D2S_V3", virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
  assert.equal(added._response.status, 201);
  assert.equal((await client.pool.exists(id)).body, true);
  assert.equal((await client.pool.exists("no-such-pool")).body, false);
  await waitSteady(id);
  await client.pool.resize(id, { targetDedicatedNodes: 1 });
  await client.pool.stopResize(id);
  await waitSteady(id);
  await client.pool.enableAutoScale(id, { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M" });
  const autoscaled = await client.pool.get(id);
  assert.equal(autoscaled.enableAutoScale, true);
  await client.pool.disableAutoScale(id);
  await client.pool.patch(id, { metadata: [{ name: "team", value: "js" }] });
  assert.deepEqual((await client.pool.get(id)).metadata, [{ name: "team", value: "js" }]);
  const updated = await client.pool.updateProperties(id, {
    certificateReferences: [],
    applicationPackageReferences: [],
    metadata: [{ name: "owner", value: "sdk" }],
  });
  assert.equal(updated._response.status, 204);
  assert.ok(updated._response.headers.get("dataserviceid").endsWith(`/pools/${id}/updateproperties`));
  const deleted = await client.pool.deleteMethod(id);
  assert.equal(deleted._response.status, 202);
  const again = await refused(client.pool.deleteMethod(id));
  assert.ok([404, 409].includes(again.statusCode), `${again.statusCode}`);
});
