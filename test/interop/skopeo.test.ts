/**
 * skopeo, an independent client built on containers/image, against Berth: pushes, pulls,
 * inspects, lists, deletes and copies, checking digests and blob bytes end to end.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { blobPath, makeImageLayout, OCI_INDEX, OCI_MANIFEST, sha256Digest, TWO_PLATFORMS, type ImageLayout } from "../support/images.js";
import { requireCommands } from "../support/commands.js";
import { SkopeoError, skopeoCopy, skopeoDelete, skopeoInspect, skopeoListTags } from "../support/skopeo.js";
import { removeDir, tempDir } from "../support/files.js";
import {
  assertBlobsIdentical,
  assertRoundTrip,
  catalog,
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST_V2,
  pullToLayout,
  sortedBytewise,
  startBerth,
  tagsList,
  type BerthServer,
  type ManifestJSON,
} from "./harness.js";

interface ImageConfig {
  rootfs?: { type: string; diff_ids: string[] };
  config?: { Env?: string[] };
}

describe("skopeo against Berth", () => {
  before(() => requireCommands("skopeo"));
  let work: string;
  let berth: BerthServer | undefined;
  let single: ImageLayout;
  let docker: ImageLayout;
  let multi: ImageLayout;
  let other: ImageLayout;
  let pulls = 0;

  const ref = (path: string): string => `docker://${berth!.host}/${path}`;
  const pullDir = (name: string): string => join(work, "pulled", `${name}-${++pulls}`);

  before(async () => {
    work = await tempDir("skopeo");
    [berth, single, docker, multi, other] = await Promise.all([
      startBerth(join(work, "root")),
      makeImageLayout(join(work, "single"), { tag: "v1", layers: [600_000, 4_096], seed: "skopeo-single" }),
      makeImageLayout(join(work, "docker"), { tag: "v1", layers: [300_000, 1_000], seed: "skopeo-docker" }),
      makeImageLayout(join(work, "multi"), { tag: "v1", layers: [200_000, 512], seed: "skopeo-multi", platforms: TWO_PLATFORMS }),
      makeImageLayout(join(work, "other"), { tag: "v1", layers: [2_000], seed: "skopeo-other" }),
    ]);
  });
  after(async () => {
    await berth?.close();
    await removeDir(work);
  });

  test("single-arch OCI image: push, then pull back with the same digest and identical blobs", async () => {
    await skopeoCopy(single.ref, ref("interop/single:v1"));
    const raw = await skopeoInspect(ref("interop/single:v1"), { raw: true });
    assert.equal(sha256Digest(raw), single.manifestDigest, "stored manifest bytes are the pushed ones");
    assert.equal((JSON.parse(raw) as ManifestJSON).mediaType, OCI_MANIFEST);

    const pulled = await assertRoundTrip(ref("interop/single:v1"), single, pullDir("single"));
    assert.equal(pulled.mediaType, OCI_MANIFEST);
    assert.deepEqual(
      pulled.manifest.layers?.map((l) => l.digest),
      single.manifests[0]!.layers.map((l) => l.digest),
    );

    // Pulling by digest serves the very same image.
    const byDigest = await assertRoundTrip(ref(`interop/single@${single.manifestDigest}`), single, pullDir("single-digest"));
    assert.equal(byDigest.digest, single.manifestDigest);
  });

  test("Docker schema2 image (--format v2s2): stored as such, layers and config unchanged", async () => {
    await skopeoCopy(docker.ref, ref("interop/docker:v1"), { format: "v2s2" });
    const raw = await skopeoInspect(ref("interop/docker:v1"), { raw: true });
    const manifest = JSON.parse(raw) as ManifestJSON;
    assert.equal(manifest.mediaType, DOCKER_MANIFEST_V2);
    assert.equal(manifest.schemaVersion, 2);
    const source = docker.manifests[0]!;
    assert.deepEqual(manifest.config, { mediaType: DOCKER_CONFIG, digest: source.configDigest, size: source.configSize });
    assert.deepEqual(
      manifest.layers,
      source.layers.map((l) => ({ mediaType: DOCKER_LAYER_GZIP, digest: l.digest, size: l.size })),
    );

    // The registry serves it under the digest of those exact bytes, with the Docker media type.
    const digest = sha256Digest(raw);
    const head = await fetch(`${berth!.url}/v2/interop/docker/manifests/v1`, { method: "HEAD", headers: { accept: DOCKER_MANIFEST_V2 } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("docker-content-digest"), digest);
    assert.equal(head.headers.get("content-type"), DOCKER_MANIFEST_V2);
    assert.equal(Number(head.headers.get("content-length")), Buffer.byteLength(raw));

    const info = await skopeoInspect(ref("interop/docker:v1"));
    assert.equal(info.Digest, digest);
    assert.deepEqual(
      info.Layers,
      source.layers.map((l) => l.digest),
    );

    // The config blob itself comes back from the registry byte for byte.
    const configResponse = await fetch(`${berth!.url}/v2/interop/docker/blobs/${source.configDigest}`);
    assert.equal(configResponse.status, 200);
    const configBytes = Buffer.from(await configResponse.arrayBuffer());
    assert.equal(sha256Digest(configBytes), source.configDigest);
    assert.deepEqual(configBytes, await readFile(blobPath(docker.dir, source.configDigest)));

    // An OCI layout cannot hold a schema2 manifest, so skopeo converts it on the way out (and
    // re-serialises the config as an OCI config); the layers must come back byte for byte.
    const pulled = await pullToLayout(ref("interop/docker:v1"), pullDir("docker"));
    assert.deepEqual(
      pulled.manifest.layers?.map((l) => [l.digest, l.size]),
      source.layers.map((l) => [l.digest, l.size]),
    );
    await assertBlobsIdentical(docker.dir, pulled.dir, source.layers.map((l) => l.digest));
    const pulledConfig = JSON.parse(await readFile(blobPath(pulled.dir, pulled.manifest.config!.digest), "utf8")) as ImageConfig;
    const sourceConfig = JSON.parse(configBytes.toString("utf8")) as ImageConfig;
    assert.deepEqual(pulledConfig.rootfs, sourceConfig.rootfs);
    assert.deepEqual(pulledConfig.config?.Env, sourceConfig.config?.Env);
  });

  test("multi-arch index (--all): index digest preserved, each platform resolvable", async () => {
    await skopeoCopy(multi.ref, ref("interop/multi:v1"), { all: true });
    const raw = await skopeoInspect(ref("interop/multi:v1"), { raw: true });
    assert.equal(sha256Digest(raw), multi.manifestDigest);
    assert.equal((JSON.parse(raw) as ManifestJSON).mediaType, OCI_INDEX);

    // skopeo 1.9 reports the digest of the top-level manifest (the index) in `Digest` even when
    // an override picks a platform; the platform's image shows in its layers and config.
    for (const platform of multi.manifests) {
      const arch = platform.platform.architecture;
      const picked = await skopeoInspect(ref("interop/multi:v1"), { overrideArch: arch, overrideOs: "linux" });
      assert.equal(picked.Digest, multi.manifestDigest);
      assert.equal(picked.Architecture, arch);
      assert.deepEqual(
        picked.Layers,
        platform.layers.map((l) => l.digest),
        `${arch}: layers of that platform's manifest`,
      );
      const config = await skopeoInspect(ref("interop/multi:v1"), { overrideArch: arch, overrideOs: "linux", raw: true, config: true });
      assert.equal(sha256Digest(config), platform.configDigest, `${arch}: config of that platform's manifest`);
    }

    // Each child manifest is in the repository under its own digest.
    for (const child of multi.manifests) {
      const childRaw = await skopeoInspect(ref(`interop/multi@${child.digest}`), { raw: true });
      assert.equal(sha256Digest(childRaw), child.digest);
    }

    // Without --all, skopeo copies just the image of the requested platform: its manifest digest.
    const arm64 = multi.manifests.find((m) => m.platform.architecture === "arm64")!;
    const armOnly = await pullToLayout(ref("interop/multi:v1"), pullDir("multi-arm64"), {
      extraArgs: ["--override-arch", "arm64", "--override-os", "linux"],
    });
    assert.equal(armOnly.digest, arm64.digest);
    assert.equal(armOnly.mediaType, OCI_MANIFEST);
    await assertBlobsIdentical(multi.dir, armOnly.dir, [arm64.digest, arm64.configDigest, ...arm64.layers.map((l) => l.digest)]);

    const pulled = await assertRoundTrip(ref("interop/multi:v1"), multi, pullDir("multi"));
    assert.equal(pulled.mediaType, OCI_INDEX);
    assert.deepEqual(
      pulled.manifest.manifests?.map((m) => m.digest),
      multi.manifests.map((m) => m.digest),
    );
  });

  test("inspect reports name, tags, platform and layers", async () => {
    await skopeoCopy(other.ref, ref("interop/inspect:one"));
    await skopeoCopy(other.ref, ref("interop/inspect:two"));
    const info = await skopeoInspect(ref("interop/inspect:one"));
    assert.equal(info.Name, `${berth!.host}/interop/inspect`);
    assert.equal(info.Digest, other.manifestDigest);
    assert.deepEqual(info.RepoTags, ["one", "two"]);
    assert.equal(info.Architecture, "amd64");
    assert.equal(info.Os, "linux");
    assert.deepEqual(
      info.Layers,
      other.manifests[0]!.layers.map((l) => l.digest),
    );
    assert.ok(info.Env?.includes("BERTH_TEST_SEED=skopeo-other"), "config read through the registry");
    assert.equal(info.Labels?.["org.opencontainers.image.title"], "berth-test-image");

    const config = await skopeoInspect(ref("interop/inspect:two"), { raw: true, config: true });
    assert.equal(sha256Digest(config), other.manifests[0]!.configDigest);

    // A missing tag is an error, not an empty answer.
    await assert.rejects(skopeoInspect(ref("interop/inspect:nope")), (error: unknown) => {
      assert.ok(error instanceof SkopeoError);
      assert.match(error.stderr, /reading manifest nope in [^:]+:\d+\/interop\/inspect: manifest unknown/);
      return true;
    });
  });

  test("list-tags returns every tag of a repository, sorted", async () => {
    const tags = ["v2", "latest", "v1.0", "alpha", "V3", "1.0", "v10", "v1.0-rc1"];
    for (const [i, tag] of tags.entries()) {
      await skopeoCopy(i % 2 === 0 ? other.ref : single.ref, ref(`interop/tags:${tag}`));
    }
    const listed = await skopeoListTags(ref("interop/tags"));
    assert.deepEqual(listed, sortedBytewise(tags));
    assert.deepEqual(await tagsList(berth!.url, "interop/tags"), sortedBytewise(tags));

    await assert.rejects(skopeoListTags(ref("interop/no-such-repo")), SkopeoError);
  });

  test("delete removes the manifest and every tag on it, leaving the other tags", async () => {
    await skopeoCopy(single.ref, ref("interop/del-keep:v1"));
    await skopeoCopy(single.ref, ref("interop/del:a"));
    await skopeoCopy(single.ref, ref("interop/del:b"));
    await skopeoCopy(other.ref, ref("interop/del:c"));
    assert.deepEqual(await skopeoListTags(ref("interop/del")), ["a", "b", "c"]);

    await skopeoDelete(ref("interop/del:a"));

    assert.deepEqual(await skopeoListTags(ref("interop/del")), ["c"]);
    for (const gone of ["interop/del:a", "interop/del:b", `interop/del@${single.manifestDigest}`]) {
      await assert.rejects(skopeoInspect(ref(gone), { raw: true }), SkopeoError, `${gone} must be gone`);
    }
    const response = await fetch(`${berth!.url}/v2/interop/del/manifests/${single.manifestDigest}`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, "MANIFEST_UNKNOWN");

    // The remaining tag still pulls intact, and other repositories holding the deleted image are untouched.
    await assertRoundTrip(ref("interop/del:c"), other, pullDir("del-c"));
    const stillThere = await skopeoInspect(ref("interop/del-keep:v1"), { raw: true });
    assert.equal(sha256Digest(stillThere), single.manifestDigest);
  });

  test("the same image pushed to a second repository works (mounted or re-uploaded)", async () => {
    await skopeoCopy(single.ref, ref("interop/second:v1"));
    const info = await skopeoInspect(ref("interop/second:v1"));
    assert.equal(info.Digest, single.manifestDigest);
    // Every blob is reachable through the second repository itself.
    for (const digest of single.blobs.slice(1)) {
      const head = await fetch(`${berth!.url}/v2/interop/second/blobs/${digest}`, { method: "HEAD" });
      assert.equal(head.status, 200, `blob ${digest} in interop/second`);
      assert.equal(head.headers.get("docker-content-digest"), digest);
    }
    await assertRoundTrip(ref("interop/second:v1"), single, pullDir("second"));
  });

  test("copy between two repositories of Berth (docker:// to docker://)", async () => {
    await skopeoCopy(single.ref, ref("interop/source/single:v1"));
    await skopeoCopy(multi.ref, ref("interop/source/multi:v1"), { all: true });
    await skopeoCopy(docker.ref, ref("interop/source/docker:v1"), { format: "v2s2" });

    await skopeoCopy(ref("interop/source/single:v1"), ref("interop/copied/single:v1"));
    await skopeoCopy(ref("interop/source/multi:v1"), ref("interop/copied/multi:v1"), { all: true });
    await skopeoCopy(ref("interop/source/docker:v1"), ref("interop/copied/docker:v1"));

    await assertRoundTrip(ref("interop/copied/single:v1"), single, pullDir("copied-single"));
    await assertRoundTrip(ref("interop/copied/multi:v1"), multi, pullDir("copied-multi"));
    const [original, copied] = await Promise.all([
      skopeoInspect(ref("interop/source/docker:v1"), { raw: true }),
      skopeoInspect(ref("interop/copied/docker:v1"), { raw: true }),
    ]);
    assert.equal(copied, original, "the schema2 manifest is copied byte for byte");
    assert.equal((JSON.parse(copied) as ManifestJSON).mediaType, DOCKER_MANIFEST_V2);

    const names = await catalog(berth!.url);
    for (const name of ["interop/copied/docker", "interop/copied/multi", "interop/copied/single", "interop/source/single"]) {
      assert.ok(names.includes(name), `catalog lists ${name}: ${names.join(", ")}`);
    }
    assert.deepEqual(names, sortedBytewise(names), "catalog is sorted");
  });
});
