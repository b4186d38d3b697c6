import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { manifestReferences, UnreadableManifestError } from "../../server/gc/references.js";
import { collectGarbage } from "../../server/gc/collect.js";
import { layout } from "../../server/registry/layout.js";
import { parseDigest } from "../../server/registry/reference.js";
import { createDriver } from "../../server/registry/storage/factory.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("manifest references", () => {
  it("image manifests: config and every layer (foreign ones too), subject apart", () => {
    const refs = manifestReferences(
      d("0"),
      json({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: d("1"), size: 2 },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: d("2"), size: 3 },
          { mediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", digest: d("3"), size: 4, urls: ["https://example.com/x"] },
        ],
        subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d("4"), size: 5 },
      }),
    );
    assert.deepEqual(refs, { kind: "image", blobs: [d("1"), d("2"), d("3")], manifests: [], subject: d("4") });
  });

  it("indexes: children as manifests", () => {
    const refs = manifestReferences(
      d("0"),
      json({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
        manifests: [
          { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: d("a"), size: 1, platform: { os: "linux", architecture: "amd64" } },
          { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: d("b"), size: 1, platform: { os: "linux", architecture: "arm64" } },
        ],
      }),
    );
    assert.deepEqual(refs, { kind: "index", blobs: [], manifests: [d("a"), d("b")] });
  });

  it("schema1: fsLayers blobSums, deduplicated", () => {
    const refs = manifestReferences(d("0"), json({ schemaVersion: 1, name: "a", tag: "b", fsLayers: [{ blobSum: d("5") }, { blobSum: d("6") }, { blobSum: d("5") }], signatures: [] }));
    assert.deepEqual(refs, { kind: "schema1", blobs: [d("5"), d("6")], manifests: [] });
  });

  it("formats the engine does not know: every digest in a referencing position", () => {
    const refs = manifestReferences(
      d("0"),
      json({
        mediaType: "application/vnd.oci.artifact.manifest.v1+json",
        blobs: [{ digest: d("7") }, { digest: "not-a-digest" }],
        subject: { digest: d("8") },
      }),
    );
    assert.deepEqual(refs, { kind: "unknown", blobs: [d("7")], manifests: [], subject: d("8") });
  });

  it("refuses content that is not a JSON object: its references are unknown", () => {
    assert.throws(() => manifestReferences(d("0"), Buffer.from("\x1f\x8b binary")), UnreadableManifestError);
    assert.throws(() => manifestReferences(d("0"), Buffer.from("[1,2]")), /not a JSON object/);
  });
});

describe("collecting around an unreadable manifest", () => {
  it("refuses to run and names the repository and digest", async () => {
    const driver = createDriver("inmemory");
    const digest = parseDigest(d("c"));
    await driver.putContent(layout.blobData(digest), Buffer.from("\x00garbage"));
    await driver.putContent(layout.revisionLink("broken/app", digest), digest.value);
    const orphan = parseDigest(d("e"));
    await driver.putContent(layout.blobData(orphan), Buffer.from("x"));
    await assert.rejects(collectGarbage({ driver }), /manifest sha256:c{64} in broken\/app cannot be read \(not JSON\)/);
    assert.equal((await driver.stat(layout.blobData(orphan))).size, 1, "nothing was deleted");
  });
});
