import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { maxManifestReferences } from "../../server/registry/manifests.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import {
  buildImage,
  descriptor,
  DOCKER_MANIFEST,
  expectError,
  indexBody,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  rawErrorCode,
  rawRequest,
  SCHEMA1_SIGNED,
  sha256,
  startRegistry,
  type Bytes,
  type Descriptor,
  type PushedImage,
  type TestRegistry,
} from "./harness.js";

describe("manifests: refused pushes", () => {
  let r: TestRegistry;
  let image: PushedImage;
  before(async () => {
    r = await startRegistry();
    image = await buildImage(r, "bad/repo");
  });
  after(() => r.close());

  function manifestWith(changes: Record<string, unknown>): Bytes {
    return Buffer.from(JSON.stringify({ ...(JSON.parse(image.manifest.toString()) as object), ...changes }));
  }

  it("refuses an image manifest whose layer is not in the repository with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const missing = descriptor(OCI_LAYER, randomBytes(32));
    const body = manifestWith({ layers: [...(JSON.parse(image.manifest.toString()) as { layers: Descriptor[] }).layers, missing] });
    await expectError(await putManifest(r, "bad/repo", "missing-layer", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
    await expectError(await r.fetch("/v2/bad/repo/manifests/missing-layer"), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses an image manifest whose config is not in the repository with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const body = manifestWith({ config: descriptor(OCI_CONFIG, Buffer.from('{"missing":true}')) });
    await expectError(await putManifest(r, "bad/repo", "missing-config", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses an image manifest whose blobs are only in another repository", async () => {
    const other = await buildImage(r, "bad/other");
    await expectError(await putManifest(r, "bad/repo", "foreign", other.manifest, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses an index referencing a manifest that is not in the repository with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const child = await pushImage(r, "bad/repo", undefined);
    const absent = await buildImage(r, "bad/repo");
    const index = indexBody(OCI_INDEX, [
      { image: child, platform: { os: "linux", architecture: "amd64" } },
      { image: absent, platform: { os: "linux", architecture: "arm64" } },
    ]);
    await expectError(await putManifest(r, "bad/repo", "partial", index, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN");
    await expectError(await r.fetch(`/v2/bad/repo/manifests/${sha256(index)}`), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses invalid JSON with 400 MANIFEST_INVALID", async () => {
    for (const body of ["{", "not json", "", "[]", "null", '"string"']) {
      await expectError(await putManifest(r, "bad/repo", "broken", body, OCI_MANIFEST), 400, "MANIFEST_INVALID");
    }
  });

  it("refuses manifests that do not follow the schema with 400 MANIFEST_INVALID", async () => {
    const bodies = [
      manifestWith({ schemaVersion: 3 }),
      manifestWith({ schemaVersion: "2" }),
      manifestWith({ config: undefined }),
      manifestWith({ layers: "none" }),
      manifestWith({ layers: [{ mediaType: OCI_LAYER, digest: "sha256:nope", size: 1 }] }),
      manifestWith({ layers: [{ mediaType: OCI_LAYER, digest: sha256("x"), size: -1 }] }),
      manifestWith({ config: { mediaType: OCI_CONFIG, size: 2 } }),
      manifestWith({ mediaType: DOCKER_MANIFEST }),
    ];
    for (const body of bodies) {
      await expectError(await putManifest(r, "bad/repo", "schema", body, OCI_MANIFEST), 400, "MANIFEST_INVALID");
    }
    // An index body under an image manifest's type.
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    await expectError(await putManifest(r, "bad/repo", "schema", index, OCI_MANIFEST), 400, "MANIFEST_INVALID");
    await expectError(await r.fetch("/v2/bad/repo/manifests/schema"), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses a manifest whose Content-Type is another manifest type than its mediaType with 400 MANIFEST_INVALID", async () => {
    await expectError(await putManifest(r, "bad/repo", "mismatch", image.manifest, DOCKER_MANIFEST), 400, "MANIFEST_INVALID");
    await expectError(await putManifest(r, "bad/repo", "mismatch", image.manifest, OCI_INDEX), 400, "MANIFEST_INVALID");
    await expectError(await r.fetch("/v2/bad/repo/manifests/mismatch"), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses a manifest whose Content-Type is an unknown type while its mediaType is set (400 MANIFEST_INVALID)", async () => {
    // distribution-spec 1.0.1+ (CVE-2021-41190): a mediaType in the body must match the Content-Type of the push.
    const res = await putManifest(r, "bad/repo", "unknown-type", image.manifest, "application/vnd.example.unknown+json");
    await expectError(res, 400, "MANIFEST_INVALID");
    await expectError(await r.fetch("/v2/bad/repo/manifests/unknown-type"), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses a Docker schema1 manifest with 400 MANIFEST_INVALID naming schema1", async () => {
    const schema1 = JSON.stringify({
      schemaVersion: 1,
      name: "bad/repo",
      tag: "old",
      architecture: "amd64",
      fsLayers: [{ blobSum: image.layers.length ? sha256(image.layers[0]!) : sha256("") }],
      history: [{ v1Compatibility: "{}" }],
      signatures: [],
    });
    const body = await expectError(await putManifest(r, "bad/repo", "old", schema1, SCHEMA1_SIGNED), 400, "MANIFEST_INVALID");
    assert.match(body.errors[0]!.message, /schema ?1/i);
  });

  it("refuses a PUT by digest whose body has another digest with 400 DIGEST_INVALID", async () => {
    const fresh = await buildImage(r, "bad/bydigest");
    const other = sha256(Buffer.concat([fresh.manifest, Buffer.from(" ")]));
    await expectError(await putManifest(r, "bad/bydigest", other, fresh.manifest, OCI_MANIFEST), 400, "DIGEST_INVALID");
    await expectError(await r.fetch(`/v2/bad/bydigest/manifests/${other}`), 404, "MANIFEST_UNKNOWN");
    await expectError(await r.fetch(`/v2/bad/bydigest/manifests/${fresh.digest}`), 404, "MANIFEST_UNKNOWN");
  });

  it("refuses a manifest over 4 MiB with 413", async () => {
    const fields = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    const body = Buffer.from(JSON.stringify({ ...fields, annotations: { pad: "x".repeat(4 * 1024 * 1024 + 10) } }));
    const res = await rawRequest(r.url, "PUT", "/v2/bad/repo/manifests/huge", { "Content-Type": OCI_MANIFEST, "Content-Length": body.length }, body);
    assert.equal(res.status, 413);
    assert.equal(rawErrorCode(res), "SIZE_INVALID");
    // Also when streamed without a Content-Length.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body.subarray(0, 1024 * 1024));
        controller.enqueue(body.subarray(1024 * 1024));
        controller.close();
      },
    });
    // The server drains the rest of a refused body (body.ts discard), so the client's send ends and it reads the 413.
    const streamed = await r.fetch("/v2/bad/repo/manifests/huge", { method: "PUT", headers: { "Content-Type": OCI_MANIFEST }, body: stream, duplex: "half" } as RequestInit);
    await expectError(streamed, 413, "SIZE_INVALID");
    await expectError(await r.fetch("/v2/bad/repo/manifests/huge"), 404, "MANIFEST_UNKNOWN");
    // The server is still serving.
    assert.equal((await r.fetch("/v2/")).status, 200);
  });

  it("refuses invalid tags with 400 TAG_INVALID on PUT, and answers them 404 MANIFEST_UNKNOWN on GET, HEAD and DELETE", async () => {
    for (const tag of ["-bad", ".bad", ".INVALID_MANIFEST_NAME", "a".repeat(129), "with%20space", "a+b"]) {
      await expectError(await putManifest(r, "bad/repo", tag, image.manifest, OCI_MANIFEST), 400, "TAG_INVALID");
      await expectError(await r.fetch(`/v2/bad/repo/manifests/${tag}`), 404, "MANIFEST_UNKNOWN");
      await expectError(await r.fetch(`/v2/bad/repo/manifests/${tag}`, { method: "DELETE" }), 404, "MANIFEST_UNKNOWN");
      const head = await r.fetch(`/v2/bad/repo/manifests/${tag}`, { method: "HEAD" });
      assert.equal(head.status, 404, `HEAD ${tag}`);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    }
  });

  it("answers unknown tags and digests with 404 MANIFEST_UNKNOWN", async () => {
    await pushImage(r, "bad/known", "exists");
    await expectError(await r.fetch("/v2/bad/known/manifests/nope"), 404, "MANIFEST_UNKNOWN");
    await expectError(await r.fetch(`/v2/bad/known/manifests/${sha256("nothing")}`), 404, "MANIFEST_UNKNOWN");
    const head = await r.fetch("/v2/bad/known/manifests/nope", { method: "HEAD" });
    assert.equal(head.status, 404);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    await expectError(await r.fetch("/v2/bad/never/manifests/latest"), 404, "MANIFEST_UNKNOWN");
    await expectError(await r.fetch("/v2/bad/known/manifests/sha256:zz"), 400, "DIGEST_INVALID");
  });
});

describe("manifests: descriptors are checked against storage", () => {
  let r: TestRegistry;
  /** While `on`: storage calls running now and the most seen at once, each held for 2 ms so they overlap. */
  const calls = { on: false, running: 0, most: 0 };
  async function measured<T>(request: () => Promise<T>): Promise<T> {
    Object.assign(calls, { on: true, running: 0, most: 0 });
    try {
      return await request();
    } finally {
      calls.on = false;
    }
  }
  before(async () => {
    const inner = createDriver("inmemory");
    const driver = new Proxy(inner, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          const call = () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          // The online-GC guard polls its state under _berth/ every second, whatever the request does.
          if (!calls.on || (typeof args[0] === "string" && args[0].includes("/_berth/"))) return call();
          calls.running += 1;
          calls.most = Math.max(calls.most, calls.running);
          try {
            await new Promise((resolve) => setTimeout(resolve, 2));
            return await call();
          } finally {
            calls.running -= 1;
          }
        };
      },
    });
    r = await startRegistry({ driver });
  });
  after(() => r.close());

  function imageBody(config: Descriptor, layers: Descriptor[]): Bytes {
    return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
  }

  it("refuses a layer or config whose declared size differs from the stored blob with 400 MANIFEST_INVALID", async () => {
    const image = await buildImage(r, "sizes/app");
    const config = descriptor(OCI_CONFIG, image.config);
    const layer = descriptor(OCI_LAYER, image.layers[0]!);
    for (const [tag, body, wrong] of [
      ["small-layer", imageBody(config, [{ ...layer, size: layer.size - 1 }]), layer],
      ["large-layer", imageBody(config, [{ ...layer, size: 4 * 1024 ** 3 }]), layer],
      ["config", imageBody({ ...config, size: config.size + 1 }, [layer]), config],
    ] as const) {
      const error = await expectError(await putManifest(r, "sizes/app", tag, body, OCI_MANIFEST), 400, "MANIFEST_INVALID");
      const declared = (JSON.parse(body.toString()) as { config: Descriptor; layers: Descriptor[] });
      const size = [declared.config, ...declared.layers].find((d) => d.digest === wrong.digest)!.size;
      assert.deepEqual(error.errors[0]!.detail, { sizes: [{ digest: wrong.digest, size, stored: wrong.size }] });
      await expectError(await r.fetch(`/v2/sizes/app/manifests/${tag}`), 404, "MANIFEST_UNKNOWN");
    }
    const res = await putManifest(r, "sizes/app", "right", image.manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
  });

  it("refuses an index whose child's declared size differs from the stored manifest with 400 MANIFEST_INVALID", async () => {
    const child = await pushImage(r, "sizes/multi", undefined);
    const platform = { os: "linux", architecture: "amd64" };
    const lying = indexBody(OCI_INDEX, [{ image: { ...child, size: child.size + 10 }, platform }]);
    const error = await expectError(await putManifest(r, "sizes/multi", "lying", lying, OCI_INDEX), 400, "MANIFEST_INVALID");
    assert.deepEqual(error.errors[0]!.detail, { sizes: [{ digest: child.digest, size: child.size + 10, stored: child.size }] });
    const res = await putManifest(r, "sizes/multi", "honest", indexBody(OCI_INDEX, [{ image: child, platform }]), OCI_INDEX);
    assert.equal(res.status, 201, await res.text());
  });

  it("answers MANIFEST_BLOB_UNKNOWN, not a size error, when a reference is missing as well", async () => {
    const image = await buildImage(r, "sizes/both");
    const missing = descriptor(OCI_LAYER, randomBytes(16));
    const config = descriptor(OCI_CONFIG, image.config);
    const body = imageBody({ ...config, size: 1 }, [missing]);
    const error = await expectError(await putManifest(r, "sizes/both", "both", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
    assert.deepEqual(error.errors[0]!.detail, { digests: [missing.digest] });
  });

  it(`accepts ${maxManifestReferences} descriptors and refuses one more with 400 MANIFEST_INVALID before any lookup`, async () => {
    const image = await buildImage(r, "sizes/many");
    const config = descriptor(OCI_CONFIG, image.config);
    const layer = descriptor(OCI_LAYER, image.layers[0]!);
    const most = imageBody(config, Array.from({ length: maxManifestReferences - 1 }, () => layer));
    const res = await putManifest(r, "sizes/many", "most", most, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    const tooMany = imageBody(config, Array.from({ length: maxManifestReferences }, () => descriptor(OCI_LAYER, randomBytes(8))));
    const refused = await measured(() => putManifest(r, "sizes/many", "too-many", tooMany, OCI_MANIFEST));
    const error = await expectError(refused, 400, "MANIFEST_INVALID");
    assert.deepEqual(error.errors[0]!.detail, { references: maxManifestReferences + 1, limit: maxManifestReferences });
    assert.equal(calls.most, 0, "the refused manifest made no storage calls");
  });

  it("looks up a manifest's references a bounded number at a time", async () => {
    const layers = Array.from({ length: 100 }, () => randomBytes(8));
    const config = Buffer.from("{}");
    await Promise.all([config, ...layers].map((blob) => pushBlob(r, "sizes/wide", blob)));
    const body = imageBody(descriptor(OCI_CONFIG, config), layers.map((layer) => descriptor(OCI_LAYER, layer)));
    const res = await measured(() => putManifest(r, "sizes/wide", "wide", body, OCI_MANIFEST));
    assert.equal(res.status, 201, await res.text());
    // Two calls (link and data) per reference looked up, 16 references at a time; 202 unbounded.
    assert.ok(calls.most > 2, `lookups overlapped (${calls.most} at once)`);
    assert.ok(calls.most <= 32, `${calls.most} storage calls at once`);
  });
});

describe("manifests: blobs pushed with a layer shared between repositories", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("accepts a manifest once its blobs are mounted into the repository", async () => {
    const image = await buildImage(r, "share/source");
    await expectError(await putManifest(r, "share/target", "v1", image.manifest, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
    for (const blob of [image.config, ...image.layers]) {
      const res = await r.fetch(`/v2/share/target/blobs/uploads/?mount=${sha256(blob)}&from=share/source`, { method: "POST" });
      assert.equal(res.status, 201);
    }
    const res = await putManifest(r, "share/target", "v1", image.manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    // Pushing the same blob again to a repository that already has it is fine too.
    await pushBlob(r, "share/target", image.config);
  });
});
