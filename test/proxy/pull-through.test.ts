/**
 * The pull-through cache end to end: a real upstream (Debian's docker-registry, i.e.
 * distribution), images pushed into it with skopeo, pulled through Berth with skopeo and by
 * hand, with the upstream stopped, its tags moved, and its bytes corrupted on the way.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { collectGarbage } from "../../server/gc/collect.js";
import { assertPullsIdentical, pushLayout, putManifest, removeDir, sha256File, storageBlobs, storageRevisions, tempDir } from "../gc/harness.js";
import { requireCommands } from "../support/commands.js";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { makeImageLayout, OCI_MANIFEST, type ImageLayout } from "../support/images.js";
import { curlSha256, patternFile, recordingHop, startProxyBerth, uploadBlob, uploadFile, type RecordingHop } from "./harness.js";
import type { TestRegistry } from "../support/server.js";

requireCommands("docker-registry", "skopeo", "curl");

const ACCEPT = [OCI_MANIFEST, "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"].join(", ");

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json().catch(() => undefined)) as { errors?: { code: string }[] } | undefined;
  return body?.errors?.[0]?.code;
}

describe("pull-through cache (distribution's proxy section)", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let hop: RecordingHop;
  let berth: TestRegistry;
  let single: ImageLayout;
  let multi: ImageLayout;

  before(async () => {
    scratch = await tempDir("proxy");
    upstream = await startDistribution();
    hop = await recordingHop(upstream.url);
    single = await makeImageLayout(`${scratch}/single`, { layers: [4096, 300_000], seed: "single" });
    multi = await makeImageLayout(`${scratch}/multi`, {
      seed: "multi",
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
    });
    await pushLayout(upstream.host, single, "library/app", "1.0");
    await pushLayout(upstream.host, multi, "library/multi", "latest");
    berth = await startProxyBerth(`${scratch}/berth`, { proxy: { remoteurl: hop.url } });
  });

  after(async () => {
    await berth?.close();
    await hop?.close();
    await upstream?.stop();
    await removeDir(scratch);
  });

  it("pulls single and multi-platform images byte-exact, and stores what it served", async () => {
    await assertPullsIdentical(berth.host, "library/app", "1.0", single, scratch);
    await assertPullsIdentical(berth.host, "library/multi", "latest", multi, scratch);
    const stored = await storageBlobs(`${scratch}/berth`);
    for (const digest of [...single.blobs, ...multi.blobs]) assert.ok(stored.has(digest), `${digest} is stored locally`);
    const revisions = await storageRevisions(`${scratch}/berth`);
    assert.ok(revisions.has(`library/app@${single.manifestDigest}`));
    assert.ok(revisions.has(`library/multi@${multi.manifestDigest}`));
  });

  it("serves a second pull from the cache: the upstream sees tag HEADs only", async () => {
    hop.requests.length = 0;
    await assertPullsIdentical(berth.host, "library/app", "1.0", single, scratch);
    const gets = hop.requests.filter((r) => r.method === "GET" && r.path !== "/v2/");
    assert.deepEqual(gets, [], "no manifest or blob fetched again");
    assert.ok(hop.requests.some((r) => r.method === "HEAD" && r.path === "/v2/library/app/manifests/1.0"), "the tag was checked upstream");
  });

  it("refuses pushes and deletes with 405 UNSUPPORTED", async () => {
    const attempts = [
      fetch(`${berth.url}/v2/library/app/blobs/uploads/`, { method: "POST" }),
      putManifest(berth.url, "library/app", "2.0", Buffer.from("{}"), OCI_MANIFEST),
      fetch(`${berth.url}/v2/library/app/manifests/${single.manifestDigest}`, { method: "DELETE" }),
      fetch(`${berth.url}/v2/library/app/blobs/${single.blobs[1]}`, { method: "DELETE" }),
    ];
    for (const res of await Promise.all(attempts)) {
      assert.equal(res.status, 405);
      assert.equal(await errorCode(res), "UNSUPPORTED");
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    }
  });

  it("follows a tag moved upstream", async () => {
    const moved = await makeImageLayout(`${scratch}/moved`, { seed: "moved", layers: [2048] });
    await pushLayout(upstream.host, moved, "library/app", "1.0");
    await assertPullsIdentical(berth.host, "library/app", "1.0", moved, scratch);
    const byDigest = await fetch(`${berth.url}/v2/library/app/manifests/${single.manifestDigest}`, { headers: { Accept: ACCEPT } });
    assert.equal(byDigest.status, 200, "the old manifest stays cached by digest");
    await byDigest.arrayBuffer();
  });

  it("gives 20 concurrent pulls of one uncached 1 GiB blob one upstream fetch, each with the verified bytes", async () => {
    const { path, digest } = await patternFile(`${scratch}/big`, 1024 * 1024 * 1024);
    await uploadFile(upstream.url, "library/big", path, digest);
    await rm(path);
    // curl processes, not fetch: 20 GiB through one Node process would measure the test, not Berth.
    const pulls = await Promise.all(Array.from({ length: 20 }, () => curlSha256(`${berth.url}/v2/library/big/blobs/${digest}`)));
    assert.deepEqual(new Set(pulls), new Set([digest]));
    assert.equal(hop.blobFetches(digest), 1);
  });

  it("two instances on one root filling the same blob at once: at most one fetch each, one verified blob stored", async () => {
    const second = await startProxyBerth(`${scratch}/berth`, { proxy: { remoteurl: hop.url } });
    try {
      const { path, digest } = await patternFile(`${scratch}/shared`, 32 * 1024 * 1024);
      await uploadFile(upstream.url, "library/shared", path, digest);
      await rm(path);
      const urls = [berth, second].map((b) => `${b.url}/v2/library/shared/blobs/${digest}`);
      const pulls = await Promise.all(Array.from({ length: 10 }, (_, i) => curlSha256(urls[i % 2] as string)));
      assert.deepEqual(new Set(pulls), new Set([digest]));
      assert.ok(hop.blobFetches(digest) >= 1 && hop.blobFetches(digest) <= 2, `${hop.blobFetches(digest)} upstream fetches`);
      const hex = digest.slice("sha256:".length);
      assert.equal(await sha256File(`${scratch}/berth/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`), digest, "the stored blob hashes to its name");
      assert.equal(await curlSha256(urls[1] as string), digest, "served from the shared root afterwards");
    } finally {
      await second.close();
    }
  });

  it("never completes a response whose bytes do not match, and stores nothing of them", async () => {
    const bytes = Buffer.from("a blob the upstream will garble on the way ".repeat(5000));
    const digest = sha256(bytes);
    await uploadBlob(upstream.url, "library/garbled", bytes, digest);
    hop.corruptBlobs(true);
    try {
      const res = await fetch(`${berth.url}/v2/library/garbled/blobs/${digest}`);
      await assert.rejects(res.arrayBuffer(), "the body ends short of its length");
    } finally {
      hop.corruptBlobs(false);
    }
    assert.equal((await storageBlobs(`${scratch}/berth`)).has(digest), false);
    const retry = await fetch(`${berth.url}/v2/library/garbled/blobs/${digest}`);
    assert.equal(retry.status, 200);
    assert.equal(sha256(Buffer.from(await retry.arrayBuffer())), digest);
  });

  it("answers HEAD of an uncached blob from the upstream without storing it", async () => {
    const bytes = Buffer.from("only asked about");
    const digest = sha256(bytes);
    await uploadBlob(upstream.url, "library/headonly", bytes, digest);
    const res = await fetch(`${berth.url}/v2/library/headonly/blobs/${digest}`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    assert.equal((await storageBlobs(`${scratch}/berth`)).has(digest), false);
  });

  it("expires what was not pulled within the ttl; the next collection frees its blobs; a pull fetches it again", async () => {
    const proxy = berth.registry.services.proxy!;
    const week = 7 * 24 * 3_600_000;
    const removed = await proxy.expire(Date.now() + week + 60_000);
    assert.ok(removed.some((r) => r.repository === "library/app" && r.digest === single.manifestDigest));
    const report = await collectGarbage({ driver: berth.driver });
    const freed = new Set(report.blobsDeleted.map(({ digest }) => digest));
    for (const digest of single.blobs) assert.ok(freed.has(digest), `${digest} freed`);
    hop.requests.length = 0;
    const res = await fetch(`${berth.url}/v2/library/app/manifests/${single.manifestDigest}`, { headers: { Accept: ACCEPT } });
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), single.manifestDigest);
    assert.ok(hop.requests.some((r) => r.method === "GET" && r.path.endsWith(`/manifests/${single.manifestDigest}`)));
  });

  it("lists the upstream's tags, pulled or not", async () => {
    await pushLayout(upstream.host, single, "library/app", "never-pulled");
    const res = await fetch(`${berth.url}/v2/library/app/tags/list`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, ["1.0", "never-pulled"]);
  });

  it("serves what is cached when the upstream is gone; what is not cached is 503 UNAVAILABLE", async () => {
    await assertPullsIdentical(berth.host, "library/multi", "latest", multi, scratch);
    await hop.close();
    await assertPullsIdentical(berth.host, "library/multi", "latest", multi, scratch);
    const byDigest = await fetch(`${berth.url}/v2/library/multi/manifests/${multi.manifestDigest}`, { headers: { Accept: ACCEPT } });
    assert.equal(byDigest.status, 200);
    await byDigest.arrayBuffer();
    const tags = await fetch(`${berth.url}/v2/library/multi/tags/list`);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ["latest"], "the cached tags");
    const uncached = await fetch(`${berth.url}/v2/library/other/manifests/latest`, { headers: { Accept: ACCEPT } });
    assert.equal(uncached.status, 503);
    assert.equal(await errorCode(uncached), "UNAVAILABLE");
  });
});

describe("mirrors by namespace, next to pushable repositories", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let berth: TestRegistry;

  before(async () => {
    scratch = await tempDir("mirrors");
    upstream = await startDistribution();
    berth = await startProxyBerth(`${scratch}/berth`, { mirrors: [{ prefix: "hub", remoteurl: upstream.url }] });
  });

  after(async () => {
    await berth?.close();
    await upstream?.stop();
    await removeDir(scratch);
  });

  it("serves hub/<name> from the upstream's <name>, takes pushes elsewhere, refuses them under hub/", async () => {
    const image = await makeImageLayout(`${scratch}/image`, { seed: "mirror" });
    await pushLayout(upstream.host, image, "tools/jq", "1.7");
    await assertPullsIdentical(berth.host, "hub/tools/jq", "1.7", image, scratch);
    await pushLayout(berth.host, image, "team/jq", "mine");
    await assertPullsIdentical(berth.host, "team/jq", "mine", image, scratch);
    const refused = await fetch(`${berth.url}/v2/hub/tools/jq/blobs/uploads/`, { method: "POST" });
    assert.equal(refused.status, 405);
    assert.equal(await errorCode(refused), "UNSUPPORTED");
    const unknown = await fetch(`${berth.url}/v2/hub/tools/none/manifests/1`, { headers: { Accept: ACCEPT } });
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), "MANIFEST_UNKNOWN");
  });
});
