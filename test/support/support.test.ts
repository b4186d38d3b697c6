import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { requireCommands } from "./commands.js";
import { startDistribution, type DistributionRegistry } from "./distribution.js";
import {
  blobPath,
  makeImageLayout,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  parsePlatform,
  sha256Digest,
  tarHeader,
  TWO_PLATFORMS,
  type Descriptor,
  type ImageLayout,
  type Platform,
} from "./images.js";
import { freePort, waitForHttp } from "./net.js";
import { SkopeoError, skopeoCopy, skopeoDelete, skopeoInspect, skopeoListTags } from "./skopeo.js";

const REF_NAME = "org.opencontainers.image.ref.name";

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "berth-support-test-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let dirCount = 0;
function freshDir(name: string): string {
  return join(scratch, `${name}-${++dirCount}`);
}

/** Reads a blob and checks the bytes hash to the name they are stored under. */
async function readBlob(dir: string, descriptor: { digest: string; size: number }): Promise<Buffer> {
  const bytes = await readFile(blobPath(dir, descriptor.digest));
  assert.equal(sha256Digest(bytes), descriptor.digest, `blob ${descriptor.digest} content does not match its digest`);
  assert.equal(bytes.length, descriptor.size, `blob ${descriptor.digest} size`);
  return bytes;
}

function parseOctal(field: Buffer): number {
  return parseInt(field.toString("ascii").replace(/\0.*$/s, "").trim() || "0", 8);
}

/** Minimal independent reader for the single-member archives images.ts writes. */
function parseSingleFileTar(tar: Buffer): { name: string; size: number; content: Buffer } {
  const header = tar.subarray(0, 512);
  const stored = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  assert.equal(sum, stored, "tar header checksum");
  assert.equal(header.subarray(257, 263).toString("ascii"), "ustar\0");
  assert.equal(header.subarray(263, 265).toString("ascii"), "00");
  assert.equal(String.fromCharCode(header[156]!), "0", "regular file type flag");
  const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  const size = parseOctal(header.subarray(124, 136));
  const dataBlocks = Math.ceil(size / 512) * 512;
  assert.equal(tar.length, 512 + dataBlocks + 1024, "header + padded data + two end blocks");
  assert.ok(tar.subarray(512 + dataBlocks).every((b) => b === 0), "end-of-archive blocks are zero");
  return { name, size, content: tar.subarray(512, 512 + size) };
}

