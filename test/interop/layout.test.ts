/**
 * Storage-level interchange with the reference implementation: a filesystem root written by
 * Berth is served by Docker's registry (distribution 2.8) and the reverse, and upload sessions
 * live in storage, so they survive a restart of Berth.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { makeImageLayout, sha256Digest, TWO_PLATFORMS, type ImageLayout } from "../support/images.js";
import { requireCommands } from "../support/commands.js";
import { skopeoCopy, skopeoInspect, skopeoListTags } from "../support/skopeo.js";
import { removeDir, tempDir } from "../support/files.js";
import {
  assertBlobsIdentical,
  assertRoundTrip,
  catalog,
  DOCKER_MANIFEST_V2,
  pullToLayout,
  sortedBytewise,
  startBerth,
  tagsList,
  type BerthServer,
  type ManifestJSON,
} from "./harness.js";

const LINK = /^sha256:[0-9a-f]{64}$/;

interface Images {
  single: ImageLayout;
  multi: ImageLayout;
  docker: ImageLayout;
}

/** The three kinds of image every direction exercises, each in its own OCI layout. */
async function makeImages(dir: string, seed: string): Promise<Images> {
  const [single, multi, docker] = await Promise.all([
    makeImageLayout(join(dir, "single"), { tag: "v1", layers: [400_000, 3_000], seed: `${seed}-single` }),
    makeImageLayout(join(dir, "multi"), { tag: "v1", layers: [150_000, 700], seed: `${seed}-multi`, platforms: TWO_PLATFORMS }),
    makeImageLayout(join(dir, "docker"), { tag: "v1", layers: [200_000], seed: `${seed}-docker` }),
  ]);
  return { single, multi, docker };
}

interface Pushed {
  /** Raw schema2 manifest as the writing registry served it. */
  dockerRaw: string;
  catalog: string[];
  tags: Record<string, string[]>;
}

/** Pushes the images under `prefix/` of the registry at `host`, then records what it lists. */
async function pushImages(host: string, url: string, prefix: string, images: Images): Promise<Pushed> {
  await skopeoCopy(images.single.ref, `docker://${host}/${prefix}/single:v1`);
  await skopeoCopy(images.single.ref, `docker://${host}/${prefix}/single:latest`);
  await skopeoCopy(images.multi.ref, `docker://${host}/${prefix}/multi:v1`, { all: true });
  await skopeoCopy(images.docker.ref, `docker://${host}/${prefix}/nested/docker:v2s2`, { format: "v2s2" });
  const dockerRaw = await skopeoInspect(`docker://${host}/${prefix}/nested/docker:v2s2`, { raw: true });
  assert.equal((JSON.parse(dockerRaw) as ManifestJSON).mediaType, DOCKER_MANIFEST_V2);
  const names = await catalog(url);
  assert.deepEqual(await catalog(url, 2), names, "two repositories per page");
  const tags: Record<string, string[]> = {};
  for (const name of names) tags[name] = await tagsList(url, name);
  return { dockerRaw, catalog: names, tags };
}

/** Pulls every pushed image from `host` and checks digests and blob bytes against the sources. */
async function assertImagesServed(host: string, prefix: string, images: Images, pushed: Pushed, pullRoot: string): Promise<void> {
  await assertRoundTrip(`docker://${host}/${prefix}/single:v1`, images.single, join(pullRoot, "single-v1"));
  await assertRoundTrip(`docker://${host}/${prefix}/single:latest`, images.single, join(pullRoot, "single-latest"));
  await assertRoundTrip(`docker://${host}/${prefix}/multi:v1`, images.multi, join(pullRoot, "multi"));

  const dockerRef = `docker://${host}/${prefix}/nested/docker:v2s2`;
  const raw = await skopeoInspect(dockerRef, { raw: true });
  assert.equal(raw, pushed.dockerRaw, "schema2 manifest bytes");
  const dockerDigest = sha256Digest(raw);
  assert.equal((await skopeoInspect(dockerRef)).Digest, dockerDigest);
  const source = images.docker.manifests[0]!;
  const pulled = await pullToLayout(dockerRef, join(pullRoot, "docker"));
  assert.deepEqual(
    pulled.manifest.layers?.map((l) => l.digest),
    source.layers.map((l) => l.digest),
  );
  await assertBlobsIdentical(images.docker.dir, pulled.dir, source.layers.map((l) => l.digest));
  const config = await skopeoInspect(dockerRef, { raw: true, config: true });
  assert.equal(sha256Digest(config), source.configDigest, "schema2 config blob bytes");
}

async function readLink(root: string, path: string): Promise<string> {
  return readFile(join(root, "docker/registry/v2/repositories", path), "utf8");
}

