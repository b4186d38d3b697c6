import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  buildImage,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  expectError,
  indexBody,
  OCI_INDEX,
  OCI_MANIFEST,
  pushImage,
  putManifest,
  sha256,
  startRegistry,
  type Bytes,
  type PushedImage,
  type TestRegistry,
} from "./harness.js";

async function getBytes(r: TestRegistry, path: string, init: RequestInit = {}): Promise<{ res: Response; body: Buffer }> {
  const res = await r.fetch(path, init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe("manifests: push and pull", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("stores an OCI image manifest by tag: 201, Location, digest of the exact bytes", async () => {
    const image = await buildImage(r, "m/oci");
    // Whitespace and key order are part of the content: the digest is of the bytes as sent.
    const pretty = Buffer.from(JSON.stringify(JSON.parse(image.manifest.toString()), null, 3) + "\n");
    const res = await putManifest(r, "m/oci", "v1", pretty, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), sha256(pretty));
    const location = res.headers.get("location") ?? "";
    assert.equal(location.replace(/^https?:\/\/[^/]+/, ""), `/v2/m/oci/manifests/${sha256(pretty)}`);

    const byTag = await getBytes(r, "/v2/m/oci/manifests/v1");
    const byDigest = await getBytes(r, `/v2/m/oci/manifests/${sha256(pretty)}`);
    for (const { res: got, body } of [byTag, byDigest]) {
      assert.equal(got.status, 200);
      assert.deepEqual(body, pretty);
      assert.equal(got.headers.get("content-type"), OCI_MANIFEST);
      assert.equal(got.headers.get("docker-content-digest"), sha256(pretty));
      assert.equal(got.headers.get("content-length"), String(pretty.length));
    }
  });

  it("answers HEAD with Content-Length, Content-Type and Docker-Content-Digest but no body", async () => {
    const image = await pushImage(r, "m/head", "latest");
    for (const ref of ["latest", image.digest]) {
      const res = await r.fetch(`/v2/m/head/manifests/${ref}`, { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(image.size));
      assert.equal(res.headers.get("content-type"), OCI_MANIFEST);
      assert.equal(res.headers.get("docker-content-digest"), image.digest);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    }
  });

  it("stores a Docker schema2 manifest and serves it with its media type", async () => {
    const image = await pushImage(r, "m/docker", "v2", { format: "docker" });
    const { res, body } = await getBytes(r, "/v2/m/docker/manifests/v2", { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), DOCKER_MANIFEST);
    assert.deepEqual(body, image.manifest);
  });

  it("stores a Docker manifest list of pushed children", async () => {
    const amd = await pushImage(r, "m/dlist", undefined, { format: "docker" });
    const arm = await pushImage(r, "m/dlist", undefined, { format: "docker" });
    const list = indexBody(DOCKER_LIST, [
      { image: amd, platform: { os: "linux", architecture: "amd64" } },
      { image: arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ]);
    const res = await putManifest(r, "m/dlist", "multi", list, DOCKER_LIST);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), sha256(list));
    const got = await getBytes(r, "/v2/m/dlist/manifests/multi", { headers: { Accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` } });
    assert.equal(got.res.status, 200);
    assert.equal(got.res.headers.get("content-type"), DOCKER_LIST);
    assert.deepEqual(got.body, list);
  });

  it("stores an OCI index referencing two pushed child manifests", async () => {
    const amd = await pushImage(r, "m/index", undefined);
    const arm = await pushImage(r, "m/index", undefined);
    const index = indexBody(OCI_INDEX, [
      { image: amd, platform: { os: "linux", architecture: "amd64" } },
      { image: arm, platform: { os: "linux", architecture: "arm64" } },
    ]);
    const res = await putManifest(r, "m/index", "multi", index, OCI_INDEX);
    assert.equal(res.status, 201, await res.text());
    const got = await getBytes(r, "/v2/m/index/manifests/multi");
    assert.equal(got.res.headers.get("content-type"), OCI_INDEX);
    assert.deepEqual(got.body, index);
  });

  it("keeps the pushed media type when the body omits mediaType (or refuses such a manifest)", async () => {
    // Docker schema2 and manifest lists require `mediaType` in the body; a registry either
    // refuses the manifest or serves it back as what was pushed, never as another format.
    const image = await buildImage(r, "m/nomediatype", { format: "docker" });
    const fields = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    delete fields.mediaType;
    const body = Buffer.from(JSON.stringify(fields));
    const res = await putManifest(r, "m/nomediatype", "docker", body, DOCKER_MANIFEST);
    if (res.status !== 201) {
      await expectError(res, 400, "MANIFEST_INVALID");
      return;
    }
    const got = await r.fetch("/v2/m/nomediatype/manifests/docker", { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(got.status, 200, "a client that accepts exactly what it pushed can pull it");
    assert.equal(got.headers.get("content-type"), DOCKER_MANIFEST);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
  });

  it("overwrites a tag and keeps the previous manifest by digest", async () => {
    const first = await pushImage(r, "m/retag", "latest");
    const second = await pushImage(r, "m/retag", "latest");
    assert.deepEqual((await getBytes(r, "/v2/m/retag/manifests/latest")).body, second.manifest);
    assert.deepEqual((await getBytes(r, `/v2/m/retag/manifests/${first.digest}`)).body, first.manifest);
  });

  it("stores a manifest PUT by its digest, untagged", async () => {
    const image = await buildImage(r, "m/bydigest");
    const res = await putManifest(r, "m/bydigest", image.digest, image.manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), image.digest);
    assert.deepEqual((await getBytes(r, `/v2/m/bydigest/manifests/${image.digest}`)).body, image.manifest);
    const tags = await r.fetch("/v2/m/bydigest/tags/list");
    assert.equal(tags.status, 200);
    assert.deepEqual(((await tags.json()) as { tags: string[] | null }).tags ?? [], []);
  });

  it("stores a manifest PUT by a sha512 digest under that digest", async () => {
    const image = await buildImage(r, "m/sha512");
    const digest512 = `sha512:${createHash("sha512").update(image.manifest).digest("hex")}`;
    const res = await putManifest(r, "m/sha512", digest512, image.manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), digest512);
    const got = await getBytes(r, `/v2/m/sha512/manifests/${digest512}`);
    assert.equal(got.res.status, 200);
    assert.equal(got.res.headers.get("docker-content-digest"), digest512);
    assert.deepEqual(got.body, image.manifest);
  });

  it("accepts a manifest of exactly 4 MiB", async () => {
    const image = await buildImage(r, "m/big");
    const fields = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    const skeleton = Buffer.byteLength(JSON.stringify({ ...fields, annotations: { pad: "" } }));
    const body = Buffer.from(JSON.stringify({ ...fields, annotations: { pad: "x".repeat(4 * 1024 * 1024 - skeleton) } }));
    assert.equal(body.length, 4 * 1024 * 1024);
    const res = await putManifest(r, "m/big", "four-mib", body, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    const got = await getBytes(r, "/v2/m/big/manifests/four-mib");
    assert.equal(got.body.length, body.length);
    assert.equal(sha256(got.body), sha256(body));
  });

  it("accepts a tag of 128 characters and the tag grammar's characters", async () => {
    for (const tag of ["a".repeat(128), "_under", "v1.2.3-rc.1_b", "UPPER"]) {
      const image = await buildImage(r, "m/tags");
      const res = await putManifest(r, "m/tags", tag, image.manifest, OCI_MANIFEST);
      assert.equal(res.status, 201, `${tag}: ${await res.text()}`);
      assert.equal((await r.fetch(`/v2/m/tags/manifests/${tag}`, { method: "HEAD" })).status, 200);
    }
  });
});

describe("manifests: content negotiation", () => {
  let r: TestRegistry;
  let amd: PushedImage;
  let arm: PushedImage;
  let index: Bytes;
  before(async () => {
    r = await startRegistry();
    await pushImage(r, "neg/app", "image");
    amd = await pushImage(r, "neg/app", undefined);
    arm = await pushImage(r, "neg/app", undefined);
    index = indexBody(OCI_INDEX, [
      { image: arm, platform: { os: "linux", architecture: "arm64" } },
      { image: amd, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const res = await putManifest(r, "neg/app", "multi", index, OCI_INDEX);
    assert.equal(res.status, 201, await res.text());
  });
  after(() => r.close());

  it("answers 404 MANIFEST_UNKNOWN by tag when the Accept header excludes the stored type", async () => {
    const res = await r.fetch("/v2/neg/app/manifests/image", { headers: { Accept: DOCKER_MANIFEST } });
    await expectError(res, 404, "MANIFEST_UNKNOWN");
    const head = await r.fetch("/v2/neg/app/manifests/image", { method: "HEAD", headers: { Accept: DOCKER_LIST } });
    assert.equal(head.status, 404);
  });

  it("serves the stored type when it is among several accepted types", async () => {
    const res = await r.fetch("/v2/neg/app/manifests/image", {
      headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), OCI_MANIFEST);
    await res.arrayBuffer();
  });

  it("serves the linux/amd64 child of an index to a client that accepts only image manifests", async () => {
    const { res, body } = await getBytes(r, "/v2/neg/app/manifests/multi", { headers: { Accept: OCI_MANIFEST } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), OCI_MANIFEST);
    assert.equal(res.headers.get("docker-content-digest"), amd.digest);
    assert.deepEqual(body, amd.manifest);
  });

  it("serves the index itself to a client that accepts it", async () => {
    const { res, body } = await getBytes(r, "/v2/neg/app/manifests/multi", { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), OCI_INDEX);
    assert.deepEqual(body, index);
  });

  it("always serves the stored bytes by digest, whatever the Accept header", async () => {
    for (const accept of [OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_LIST]) {
      const { res, body } = await getBytes(r, `/v2/neg/app/manifests/${sha256(index)}`, { headers: { Accept: accept } });
      assert.equal(res.status, 200, accept);
      assert.equal(res.headers.get("content-type"), OCI_INDEX);
      assert.equal(res.headers.get("docker-content-digest"), sha256(index));
      assert.deepEqual(body, index);
    }
  });

  it("answers 404 MANIFEST_UNKNOWN for an index without a linux/amd64 child to an image-only client", async () => {
    const armOnly = indexBody(OCI_INDEX, [{ image: arm, platform: { os: "linux", architecture: "arm64" } }]);
    const put = await putManifest(r, "neg/app", "arm-only", armOnly, OCI_INDEX);
    assert.equal(put.status, 201);
    await expectError(await r.fetch("/v2/neg/app/manifests/arm-only", { headers: { Accept: OCI_MANIFEST } }), 404, "MANIFEST_UNKNOWN");
  });

  it("does not answer a Docker-only client with an OCI child of an index", async () => {
    const res = await r.fetch("/v2/neg/app/manifests/multi", { headers: { Accept: DOCKER_MANIFEST } });
    await expectError(res, 404, "MANIFEST_UNKNOWN");
  });
});

describe("manifests: pulls by tag on two instances of one storage", () => {
  let a: TestRegistry;
  let b: TestRegistry;
  before(async () => {
    a = await startRegistry({ deleteEnabled: true });
    b = await startRegistry({ driver: a.driver, deleteEnabled: true });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  const status = async (r: TestRegistry, path: string) => {
    const res = await r.fetch(path, { headers: { Accept: OCI_MANIFEST } });
    await res.arrayBuffer();
    return res.status;
  };

  it("answers 404 by tag and by digest once the other instance deleted the manifest it served", async () => {
    const image = await pushImage(a, "two/app", "v1");
    assert.equal(await status(b, "/v2/two/app/manifests/v1"), 200);
    assert.equal((await a.fetch(`/v2/two/app/manifests/${image.digest}`, { method: "DELETE" })).status, 202);
    assert.equal(await status(b, "/v2/two/app/manifests/v1"), 404);
    assert.equal(await status(b, `/v2/two/app/manifests/${image.digest}`), 404);
  });

  it("follows a tag the other instance moved, and serves it again when pushed back", async () => {
    const first = await pushImage(a, "two/moving", "latest");
    assert.equal(await status(b, "/v2/two/moving/manifests/latest"), 200);
    const second = await pushImage(a, "two/moving", "latest", { layers: 3 });
    const res = await b.fetch("/v2/two/moving/manifests/latest", { headers: { Accept: OCI_MANIFEST } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), second.digest);
    assert.equal((await a.fetch(`/v2/two/moving/manifests/${first.digest}`, { method: "DELETE" })).status, 202);
    const pushedBack = await putManifest(a, "two/moving", "latest", first.manifest, first.mediaType);
    await pushedBack.arrayBuffer();
    assert.equal(pushedBack.status, 201);
    const again = await b.fetch("/v2/two/moving/manifests/latest", { headers: { Accept: OCI_MANIFEST } });
    await again.arrayBuffer();
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("docker-content-digest"), first.digest);
  });

  it("refuses a tag whose revision was removed behind its back, even after serving it", async () => {
    const image = await pushImage(a, "two/broken", "v1");
    assert.equal(await status(a, "/v2/two/broken/manifests/v1"), 200);
    // A lookup by digest always checks storage; only the tag path remembers the check.
    const hex = image.digest.slice("sha256:".length);
    await a.driver.delete(`/docker/registry/v2/repositories/two/broken/_manifests/revisions/sha256/${hex}`);
    assert.equal(await status(b, "/v2/two/broken/manifests/v1"), 404, "an instance that never checked it");
    assert.equal(await status(a, `/v2/two/broken/manifests/${image.digest}`), 404);
  });
});