/** Walks index.json → (index →) manifests → config and layers, checking every digest and link. */
async function verifyLayout(layout: ImageLayout, expectedLayerSizes: number[], platforms: Platform[]): Promise<void> {
  const dir = layout.dir;
  assert.deepEqual(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { schemaVersion: number; manifests: Descriptor[] };
  assert.equal(index.schemaVersion, 2);
  const top = index.manifests.find((d) => d.annotations?.[REF_NAME] === layout.tag);
  assert.ok(top, `index.json has an entry for tag ${layout.tag}`);
  assert.equal(top.digest, layout.manifestDigest);
  assert.equal(top.mediaType, layout.mediaType);
  assert.equal(top.size, layout.manifestSize);

  let manifestDescriptors: Descriptor[];
  if (top.mediaType === OCI_INDEX) {
    const imageIndex = JSON.parse((await readBlob(dir, top)).toString("utf8")) as { mediaType: string; manifests: Descriptor[] };
    assert.equal(imageIndex.mediaType, OCI_INDEX);
    manifestDescriptors = imageIndex.manifests;
    assert.deepEqual(
      manifestDescriptors.map((d) => d.platform),
      platforms.map((p) => ({ ...p })),
    );
  } else {
    manifestDescriptors = [top];
  }
  assert.equal(manifestDescriptors.length, platforms.length);
  assert.equal(layout.manifests.length, platforms.length);

  const seenLayers = new Set<string>();
  for (const [i, descriptor] of manifestDescriptors.entries()) {
    assert.equal(descriptor.mediaType, OCI_MANIFEST);
    const described = layout.manifests[i]!;
    assert.equal(descriptor.digest, described.digest);
    const manifest = JSON.parse((await readBlob(dir, descriptor)).toString("utf8")) as {
      schemaVersion: number;
      mediaType: string;
      config: Descriptor;
      layers: Descriptor[];
    };
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, OCI_MANIFEST);
    assert.equal(manifest.config.mediaType, OCI_CONFIG);
    assert.equal(manifest.config.digest, described.configDigest);

    const config = JSON.parse((await readBlob(dir, manifest.config)).toString("utf8")) as {
      created: string;
      architecture: string;
      os: string;
      variant?: string;
      config: { Env: string[]; Cmd: string[] };
      rootfs: { type: string; diff_ids: string[] };
      history: { created: string; created_by: string }[];
    };
    const platform = platforms[i]!;
    assert.equal(config.architecture, platform.architecture);
    assert.equal(config.os, platform.os);
    assert.equal(config.variant, platform.variant);
    assert.ok(!Number.isNaN(Date.parse(config.created)), "created is a timestamp");
    assert.ok(config.config.Env.some((e) => e.startsWith("PATH=")));
    assert.deepEqual(config.config.Cmd, ["/bin/sh"]);
    assert.equal(config.rootfs.type, "layers");
    assert.equal(config.rootfs.diff_ids.length, expectedLayerSizes.length);
    assert.equal(config.history.length, expectedLayerSizes.length);
    assert.equal(manifest.layers.length, expectedLayerSizes.length);

    for (const [l, layerDescriptor] of manifest.layers.entries()) {
      assert.equal(layerDescriptor.mediaType, OCI_LAYER_GZIP);
      assert.equal(layerDescriptor.digest, described.layers[l]!.digest);
      const tar = gunzipSync(await readBlob(dir, layerDescriptor));
      assert.equal(sha256Digest(tar), config.rootfs.diff_ids[l], "diff_id is the sha256 of the uncompressed tar");
      assert.equal(described.layers[l]!.diffId, config.rootfs.diff_ids[l]);
      assert.equal(described.layers[l]!.tarSize, tar.length);
      const member = parseSingleFileTar(tar);
      assert.equal(member.size, expectedLayerSizes[l]);
      assert.equal(member.content.length, expectedLayerSizes[l]);
      if (member.size >= 4096) {
        // Random content should not shrink under gzip; a repeating pattern would.
        assert.ok(layerDescriptor.size > member.size * 0.98, "layer content is incompressible");
      }
      seenLayers.add(layerDescriptor.digest);
    }
  }
  assert.equal(seenLayers.size, expectedLayerSizes.length * platforms.length, "every layer is distinct");

  const onDisk = (await readdir(join(dir, "blobs", "sha256"))).filter((name) => !name.startsWith("."));
  for (const digest of layout.blobs) assert.ok(onDisk.includes(digest.slice("sha256:".length)), `${digest} on disk`);
}

