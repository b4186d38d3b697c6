import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { expectError, OCI_MANIFEST, pushBlob, pushImage, putManifest, sha256, startRegistry, type PushedImage, type TestRegistry } from "./harness.js";

describe("read-only mode", () => {
  let r: TestRegistry;
  let readOnly = false;
  let image: PushedImage;
  let session: string;
  before(async () => {
    r = await startRegistry({ deleteEnabled: true, readOnly: () => readOnly });
    image = await pushImage(r, "ro/app", "v1");
    const res = await r.fetch("/v2/ro/app/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 202);
    session = res.headers.get("location") ?? "";
    readOnly = true;
  });
  after(() => r.close());

  async function expectReadOnly(res: Response): Promise<void> {
    const body = await expectError(res, 405, "UNSUPPORTED");
    assert.match(body.errors[0]!.message, /read-only/i);
  }

  it("refuses to start uploads, monolithic uploads and mounts", async () => {
    const bytes = randomBytes(16);
    await expectReadOnly(await r.fetch("/v2/ro/app/blobs/uploads/", { method: "POST" }));
    await expectReadOnly(await r.fetch(`/v2/ro/app/blobs/uploads/?digest=${sha256(bytes)}`, { method: "POST", body: bytes }));
    await expectReadOnly(await r.fetch(`/v2/ro/other/blobs/uploads/?mount=${sha256(image.config)}&from=ro/app`, { method: "POST" }));
    assert.equal((await r.fetch(`/v2/ro/app/blobs/${sha256(bytes)}`, { method: "HEAD" })).status, 404);
    assert.equal((await r.fetch(`/v2/ro/other/blobs/${sha256(image.config)}`, { method: "HEAD" })).status, 404);
  });

  it("refuses to continue, finish or cancel an upload started before", async () => {
    const bytes = randomBytes(16);
    await expectReadOnly(await r.fetch(session, { method: "PATCH", body: bytes }));
    const url = new URL(session, "http://x");
    url.searchParams.set("digest", sha256(bytes));
    await expectReadOnly(await r.fetch(url.pathname + url.search, { method: "PUT", body: bytes }));
    await expectReadOnly(await r.fetch(session, { method: "DELETE" }));
    const status = await r.fetch(session);
    assert.equal(status.status, 204, "the session can still be inspected");
    assert.equal(status.headers.get("range"), "0-0");
  });

  it("refuses to push manifests", async () => {
    const res = await putManifest(r, "ro/app", "v2", image.manifest, OCI_MANIFEST);
    await expectReadOnly(res);
    await expectError(await r.fetch("/v2/ro/app/manifests/v2"), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses deletes of manifests, tags and blobs", async () => {
    await expectReadOnly(await r.fetch("/v2/ro/app/manifests/v1", { method: "DELETE" }));
    await expectReadOnly(await r.fetch(`/v2/ro/app/manifests/${image.digest}`, { method: "DELETE" }));
    await expectReadOnly(await r.fetch(`/v2/ro/app/blobs/${sha256(image.layers[0]!)}`, { method: "DELETE" }));
  });

  it("still serves every read", async () => {
    const manifest = await r.fetch("/v2/ro/app/manifests/v1");
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
    assert.equal((await r.fetch(`/v2/ro/app/manifests/${image.digest}`, { method: "HEAD" })).status, 200);
    const blob = await r.fetch(`/v2/ro/app/blobs/${sha256(image.layers[0]!)}`);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), image.layers[0]);
    assert.deepEqual(await (await r.fetch("/v2/ro/app/tags/list")).json(), { name: "ro/app", tags: ["v1"] });
    assert.deepEqual(await (await r.fetch("/v2/_catalog")).json(), { repositories: ["ro/app"] });
    assert.equal((await r.fetch(`/v2/ro/app/referrers/${image.digest}`)).status, 200);
    assert.equal((await r.fetch("/v2/")).status, 200);
  });

  it("accepts writes again once read-only mode is switched off", async () => {
    readOnly = false;
    try {
      await pushBlob(r, "ro/app", randomBytes(8));
      const res = await putManifest(r, "ro/app", "v2", image.manifest, OCI_MANIFEST);
      assert.equal(res.status, 201);
    } finally {
      readOnly = true;
    }
  });
});
