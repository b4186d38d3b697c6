import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  descriptor,
  expectError,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  sha256,
  startRegistry,
  type Descriptor,
  type PushedImage,
  type TestRegistry,
} from "./harness.js";

const SIGNATURE = "application/vnd.example.signature.v1";
const SBOM = "application/vnd.example.sbom.v1+json";
const emptyConfig = Buffer.from("{}");

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

/** An OCI artifact manifest (artifactType + empty config) with one payload layer and a subject. */
async function pushArtifact(
  r: TestRegistry,
  name: string,
  subject: { digest: string; size: number; mediaType: string },
  artifactType: string,
  annotations: Record<string, string>,
): Promise<{ digest: string; body: Buffer; res: Response }> {
  await pushBlob(r, name, emptyConfig);
  const payload = randomBytes(40);
  await pushBlob(r, name, payload);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: OCI_EMPTY, digest: sha256(emptyConfig), size: 2 },
      layers: [descriptor("application/octet-stream", payload)],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const res = await putManifest(r, name, sha256(body), body, OCI_MANIFEST);
  return { digest: sha256(body), body, res };
}

async function referrers(r: TestRegistry, name: string, digest: string, query = ""): Promise<{ res: Response; index: ReferrersIndex }> {
  const res = await r.fetch(`/v2/${name}/referrers/${digest}${query}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/vnd\.oci\.image\.index\.v1\+json/);
  const index = (await res.json()) as ReferrersIndex;
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, OCI_INDEX);
  assert.ok(Array.isArray(index.manifests));
  return { res, index };
}

describe("referrers API", () => {
  let r: TestRegistry;
  let image: PushedImage;
  let signature: { digest: string; body: Buffer };
  let sbom: { digest: string; body: Buffer };
  before(async () => {
    r = await startRegistry({ deleteEnabled: true });
    image = await pushImage(r, "ref/app", "v1");
  });
  after(() => r.close());

  it("accepts an artifact manifest with a subject: 201 and OCI-Subject", async () => {
    const pushed = await pushArtifact(r, "ref/app", { digest: image.digest, size: image.size, mediaType: OCI_MANIFEST }, SIGNATURE, {
      "org.example.signer": "alice",
    });
    assert.equal(pushed.res.status, 201, await pushed.res.text());
    assert.equal(pushed.res.headers.get("oci-subject"), image.digest);
    assert.equal(pushed.res.headers.get("docker-content-digest"), pushed.digest);
    signature = pushed;
    const other = await pushArtifact(r, "ref/app", { digest: image.digest, size: image.size, mediaType: OCI_MANIFEST }, SBOM, {
      "org.example.format": "spdx",
    });
    assert.equal(other.res.status, 201, await other.res.text());
    sbom = other;
  });

  it("lists referrers of the subject as an OCI index with artifactType and annotations", async () => {
    const { index } = await referrers(r, "ref/app", image.digest);
    const byDigest = new Map(index.manifests.map((d) => [d.digest, d]));
    assert.equal(index.manifests.length, 2);
    assert.deepEqual(byDigest.get(signature.digest), {
      mediaType: OCI_MANIFEST,
      digest: signature.digest,
      size: signature.body.length,
      artifactType: SIGNATURE,
      annotations: { "org.example.signer": "alice" },
    });
    assert.deepEqual(byDigest.get(sbom.digest), {
      mediaType: OCI_MANIFEST,
      digest: sbom.digest,
      size: sbom.body.length,
      artifactType: SBOM,
      annotations: { "org.example.format": "spdx" },
    });
  });

  it("filters by artifactType and says so with OCI-Filters-Applied", async () => {
    const { res, index } = await referrers(r, "ref/app", image.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(res.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [sbom.digest],
    );
    const none = await referrers(r, "ref/app", image.digest, "?artifactType=application/vnd.example.none");
    assert.deepEqual(none.index.manifests, []);
    const unfiltered = await referrers(r, "ref/app", image.digest);
    assert.equal(unfiltered.res.headers.get("oci-filters-applied"), null);
  });

  it("reports the config media type as artifactType for a referrer without artifactType", async () => {
    const config = Buffer.from(JSON.stringify({ kind: "attestation", n: randomBytes(4).toString("hex") }));
    await pushBlob(r, "ref/app", config);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor("application/vnd.example.attestation.config.v1+json", config),
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size },
      }),
    );
    const res = await putManifest(r, "ref/app", "attestation", body, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("oci-subject"), image.digest);
    const { index } = await referrers(r, "ref/app", image.digest, "?artifactType=application/vnd.example.attestation.config.v1%2Bjson");
    assert.deepEqual(
      index.manifests.map((d) => [d.digest, d.artifactType]),
      [[sha256(body), "application/vnd.example.attestation.config.v1+json"]],
    );
  });

  it("answers an unknown subject digest with 200 and no manifests", async () => {
    const { index } = await referrers(r, "ref/app", sha256("no such subject"));
    assert.deepEqual(index.manifests, []);
    const { index: elsewhere } = await referrers(r, "ref/never-pushed", image.digest);
    assert.deepEqual(elsewhere.manifests, []);
  });

  it("accepts a referrer whose subject does not exist yet and lists it", async () => {
    const missing = sha256(randomBytes(16));
    const pushed = await pushArtifact(r, "ref/app", { digest: missing, size: 123, mediaType: OCI_MANIFEST }, SIGNATURE, { early: "yes" });
    assert.equal(pushed.res.status, 201, await pushed.res.text());
    assert.equal(pushed.res.headers.get("oci-subject"), missing);
    const { index } = await referrers(r, "ref/app", missing);
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [pushed.digest],
    );
  });

  it("does not list referrers pushed to another repository", async () => {
    const { index } = await referrers(r, "ref/other", image.digest);
    assert.deepEqual(index.manifests, []);
  });

  it("answers an invalid subject digest with 400 DIGEST_INVALID", async () => {
    await expectError(await r.fetch("/v2/ref/app/referrers/sha256:nope"), 400, "DIGEST_INVALID");
    await expectError(await r.fetch("/v2/ref/app/referrers/latest"), 400, "DIGEST_INVALID");
  });

  it("drops a referrer from the list once it is deleted by digest", async () => {
    const res = await r.fetch(`/v2/ref/app/manifests/${signature.digest}`, { method: "DELETE" });
    assert.equal(res.status, 202, await res.text());
    const { index } = await referrers(r, "ref/app", image.digest);
    const digests = index.manifests.map((d) => d.digest);
    assert.ok(!digests.includes(signature.digest), `still listed: ${digests.join(", ")}`);
    assert.ok(digests.includes(sbom.digest));
  });
});