describe("images", () => {
  test("single-platform layout: manifest, config and gzip'd tar layers all check out", async () => {
    const layout = await makeImageLayout(freshDir("single"), { tag: "v1", layers: [70_000, 1_000], seed: 42 });
    assert.equal(layout.mediaType, OCI_MANIFEST);
    assert.equal(layout.ref, `oci:${layout.dir}:v1`);
    assert.equal(layout.blobs.length, 4);
    await verifyLayout(layout, [70_000, 1_000], [{ os: "linux", architecture: "amd64" }]);
  });

  test("multi-platform layout: an image index of per-platform manifests", async () => {
    const layout = await makeImageLayout(freshDir("multi"), { layers: [2_048, 0], seed: 42, platforms: TWO_PLATFORMS });
    assert.equal(layout.mediaType, OCI_INDEX);
    assert.equal(layout.tag, "latest");
    assert.deepEqual(
      layout.manifests.map((m) => m.platform),
      TWO_PLATFORMS,
    );
    assert.equal(layout.blobs.length, 1 + 2 * (1 + 1 + 2));
    await verifyLayout(layout, [2_048, 0], TWO_PLATFORMS);
  });

  test("a single platform can still be wrapped in an index", async () => {
    const layout = await makeImageLayout(freshDir("forced"), { layers: [10], index: true });
    assert.equal(layout.mediaType, OCI_INDEX);
    await verifyLayout(layout, [10], [{ os: "linux", architecture: "amd64" }]);
  });

  test("same seed gives identical digests, another seed does not", async () => {
    const options = { layers: [300_000, 5], seed: 9, platforms: TWO_PLATFORMS };
    const a = await makeImageLayout(freshDir("det-a"), options);
    const b = await makeImageLayout(freshDir("det-b"), options);
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.deepEqual(a.blobs, b.blobs);
    assert.deepEqual(a.manifests, b.manifests);
    const c = await makeImageLayout(freshDir("det-c"), { ...options, seed: 10 });
    assert.notEqual(c.manifestDigest, a.manifestDigest);
    assert.ok(c.blobs.every((digest) => !a.blobs.includes(digest)), "no blob shared across seeds");
    // A string seed is the same seed as the number it spells, so CLI and tests agree.
    const d = await makeImageLayout(freshDir("det-d"), { ...options, seed: "9" });
    assert.equal(d.manifestDigest, a.manifestDigest);
  });

  test("several tags can share one layout", async () => {
    const dir = freshDir("shared");
    const one = await makeImageLayout(dir, { tag: "one", layers: [100], seed: 1 });
    const two = await makeImageLayout(dir, { tag: "two", layers: [100], seed: 2 });
    const again = await makeImageLayout(dir, { tag: "one", layers: [200], seed: 3 });
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
    assert.deepEqual(
      index.manifests.map((d) => [d.annotations?.[REF_NAME], d.digest]),
      [
        ["two", two.manifestDigest],
        ["one", again.manifestDigest],
      ],
    );
    assert.notEqual(one.manifestDigest, again.manifestDigest);
    await verifyLayout(two, [100], [{ os: "linux", architecture: "amd64" }]);
    await verifyLayout(again, [200], [{ os: "linux", architecture: "amd64" }]);
  });

  test("layers are readable by the system tar", async () => {
    requireCommands("tar");
    const layout = await makeImageLayout(freshDir("tar"), { layers: [1_234], seed: 5 });
    const layer = layout.manifests[0]!.layers[0]!;
    const { stdout } = await promisify(execFile)("tar", ["-tvzf", blobPath(layout.dir, layer.digest)]);
    assert.match(stdout, /^-rw-r--r-- root\/root\s+1234 \S+ \S+ layer-0-linux-amd64\.bin\n$/);
  });

  test("tar header encodes sizes beyond the octal field in base-256", () => {
    const big = tarHeader("f", 9 * 1024 ** 3, new Date(0));
    assert.equal(big[124], 0x80);
    assert.equal(big.readBigUInt64BE(128), 9n * 1024n ** 3n);
    const small = tarHeader("f", 511, new Date(0));
    assert.equal(small.subarray(124, 136).toString("ascii"), "00000000777\0");
  });

  test("platform strings parse and reject nonsense", () => {
    assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
    assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
    assert.throws(() => parsePlatform("linux"), /invalid platform/);
    assert.throws(() => parsePlatform("linux/arm64/v8/extra"), /invalid platform/);
    assert.throws(() => parsePlatform("linux//v8"), /invalid platform/);
  });
});

describe("net", () => {
  test("freePort returns a bindable port and waitForHttp gives up on a dead one", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const started = Date.now();
    await assert.rejects(waitForHttp(`http://127.0.0.1:${port}/`, 300), /timed out after 300 ms/);
    assert.ok(Date.now() - started < 2_000);
  });
});

