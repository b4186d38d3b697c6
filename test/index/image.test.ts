import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { maxConfigBytes } from "../../server/index/describe.js";
import { classifyIndexError, IndexNotFoundError } from "../../server/index/errors.js";
import { RegistryError } from "../../server/registry/errors.js";
import { layout } from "../../server/registry/layout.js";
import { parseDigest } from "../../server/registry/reference.js";
import {
  descriptor,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  putManifest,
  pushBlob,
  pushImage,
  sha256,
  startRegistry,
  type PushedImage,
  type TestRegistry,
} from "../http/harness.js";
import { imageSize, openIndex, pushIndex, type IndexUnderTest, type PushedIndex } from "./helpers.js";

const imageConfig = {
  os: "linux",
  architecture: "arm",
  variant: "v7",
  created: "2024-03-04T05:06:07.123Z",
  author: "berth tests",
  config: {
    Env: ["PATH=/usr/local/bin:/usr/bin", "APP_MODE=prod"],
    Entrypoint: ["/entrypoint.sh"],
    Cmd: ["serve", "--port", "8080"],
    Labels: { "org.opencontainers.image.source": "https://example.com/app", maintainer: "ops" },
    ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
    Volumes: { "/data": {} },
    WorkingDir: "/srv",
    User: "app:app",
    StopSignal: "SIGTERM",
  },
  history: [
    { created: "2024-03-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:abc in / " },
    { created: "2024-03-01T00:00:01Z", created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
    { created: "2024-03-04T05:06:07Z", created_by: "RUN apk add curl # buildkit", comment: "buildkit.dockerfile.v0" },
  ],
};

describe("metadata index image detail", () => {
  let r: TestRegistry;
  let t: IndexUnderTest;
  let image: PushedImage;
  let multi: PushedIndex;
  let signature: string;
  let signatureSize: number;

  before(async () => {
    r = await startRegistry();
    t = await openIndex(r);
    await (await t.index.start()).rebuild;
    image = await pushImage(r, "detail/app", "1.2.3", { layers: 2, configExtra: imageConfig });
    const retag = await putManifest(r, "detail/app", "stable", image.manifest, image.mediaType);
    await retag.arrayBuffer();
    // A signature-like artifact whose subject is the image.
    const empty = Buffer.from("{}");
    await pushBlob(r, "detail/app", empty);
    const payload = Buffer.from("signature bytes");
    await pushBlob(r, "detail/app", payload);
    const artifact = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.signature",
        config: descriptor(OCI_EMPTY, empty),
        layers: [descriptor("application/octet-stream", payload)],
        subject: descriptor(image.mediaType, image.manifest),
        annotations: { "org.example.signer": "ci" },
      }),
    );
    signature = sha256(artifact);
    signatureSize = artifact.length;
    const res = await putManifest(r, "detail/app", signature, artifact, OCI_MANIFEST);
    await res.arrayBuffer();
    assert.equal(res.status, 201);
    multi = await pushIndex(r, "detail/multi", "latest", [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ]);
    await t.index.idle();
  });
  after(async () => {
    await t.index.close();
    await r.close();
  });

  it("shows an image's layers, config summary and history, by tag or digest", async () => {
    const detail = await t.index.image("detail/app", "1.2.3");
    assert.equal(detail.kind, "image");
    if (detail.kind !== "image") return;
    assert.equal(detail.digest, image.digest);
    assert.equal(detail.mediaType, OCI_MANIFEST);
    assert.equal(detail.manifestSize, image.manifest.length);
    assert.equal(detail.size, imageSize(image));
    assert.equal(detail.raw, image.manifest.toString("utf8"));
    assert.deepEqual(detail.tags, ["1.2.3", "stable"]);
    assert.equal(typeof detail.pushed, "number");
    assert.deepEqual(detail.config, { digest: sha256(image.config), size: image.config.length, mediaType: "application/vnd.oci.image.config.v1+json" });
    assert.deepEqual(
      detail.layers,
      image.layers.map((layer) => ({ digest: sha256(layer), size: layer.length, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" })),
    );
    assert.equal(detail.configError, null);
    assert.deepEqual(detail.configSummary, {
      os: "linux",
      architecture: "arm",
      variant: "v7",
      created: Date.parse("2024-03-04T05:06:07.123Z"),
      author: "berth tests",
      env: ["PATH=/usr/local/bin:/usr/bin", "APP_MODE=prod"],
      entrypoint: ["/entrypoint.sh"],
      cmd: ["serve", "--port", "8080"],
      labels: { "org.opencontainers.image.source": "https://example.com/app", maintainer: "ops" },
      exposedPorts: ["53/udp", "8080/tcp"],
      volumes: ["/data"],
      workingDir: "/srv",
      user: "app:app",
      stopSignal: "SIGTERM",
    });
    assert.deepEqual(detail.history, [
      { created: Date.parse("2024-03-01T00:00:00Z"), createdBy: "/bin/sh -c #(nop) ADD file:abc in / ", emptyLayer: false, comment: null },
      { created: Date.parse("2024-03-01T00:00:01Z"), createdBy: '/bin/sh -c #(nop)  CMD ["sh"]', emptyLayer: true, comment: null },
      { created: Date.parse("2024-03-04T05:06:07Z"), createdBy: "RUN apk add curl # buildkit", emptyLayer: false, comment: "buildkit.dockerfile.v0" },
    ]);
    assert.deepEqual(detail.referrers, [
      {
        digest: signature,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.signature",
        size: signatureSize,
        annotations: { "org.example.signer": "ci" },
      },
    ]);

    const byDigest = await t.index.image("detail/app", image.digest);
    assert.deepEqual(byDigest, detail);
  });

  it("indexes the image's platform and created time from its config", async () => {
    const row = (await t.index.listTags("detail/app", { filter: "1.2.3" })).rows[0];
    assert.deepEqual(row?.platforms, [{ os: "linux", architecture: "arm", variant: "v7" }]);
    assert.equal(row?.created, Date.parse("2024-03-04T05:06:07.123Z"));
  });

  it("shows an artifact's type and its subject", async () => {
    const detail = await t.index.image("detail/app", signature);
    assert.equal(detail.kind, "image");
    if (detail.kind !== "image") return;
    assert.equal(detail.artifactType, "application/vnd.example.signature");
    assert.equal(detail.subject, image.digest);
    assert.equal(detail.configSummary, null);
    assert.match(detail.configError ?? "", /not an image config/);
    assert.deepEqual(detail.tags, []);
  });

  it("shows an index's children with platform, digest and size", async () => {
    const detail = await t.index.image("detail/multi", "latest");
    assert.equal(detail.kind, "index");
    if (detail.kind !== "index") return;
    assert.equal(detail.digest, multi.digest);
    assert.equal(detail.mediaType, OCI_INDEX);
    assert.deepEqual(
      detail.children.map((child) => ({ digest: child.digest, platform: child.platform, size: child.size, manifestSize: child.manifestSize })),
      multi.children.map((child, i) => ({
        digest: child.digest,
        platform: i === 0 ? { os: "linux", architecture: "amd64" } : { os: "linux", architecture: "arm64", variant: "v8" },
        size: imageSize(child),
        manifestSize: child.manifest.length,
      })),
    );
    assert.equal(detail.size, imageSize(multi.children[0]!) + imageSize(multi.children[1]!));
    assert.deepEqual(detail.tags, ["latest"]);
  });

  it("reports unknown references as not found and malformed ones as bad requests", async () => {
    await assert.rejects(t.index.image("detail/app", "missing"), IndexNotFoundError);
    await assert.rejects(t.index.image("detail/app", sha256("nothing")), (error: unknown) => {
      assert.ok(error instanceof IndexNotFoundError);
      assert.ok(error.cause instanceof RegistryError, "the engine's error is kept as the cause");
      return true;
    });
    await assert.rejects(t.index.image("detail/nope", "latest"), IndexNotFoundError);
    for (const [repository, reference] of [
      ["detail/app", "sha256:short"],
      ["detail/app", "bad tag!"],
      ["Detail/App", "latest"],
    ] as const) {
      await assert.rejects(t.index.image(repository, reference), (error: unknown) => classifyIndexError(error) === "bad-request");
    }
  });
});

describe("metadata index and a config larger than its descriptor says", () => {
  let r: TestRegistry;
  let t: IndexUnderTest;
  const declaredSize = 300;
  let storedSize: number;

  before(async () => {
    r = await startRegistry();
    // Such a manifest cannot be pushed to Berth any more (sizes are checked), but one stored by an
    // older Berth or by distribution can be in the storage: written here the way they wrote it.
    const padding = " ".repeat(maxConfigBytes);
    const config = Buffer.from(`{"os":"linux","architecture":"amd64","created":"2024-01-02T03:04:05Z"${padding}}`);
    storedSize = config.length;
    const configDigest = parseDigest(sha256(config));
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest.value, size: declaredSize }, layers: [] }),
    );
    const manifestDigest = parseDigest(sha256(manifest));
    const { driver, registry } = r;
    await driver.putContent(layout.blobData(configDigest), config);
    await driver.putContent(layout.layerLink("huge/config", configDigest), configDigest.value);
    await driver.putContent(layout.blobData(manifestDigest), manifest);
    await driver.putContent(layout.revisionLink("huge/config", manifestDigest), manifestDigest.value);
    await registry.services.tags.tag("huge/config", "v1", manifestDigest);
    t = await openIndex(r);
    await (await t.index.start()).rebuild;
  });
  after(async () => {
    await t.index.close();
    await r.close();
  });

  it("indexes the image without reading the config: no platform, no created time", async () => {
    const row = (await t.index.listTags("huge/config", { filter: "v1" })).rows[0];
    assert.ok(row, "the tag is indexed");
    assert.deepEqual(row.platforms, []);
    assert.equal(row.created, null);
  });

  it("shows the image with a note that its config is too large, instead of its summary", async () => {
    const detail = await t.index.image("huge/config", "v1");
    assert.equal(detail.kind, "image");
    if (detail.kind !== "image") return;
    assert.equal(detail.configSummary, null);
    assert.deepEqual(detail.history, []);
    assert.equal(detail.configError, `the config is too large to show (${storedSize} bytes stored, though the manifest says ${declaredSize})`);
  });
});
