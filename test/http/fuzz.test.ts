import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pushImage, rawRequest, startRegistry, type TestRegistry } from "./harness.js";

/**
 * Malformed requests of every kind, generated from a fixed seed so a failure reproduces: none
 * may get a 5xx, log a server error, or stop the server from answering.
 */
describe("malformed requests never get a 5xx", () => {
  let r: TestRegistry;
  let digest: string;

  before(async () => {
    r = await startRegistry({ deleteEnabled: true, secret: "fuzz" });
    digest = (await pushImage(r, "fuzz/app", "latest")).digest;
  });

  after(() => r.close());

  it("answers 1,500 generated requests with 4xx or success", async () => {
    let state = 0x9e3779b9;
    const rand = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const pick = <T>(items: readonly T[]): T => items[rand(items.length)] as T;
    const names = ["fuzz/app", "a", "A", "a/../b", "_a", "a//b", "a%2Fb", "%zz", "x".repeat(300), "a.b-c/d__e", "fuzz/app/blobs"];
    const refs = ["latest", digest, "sha256:", "sha256:zz", "md5:abc", "-bad", "x".repeat(200), "%00", "sha512:" + "a".repeat(128), ":"];
    const tails = [
      () => `/manifests/${pick(refs)}`,
      () => `/blobs/${pick(refs)}`,
      () => `/blobs/uploads/`,
      () => `/blobs/uploads/${pick(["", "nope", "00000000-0000-0000-0000-000000000000", "%ff"])}?_state=${pick(["", "a.b", "...", "x"])}`,
      () => `/tags/list?n=${pick(["", "-1", "abc", "1e9", "99999999999", "0", "5"])}&last=${pick(["", "%", "zz"])}`,
      () => `/referrers/${pick(refs)}?artifactType=${pick(["", "a/b", "%"])}`,
      () => `/blobs/uploads/?mount=${pick(refs)}&from=${pick(names)}&digest=${pick(refs)}`,
    ];
    const methods = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE"];
    const headerSets: Record<string, string>[] = [
      {},
      { "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
      { "Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json" },
      { "Content-Range": pick(["0-0", "5-1", "bytes=0-10", "x", "-1-5", "0-99999999999999999999"]) },
      { Range: pick(["bytes=0-0", "bytes=5-1", "bytes=-0", "bytes=99999999999-", "items=0-1", "bytes=0-1,3-4"]) },
      { Accept: pick(["", "*/*", "text/html", "application/vnd.oci.image.index.v1+json;q=0.5", ",,,"]) },
    ];
    const bodies = [undefined, Buffer.alloc(0), Buffer.from("{"), Buffer.from('{"schemaVersion":2}'), Buffer.from("null"), Buffer.from('{"schemaVersion":2,"config":{"digest":"x","size":-1,"mediaType":"a/b"},"layers":[]}'), Buffer.from('{"schemaVersion":2,"manifests":[{"digest":"sha256:' + "0".repeat(64) + '","size":1,"mediaType":"a/b"}]}')];

    const statuses = new Map<number, number>();
    for (let i = 0; i < 1500; i++) {
      const path = `/v2/${pick(names)}${pick(tails)()}`;
      const method = pick(methods);
      const body = method === "GET" || method === "HEAD" ? undefined : pick(bodies);
      const res = await rawRequest(r.base, method, path, pick(headerSets), body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `${method} ${path} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
    }
    assert.deepEqual(r.errors, [], "the engine logged server errors");
    // The generator must reach both refusals and successes, or it is not testing much.
    assert.ok([...statuses.keys()].some((s) => s >= 400), "no request was refused");
    assert.ok([...statuses.keys()].some((s) => s < 300), "no request succeeded");
    // Still serving (the fuzz may have deleted the image itself, so ask the base endpoint).
    assert.equal((await r.fetch("/v2/")).status, 200);
  });
});
