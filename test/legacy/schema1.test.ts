import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startRegistry, type TestRegistry } from "../support/server.js";

// Registries from the LAIN era (distribution 2.4) stored Docker schema1 manifests. Berth refuses
// new ones but must keep serving what such a storage already holds.
describe("schema1 manifests already in storage", () => {
  let root: string;
  let server: TestRegistry;
  let base: string;
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 1, name: "old/app", tag: "v1", architecture: "amd64", fsLayers: [], history: [], signatures: [{ header: {}, signature: "x", protected: "y" }] }, null, 3),
  );
  const hex = createHash("sha256").update(manifest).digest("hex");
  const digest = `sha256:${hex}`;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-schema1-"));
    const v2 = join(root, "docker/registry/v2");
    const files: [string, string | Buffer][] = [
      [`blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, manifest],
      [`repositories/old/app/_manifests/revisions/sha256/${hex}/link`, digest],
      [`repositories/old/app/_manifests/tags/v1/current/link`, digest],
      [`repositories/old/app/_manifests/tags/v1/index/sha256/${hex}/link`, digest],
    ];
    for (const [path, content] of files) {
      await mkdir(dirname(join(v2, path)), { recursive: true });
      await writeFile(join(v2, path), content);
    }
    server = await startRegistry({ root, secret: "test" });
    base = server.url;
  });

  after(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it("serves the stored bytes by tag with the signed schema1 media type", async () => {
    const res = await fetch(`${base}/v2/old/app/manifests/v1`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.docker.distribution.manifest.v1+prettyjws");
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), manifest);
  });

  it("lists the old tag and repository", async () => {
    assert.deepEqual(await (await fetch(`${base}/v2/old/app/tags/list`)).json(), { name: "old/app", tags: ["v1"] });
    assert.deepEqual(await (await fetch(`${base}/v2/_catalog`)).json(), { repositories: ["old/app"] });
  });

  it("still refuses a schema1 push", async () => {
    const res = await fetch(`${base}/v2/old/app/manifests/v2`, {
      method: "PUT",
      headers: { "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws" },
      body: new Uint8Array(manifest),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, "MANIFEST_INVALID");
    assert.match(body.errors[0]?.message ?? "", /schema1/);
  });
});