describe("skopeo against docker-registry", () => {
  before(() => requireCommands("skopeo", "docker-registry"));
  let registry: DistributionRegistry;
  let single: ImageLayout;
  let multi: ImageLayout;

  before(async () => {
    [registry, single, multi] = await Promise.all([
      startDistribution(),
      makeImageLayout(freshDir("push-single"), { tag: "v1", layers: [200_000, 3_000], seed: 100 }),
      makeImageLayout(freshDir("push-multi"), { tag: "multi", layers: [50_000, 700], seed: 101, platforms: TWO_PLATFORMS }),
    ]);
  });
  after(async () => {
    await registry?.stop();
  });

  test("registry answers /v2/ and stop() is idempotent on a second instance", async () => {
    const response = await fetch(`${registry.url}/v2/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("docker-distribution-api-version"), "registry/2.0");

    const other = await startDistribution({ root: join(scratch, "kept-root") });
    assert.notEqual(other.port, registry.port);
    await other.stop();
    await other.stop();
    await assert.rejects(fetch(`${other.url}/v2/`));
    assert.ok((await readdir(scratch)).includes("kept-root"), "a caller-supplied root survives stop()");
  });

  test("single-platform OCI image pushes with its digest intact", async () => {
    const dest = `docker://${registry.host}/test/single:v1`;
    await skopeoCopy(single.ref, dest);
    const raw = await skopeoInspect(dest, { raw: true });
    assert.equal(sha256Digest(raw), single.manifestDigest, "--raw output is the exact manifest bytes");
    assert.equal(JSON.parse(raw).mediaType, OCI_MANIFEST);

    const info = await skopeoInspect(dest);
    assert.equal(info.Digest, single.manifestDigest);
    assert.equal(info.Architecture, "amd64");
    assert.deepEqual(
      info.Layers,
      single.manifests[0]!.layers.map((l) => l.digest),
    );

    const rawConfig = await skopeoInspect(dest, { raw: true, config: true });
    assert.equal(sha256Digest(rawConfig), single.manifests[0]!.configDigest);

    // The registry itself agrees, independent of skopeo.
    const response = await fetch(`${registry.url}/v2/test/single/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("docker-content-digest"), single.manifestDigest);
    await response.arrayBuffer();

    assert.deepEqual(await skopeoListTags(`docker://${registry.host}/test/single`), ["v1"]);
  });

  test("multi-platform index pushes with --all and resolves per platform", async () => {
    const dest = `docker://${registry.host}/test/multi:multi`;
    await skopeoCopy(multi.ref, dest, { all: true });
    assert.equal(sha256Digest(await skopeoInspect(dest, { raw: true })), multi.manifestDigest);

    const arm = await skopeoInspect(dest, { overrideArch: "arm64", overrideVariant: "v8" });
    assert.equal(arm.Architecture, "arm64");
    assert.deepEqual(
      arm.Layers,
      multi.manifests[1]!.layers.map((l) => l.digest),
    );
    const armRaw = await skopeoInspect(`docker://${registry.host}/test/multi@${multi.manifests[1]!.digest}`, { raw: true });
    assert.equal(sha256Digest(armRaw), multi.manifests[1]!.digest);
  });

  test("--format v2s2 converts the manifest but keeps config and layer blobs", async () => {
    const dest = `docker://${registry.host}/test/single:v2s2`;
    await skopeoCopy(single.ref, dest, { format: "v2s2" });
    const raw = await skopeoInspect(dest, { raw: true });
    const manifest = JSON.parse(raw) as { mediaType: string; config: Descriptor; layers: Descriptor[] };
    assert.equal(manifest.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.notEqual(sha256Digest(raw), single.manifestDigest);
    assert.equal(manifest.config.digest, single.manifests[0]!.configDigest);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      single.manifests[0]!.layers.map((l) => l.digest),
    );
    const config = await skopeoInspect(dest, { config: true });
    assert.deepEqual((config.rootfs as { diff_ids: string[] }).diff_ids, single.manifests[0]!.layers.map((l) => l.diffId));
    assert.deepEqual((await skopeoListTags(`docker://${registry.host}/test/single`)).sort(), ["v1", "v2s2"]);
  });

  test("pulling back into a new OCI layout round-trips the digests", async () => {
    const backSingle = freshDir("back");
    await skopeoCopy(`docker://${registry.host}/test/single:v1`, `oci:${backSingle}:v1`);
    const backMulti = freshDir("back-multi");
    await skopeoCopy(`docker://${registry.host}/test/multi:multi`, `oci:${backMulti}:multi`, { all: true });

    for (const [dir, tag, expected] of [
      [backSingle, "v1", single],
      [backMulti, "multi", multi],
    ] as const) {
      const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
      const entry = index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
      assert.equal(entry?.digest, expected.manifestDigest);
      for (const digest of expected.blobs) {
        const bytes = await readFile(blobPath(dir, digest));
        assert.equal(createHash("sha256").update(bytes).digest("hex"), digest.slice("sha256:".length));
      }
    }
  });

  test("delete by digest removes the manifest; failures surface skopeo's stderr", async () => {
    const repo = `docker://${registry.host}/test/multi`;
    await skopeoDelete(`${repo}@${multi.manifestDigest}`);
    await assert.rejects(skopeoInspect(`${repo}:multi`, { raw: true }), (error: unknown) => {
      assert.ok(error instanceof SkopeoError);
      assert.equal(error.exitCode, 1);
      assert.match(error.message, /manifest unknown/);
      return true;
    });
    assert.deepEqual(await skopeoListTags(repo), []);
    await assert.rejects(skopeoListTags(`docker://${registry.host}/test/never-pushed`), SkopeoError);
  });
});
