import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { createLogger } from "../../server/log.js";
import { createRegistry } from "../../server/registry/handler.js";
import { manifestRules, type ValidationSettings } from "../../server/registry/manifest-validation.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import {
  buildImage,
  descriptor,
  DOCKER_MANIFEST,
  expectError,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  putManifest,
  sha256,
  startRegistry,
  type TestRegistry,
} from "./harness.js";

const nondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const dockerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

function startWith(validation: ValidationSettings | undefined): Promise<TestRegistry> {
  const registry = createRegistry({ driver: createDriver("inmemory"), logger: createLogger({ level: "error" }), manifestRules: manifestRules(validation) });
  return startRegistry({ registry });
}

/** An image whose one layer is not in the registry, only at `urls`. */
async function foreignImage(r: TestRegistry, name: string, urls: string[] | undefined, mediaType = nondistributable, manifestType = OCI_MANIFEST) {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", nonce: randomBytes(8).toString("hex") }));
  await pushBlob(r, name, config);
  const layer = { ...descriptor(mediaType, randomBytes(64)), ...(urls ? { urls } : {}) };
  const manifest = { schemaVersion: 2, mediaType: manifestType, config: descriptor(OCI_CONFIG, config), layers: [layer] };
  return { body: Buffer.from(JSON.stringify(manifest)), layer };
}

function put(r: TestRegistry, name: string, image: { body: Buffer<ArrayBuffer> }, type = OCI_MANIFEST): Promise<Response> {
  return putManifest(r, name, "v1", image.body, type);
}

describe("validation.manifests.urls", () => {
  const servers: TestRegistry[] = [];
  const start = async (validation: ValidationSettings | undefined) => {
    const r = await startWith(validation);
    servers.push(r);
    return r;
  };
  after(() => Promise.all(servers.map((r) => r.close())));

  it("by default refuses every layer URL, naming the layer (MANIFEST_BLOB_UNKNOWN)", async () => {
    const r = await start(undefined);
    const image = await foreignImage(r, "win/app", ["https://mcr.microsoft.com/layer.tar.gz"]);
    const error = await expectError(await put(r, "win/app", image), 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal((error.errors[0]?.detail as { digest: string }).digest, image.layer.digest);
  });

  it("allow and deny: a URL must match allow and must not match deny; http(s) only, no fragment", async () => {
    const r = await start({ manifests: { urls: { allow: ["^https://mcr\\.microsoft\\.com/", "^http://mirror\\.local/"], deny: ["/private/"] } } });
    const accepted = await foreignImage(r, "win/ok", ["https://mcr.microsoft.com/a.tar.gz", "http://mirror.local/a.tar.gz"]);
    assert.equal((await put(r, "win/ok", accepted)).status, 201);
    for (const url of ["https://example.com/a.tar.gz", "https://mcr.microsoft.com/private/a", "ftp://mcr.microsoft.com/a", "https://mcr.microsoft.com/a#frag"]) {
      const image = await foreignImage(r, "win/bad", ["https://mcr.microsoft.com/fine", url]);
      const error = await expectError(await put(r, "win/bad", image), 400, "MANIFEST_BLOB_UNKNOWN");
      assert.equal((error.errors[0]?.detail as { url: string }).url, url);
    }
  });

  it("deny alone lets every other http(s) URL through", async () => {
    const r = await start({ manifests: { urls: { deny: ["^https://evil\\."] } } });
    assert.equal((await put(r, "deny/ok", await foreignImage(r, "deny/ok", ["https://good.example/x"]))).status, 201);
    await expectError(await put(r, "deny/no", await foreignImage(r, "deny/no", ["https://evil.example/x"])), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("a Docker foreign layer needs a URL; an ordinary layer with an allowed URL must still be pushed", async () => {
    const r = await start({ manifests: { urls: { allow: ["^https://"] } } });
    const noUrl = await foreignImage(r, "docker/app", undefined, dockerForeign, DOCKER_MANIFEST);
    await expectError(await put(r, "docker/app", noUrl, DOCKER_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN");
    const withUrl = await foreignImage(r, "docker/app", ["https://example.com/l"], dockerForeign, DOCKER_MANIFEST);
    assert.equal((await put(r, "docker/app", withUrl, DOCKER_MANIFEST)).status, 201);
    const ordinary = await foreignImage(r, "oci/app", ["https://example.com/l"], "application/vnd.oci.image.layer.v1.tar+gzip");
    await expectError(await put(r, "oci/app", ordinary), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("validation.disabled accepts any http(s) URL", async () => {
    const r = await start({ disabled: true });
    assert.equal((await put(r, "off/app", await foreignImage(r, "off/app", ["https://anywhere.example/x"]))).status, 201);
    await expectError(await put(r, "off/bad", await foreignImage(r, "off/bad", ["file:///etc/passwd"])), 400, "MANIFEST_BLOB_UNKNOWN");
  });
});

describe("validation.manifests.indexes", () => {
  const servers: TestRegistry[] = [];
  after(() => Promise.all(servers.map((r) => r.close())));

  /** An index of a pushed linux/amd64 image and a linux/arm64 child that was never pushed. */
  async function indexWithMissingArm(r: TestRegistry, name: string) {
    const amd = await buildImage(r, name);
    assert.equal((await putManifest(r, name, amd.digest, amd.manifest, amd.mediaType)).status, 201);
    const missing = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, nonce: randomBytes(8).toString("hex") }));
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...descriptor(OCI_MANIFEST, amd.manifest), platform: { os: "linux", architecture: "amd64" } },
        { mediaType: OCI_MANIFEST, digest: sha256(missing), size: missing.length, platform: { os: "linux", architecture: "arm64" } },
      ],
    };
    return { body: Buffer.from(JSON.stringify(index)), missing: sha256(missing) };
  }

  const cases: [string, ValidationSettings | undefined, number][] = [
    ["all (the default) requires every child", undefined, 400],
    ["none requires no child", { manifests: { indexes: { platforms: "none" } } }, 201],
    ["list requires the children of the listed platforms only", { manifests: { indexes: { platforms: "list", platformlist: [{ os: "linux", architecture: "amd64" }] } } }, 201],
    ["list requires the listed arm64 child", { manifests: { indexes: { platforms: "list", platformlist: [{ os: "linux", architecture: "arm64" }] } } }, 400],
    ["list with an empty platformlist requires every child", { manifests: { indexes: { platforms: "list", platformlist: [] } } }, 400],
    ["validation.disabled requires no child", { disabled: true }, 201],
    ["enabled: true wins over disabled", { enabled: true, disabled: true }, 400],
  ];
  for (const [title, validation, status] of cases) {
    it(title, async () => {
      const r = await startWith(validation);
      servers.push(r);
      const index = await indexWithMissingArm(r, "multi/app");
      const res = await put(r, "multi/app", index, OCI_INDEX);
      if (status === 201) assert.equal(res.status, 201, await res.text());
      else assert.deepEqual((await expectError(res, 400, "MANIFEST_BLOB_UNKNOWN")).errors[0]?.detail, { digests: [index.missing] });
    });
  }
});
