import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sha256, startRegistry, type TestRegistry } from "./harness.js";

// Behind a proxy (`http.host`, `http.prefix`) every URL Berth hands out must point at the proxy.
describe("URLs and headers from configuration", () => {
  let server: TestRegistry;
  let base: string;

  before(async () => {
    server = await startRegistry({
      secret: "urls",
      urlBase: "https://registry.example.com/mirror",
      headers: () => ({ "X-Content-Type-Options": ["nosniff"], "X-Team": ["a", "b"] }),
    });
    base = server.url;
  });

  after(() => server.close());

  it("hands out absolute upload and blob locations under the host and prefix", async () => {
    const start = await fetch(`${base}/v2/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(start.status, 202);
    const location = start.headers.get("location") ?? "";
    assert.match(location, /^https:\/\/registry\.example\.com\/mirror\/v2\/team\/app\/blobs\/uploads\/[0-9a-f-]{36}\?_state=/);
    const path = location.replace("https://registry.example.com/mirror", "");
    const body = Buffer.from("hello");
    const done = await fetch(`${base}${path}&digest=${sha256(body)}`, { method: "PUT", body: new Uint8Array(body) });
    assert.equal(done.status, 201, await done.clone().text());
    assert.equal(done.headers.get("location"), `https://registry.example.com/mirror/v2/team/app/blobs/${sha256(body)}`);
  });

  it("adds the configured headers to every response, errors included", async () => {
    for (const path of ["/v2/", "/v2/nope/manifests/latest"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("x-team"), "a, b");
    }
  });
});