describe("Berth writes, distribution reads", () => {
  before(() => requireCommands("skopeo", "docker-registry"));
  let work: string;
  let root: string;
  let images: Images;
  let pushed: Pushed;
  let berth: BerthServer | undefined;
  let distribution: DistributionRegistry | undefined;

  before(async () => {
    work = await tempDir("b2d");
    root = join(work, "root");
    [berth, images] = await Promise.all([startBerth(root), makeImages(join(work, "images"), "b2d")]);
    pushed = await pushImages(berth.host, berth.url, "b2d", images);
    await berth.close();
    distribution = await startDistribution({ root });
  });
  after(async () => {
    await berth?.close();
    await distribution?.stop();
    await removeDir(work);
  });

  test("Berth listed what it was sent", () => {
    assert.deepEqual(pushed.catalog, ["b2d/multi", "b2d/nested/docker", "b2d/single"]);
    assert.deepEqual(pushed.tags, { "b2d/multi": ["v1"], "b2d/nested/docker": ["v2s2"], "b2d/single": ["latest", "v1"] });
  });

  test("link files are bare digests, without a trailing newline", async () => {
    const { single, multi } = images;
    const hex = (digest: string): string => digest.slice("sha256:".length);
    const links: [string, string][] = [
      ["b2d/single/_manifests/tags/v1/current/link", single.manifestDigest],
      ["b2d/single/_manifests/tags/latest/current/link", single.manifestDigest],
      [`b2d/single/_manifests/tags/v1/index/sha256/${hex(single.manifestDigest)}/link`, single.manifestDigest],
      [`b2d/single/_manifests/revisions/sha256/${hex(single.manifestDigest)}/link`, single.manifestDigest],
      ...single.blobs.slice(1).map((d): [string, string] => [`b2d/single/_layers/sha256/${hex(d)}/link`, d]),
      ["b2d/multi/_manifests/tags/v1/current/link", multi.manifestDigest],
      ...multi.manifests.map((m): [string, string] => [`b2d/multi/_manifests/revisions/sha256/${hex(m.digest)}/link`, m.digest]),
    ];
    for (const [path, digest] of links) {
      const content = await readLink(root, path);
      assert.match(content, LINK, `${path}: ${JSON.stringify(content)}`);
      assert.equal(content, digest, path);
    }
    // Blob data sits where distribution looks for it, as the exact bytes.
    for (const digest of single.blobs) {
      const data = await readFile(join(root, "docker/registry/v2/blobs/sha256", hex(digest).slice(0, 2), hex(digest), "data"));
      assert.equal(sha256Digest(data), digest);
    }
  });

  test("distribution serves every image with the same digests and identical blobs", async () => {
    await assertImagesServed(distribution!.host, "b2d", images, pushed, join(work, "pulled"));
  });

  test("distribution lists the same repositories and tags Berth listed", async () => {
    assert.deepEqual(await catalog(distribution!.url), pushed.catalog);
    assert.deepEqual(await catalog(distribution!.url, 1), pushed.catalog, "one repository per page");
    for (const [name, tags] of Object.entries(pushed.tags)) {
      assert.deepEqual(sortedBytewise(await tagsList(distribution!.url, name)), tags, name);
    }
  });
});

describe("distribution writes, Berth reads", () => {
  before(() => requireCommands("skopeo", "docker-registry"));
  let work: string;
  let root: string;
  let images: Images;
  let extra: ImageLayout;
  let pushed: Pushed;
  let berth: BerthServer | undefined;
  let distribution: DistributionRegistry | undefined;

  before(async () => {
    work = await tempDir("d2b");
    root = join(work, "root");
    let first: DistributionRegistry;
    [first, images, extra] = await Promise.all([
      startDistribution({ root }),
      makeImages(join(work, "images"), "d2b"),
      makeImageLayout(join(work, "images", "extra"), { tag: "v2", layers: [100_000, 10], seed: "d2b-extra" }),
    ]);
    distribution = first;
    pushed = await pushImages(first.host, first.url, "d2b", images);
    await first.stop();
    distribution = undefined;
    berth = await startBerth(root);
  });
  after(async () => {
    await berth?.close();
    await distribution?.stop();
    await removeDir(work);
  });

  test("distribution listed what it was sent", () => {
    assert.deepEqual(pushed.catalog, ["d2b/multi", "d2b/nested/docker", "d2b/single"]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(pushed.tags).map(([name, tags]) => [name, sortedBytewise(tags)])),
      { "d2b/multi": ["v1"], "d2b/nested/docker": ["v2s2"], "d2b/single": ["latest", "v1"] },
    );
  });

  test("Berth serves every image with the same digests and identical blobs", async () => {
    await assertImagesServed(berth!.host, "d2b", images, pushed, join(work, "pulled-berth"));
  });

  test("Berth lists the same repositories and tags distribution listed", async () => {
    assert.deepEqual(await catalog(berth!.url), pushed.catalog);
    assert.deepEqual(await catalog(berth!.url, 1), pushed.catalog, "one repository per page");
    for (const [name, tags] of Object.entries(pushed.tags)) {
      assert.deepEqual(await tagsList(berth!.url, name), sortedBytewise(tags), name);
    }
  });

  test("Berth adds a tag to distribution's repository, and distribution serves it after a restart", async () => {
    const host = berth!.host;
    await skopeoCopy(extra.ref, `docker://${host}/d2b/single:v2`);
    await skopeoCopy(images.multi.ref, `docker://${host}/d2b/multi:again`, { all: true });
    assert.deepEqual(await skopeoListTags(`docker://${host}/d2b/single`), ["latest", "v1", "v2"]);
    await berth!.close();
    berth = undefined;

    distribution = await startDistribution({ root });
    const dist = distribution.host;
    assert.deepEqual(sortedBytewise(await tagsList(distribution.url, "d2b/single")), ["latest", "v1", "v2"]);
    assert.deepEqual(sortedBytewise(await tagsList(distribution.url, "d2b/multi")), ["again", "v1"]);
    await assertRoundTrip(`docker://${dist}/d2b/single:v2`, extra, join(work, "pulled-dist", "extra"));
    await assertRoundTrip(`docker://${dist}/d2b/multi:again`, images.multi, join(work, "pulled-dist", "multi-again"));
    // What was there before is still intact.
    await assertRoundTrip(`docker://${dist}/d2b/single:v1`, images.single, join(work, "pulled-dist", "single"));
    assert.deepEqual(await catalog(distribution.url), pushed.catalog);
  });
});

