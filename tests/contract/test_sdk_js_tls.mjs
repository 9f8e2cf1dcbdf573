// The official JavaScript SDK, @azure/batch 10.2.0, with an Entra ID bearer token against
// `repool sim --tls`, unchanged: the token comes from the simulator's token endpoint, the
// certificate is verified against the CA it wrote (NODE_EXTRA_CA_CERTS, as an operator would set it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(process.env.SDK_JS_DIR + "/package.json");
const { BatchServiceClient } = require("@azure/batch");
const { TokenCredentials } = require("@azure/ms-rest-js");
const url = process.env.SIM_TLS_URL;

async function token() {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: "app-1",
    client_secret: "s3cret",
    scope: "https://batch.core.windows.net/.default",
  });
  const answer = await fetch(`${url}/tenant-1/oauth2/v2.0/token`, { method: "POST", body: form });
  assert.equal(answer.status, 200);
  return (await answer.json()).access_token;
}

test("a bearer token over TLS lists and reads pools", async () => {
  const client = new BatchServiceClient(new TokenCredentials(await token()), url);
  const ids = [];
  for (let page = await client.pool.list(); ; page = await client.pool.listNext(page.odatanextLink)) {
    ids.push(...page.map((p) => p.id));
    if (!page.odatanextLink) break;
  }
  assert.ok(ids.includes("p-render") && ids.length === 12, `${ids}`);
  assert.equal((await client.pool.get("p-render")).id, "p-render");
});

test("a token the endpoint never issued is refused", async () => {
  const client = new BatchServiceClient(new TokenCredentials("made-up"), url);
  await assert.rejects(client.pool.list(), (error) => error.statusCode === 403 && error.code === "AuthenticationFailed");
});