describe("upload sessions survive a restart of Berth", () => {
  let work: string;
  let berth: BerthServer | undefined;

  before(async () => {
    work = await tempDir("restart");
  });
  after(async () => {
    await berth?.close();
    await removeDir(work);
  });

  test("chunk, restart on the same root and secret, chunk, finish: the blob is complete", async () => {
    const root = join(work, "root");
    const secret = "interop-restart-secret";
    const first = randomBytes(300 * 1024);
    const second = randomBytes(200 * 1024 + 17);
    const content = Buffer.concat([first, second]);
    const digest = sha256Digest(content);
    const name = "restart/blob";

    berth = await startBerth(root, { secret });
    const port = Number(new URL(berth.url).port);
    const started = await fetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: "POST" });
    assert.equal(started.status, 202);
    const uuid = started.headers.get("docker-upload-uuid");
    assert.ok(uuid, "Docker-Upload-UUID");
    const afterPost = started.headers.get("location");
    assert.ok(afterPost, "POST answers with a Location");

    const patched = await fetch(new URL(afterPost, berth.url), {
      method: "PATCH",
      headers: { "content-type": "application/octet-stream", "content-range": `0-${first.length - 1}` },
      body: first,
    });
    assert.equal(patched.status, 202, await patched.text());
    assert.equal(patched.headers.get("range"), `0-${first.length - 1}`);
    const afterFirst = patched.headers.get("location");
    assert.ok(afterFirst, "PATCH answers with a Location");

    await berth.close();
    berth = undefined;
    // The upload lives in storage, in distribution's layout.
    const uploadDir = join(root, "docker/registry/v2/repositories", name, "_uploads", uuid);
    assert.equal((await stat(join(uploadDir, "data"))).size, first.length);

    berth = await startBerth(root, { secret, port });
    const status = await fetch(new URL(afterFirst, berth.url));
    assert.equal(status.status, 204, "the new instance knows the upload");
    assert.equal(status.headers.get("range"), `0-${first.length - 1}`);

    const resumed = await fetch(new URL(afterFirst, berth.url), {
      method: "PATCH",
      headers: { "content-type": "application/octet-stream", "content-range": `${first.length}-${content.length - 1}` },
      body: second,
    });
    assert.equal(resumed.status, 202, await resumed.text());
    assert.equal(resumed.headers.get("range"), `0-${content.length - 1}`);
    const afterSecond = resumed.headers.get("location");
    assert.ok(afterSecond);

    const finishUrl = new URL(afterSecond, berth.url);
    finishUrl.searchParams.set("digest", digest);
    const finished = await fetch(finishUrl, { method: "PUT" });
    assert.equal(finished.status, 201, await finished.text());
    assert.equal(finished.headers.get("docker-content-digest"), digest);

    const blob = await fetch(`${berth.url}/v2/${name}/blobs/${digest}`);
    assert.equal(blob.status, 200);
    assert.equal(Number(blob.headers.get("content-length")), content.length);
    const body = Buffer.from(await blob.arrayBuffer());
    assert.equal(body.length, content.length);
    assert.ok(body.equals(content), "blob content is both chunks in order");
    await assert.rejects(stat(uploadDir), { code: "ENOENT" }, "finished upload is cleaned up");
  });
});
