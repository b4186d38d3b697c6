import assert from "node:assert/strict";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { collectGarbage, type GcReport } from "../../server/gc/collect.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { startDistribution } from "../support/distribution.js";
import { makeImageLayout, type ImageLayout } from "../support/images.js";
import { requireCommands } from "../support/commands.js";
import { skopeoCopy } from "../support/skopeo.js";
import {
  assertPullsIdentical,
  copyStorage,
  deleteManifest,
  difference,
  distributionGarbageCollect,
  pushArtifact,
  pushBlob,
  pushLayout,
  removeDir,
  repositoryLinks,
  sorted,
  startBerth,
  storageBlobs,
  storageFiles,
  storageRevisions,
  tempDir,
  type PushedArtifact,
} from "./harness.js";


/**
 * One storage, filled through Berth's HTTP API by real skopeo pushes and soft deletes, then copied
 * once per collection so Berth's and distribution's garbage collectors each start from the same
 * bytes:
 *
 *   app/web:v1      A1, then A2 pushed over it (A1 stays as an untagged revision)
 *   app/web:old     A3, then deleted by digest (soft delete: its blobs are garbage)
 *   app/web@R       artifact whose subject is A2 (tagged): kept in every mode
 *   app/web@R2      artifact whose subject is A1 (untagged): goes with A1 under --delete-untagged
 *   app/web         one uploaded blob no manifest references
 *   app/multi:latest  two-platform OCI index; its children are untagged (upstream #3178)
 *   shared/one:v1, shared/two:v1  the same image S in two repositories; shared/one's is deleted
 */
describe("mark and sweep against distribution's layout", () => {
  before(() => requireCommands("skopeo", "docker-registry"));
  let scratch: string;
  let pristine: string;
  let A1: ImageLayout;
  let A2: ImageLayout;
  let A3: ImageLayout;
  let M: ImageLayout;
  let S: ImageLayout;
  let R: PushedArtifact;
  let R2: PushedArtifact;
  let orphan: string;
  let sizes: Map<string, number>;
  let revisions: Set<string>;
  const copies: string[] = [];

  const copy = async (label: string) => {
    const dir = join(scratch, label);
    await copyStorage(pristine, dir);
    copies.push(dir);
    return dir;
  };
  const collect = (root: string, options: { deleteUntagged?: boolean; dryRun?: boolean; graceMs?: number } = {}) =>
    collectGarbage({ driver: createDriver("filesystem", { rootdirectory: root }), ...options });
  const deletedBlobs = async (root: string) => difference(sizes.keys(), (await storageBlobs(root)).keys());
  const childrenOf = (index: ImageLayout) => index.manifests.map((m) => m.digest);
  const contentOfChildren = (index: ImageLayout) => index.manifests.flatMap((m) => [m.configDigest, ...m.layers.map((l) => l.digest)]);

  before(async () => {
    scratch = await tempDir("mark-sweep");
    pristine = join(scratch, "pristine");
    const berth = await startBerth(pristine);
    try {
      A1 = await makeImageLayout(join(scratch, "A1"), { seed: "gc-a1", layers: [4096, 1024] });
      A2 = await makeImageLayout(join(scratch, "A2"), { seed: "gc-a2", layers: [2048] });
      A3 = await makeImageLayout(join(scratch, "A3"), { seed: "gc-a3", layers: [3000, 500] });
      M = await makeImageLayout(join(scratch, "M"), {
        seed: "gc-m",
        layers: [1024, 512],
        platforms: [
          { os: "linux", architecture: "amd64" },
          { os: "linux", architecture: "arm64", variant: "v8" },
        ],
      });
      S = await makeImageLayout(join(scratch, "S"), { seed: "gc-s", layers: [1500] });

      await pushLayout(berth.host, A1, "app/web", "v1");
      await pushLayout(berth.host, A2, "app/web", "v1");
      await pushLayout(berth.host, A3, "app/web", "old");
      await deleteManifest(berth.url, "app/web", A3.manifestDigest);
      await pushLayout(berth.host, M, "app/multi", "latest");
      await pushLayout(berth.host, S, "shared/one", "v1");
      await pushLayout(berth.host, S, "shared/two", "v1");
      await deleteManifest(berth.url, "shared/one", S.manifestDigest);
      R = await pushArtifact(berth.url, "app/web", { digest: A2.manifestDigest, size: A2.manifestSize, mediaType: A2.mediaType });
      R2 = await pushArtifact(berth.url, "app/web", { digest: A1.manifestDigest, size: A1.manifestSize, mediaType: A1.mediaType }, { seed: "2" });
      orphan = await pushBlob(berth.url, "app/web", Buffer.from("uploaded, never referenced"));
    } finally {
      await berth.close();
    }
    sizes = await storageBlobs(pristine);
    revisions = await storageRevisions(pristine);
    assert.equal(R.config, R2.config, "both artifacts use the empty config blob");
  });

  after(async () => {
    await removeDir(scratch);
  });

  const garbagePlain = () => new Set([...A3.blobs, orphan]);
  const garbageUntagged = () => new Set([...garbagePlain(), ...A1.blobs, R2.digest, R2.layer]);
  const bytes = (digests: Iterable<string>) => [...digests].reduce((sum, d) => sum + (sizes.get(d) ?? Number.NaN), 0);
  const reportedBlobs = (report: GcReport) => new Set(report.blobsDeleted.map((b) => b.digest));

  let plainReport: GcReport;
  let untaggedReport: GcReport;
  let untaggedRoot: string;

  it("deletes exactly the unreferenced blobs, reports their sizes, and keeps every image pullable", async () => {
    const root = await copy("berth-plain");
    const progress: string[] = [];
    plainReport = await collectGarbage({
      driver: createDriver("filesystem", { rootdirectory: root }),
      onProgress: (p) => progress.push(`${p.phase} ${p.done}/${p.total}`),
    });
    const deleted = await deletedBlobs(root);
    assert.deepEqual(sorted(deleted), sorted(garbagePlain()));
    assert.deepEqual(sorted(reportedBlobs(plainReport)), sorted(garbagePlain()));
    for (const blob of plainReport.blobsDeleted) assert.equal(blob.size, sizes.get(blob.digest));
    assert.equal(plainReport.bytesFreed, bytes(garbagePlain()));
    assert.deepEqual(plainReport.manifestsDeleted, []);
    assert.deepEqual(await storageRevisions(root), revisions, "no revision link is touched without --delete-untagged");
    assert.equal(plainReport.repositories, 4);
    assert.equal(plainReport.blobs, sizes.size);
    assert.equal(plainReport.blobsMarked, sizes.size - garbagePlain().size);
    assert.ok(progress.includes("mark 4/4") && progress.at(-1)?.startsWith("sweep "), progress.join(", "));

    // `_layers` links to swept blobs are gone; links to blobs another repository keeps are not.
    const layers = await repositoryLinks(root, "app/web", /^_layers\//);
    for (const gone of [...A3.blobs.slice(1), orphan]) assert.ok(!layers.some((l) => l.includes(gone.slice(7))), `${gone} link removed`);
    assert.equal(plainReport.linksDeleted.layers, A3.blobs.length - 1 + 1, "A3's config and layers, and the orphan");
    assert.ok((await repositoryLinks(root, "shared/one", /^_layers\//)).length > 0, "shared/one keeps links to blobs shared/two needs");

    const berth = await startBerth(root);
    try {
      await assertPullsIdentical(berth.host, "app/web", "v1", A2, scratch);
      await assertPullsIdentical(berth.host, "app/multi", "latest", M, scratch);
      await assertPullsIdentical(berth.host, "shared/two", "v1", S, scratch);
      for (const artifact of [R, R2]) {
        const res = await fetch(`${berth.url}/v2/app/web/manifests/${artifact.digest}`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), artifact.manifest);
      }
    } finally {
      await berth.close();
    }
    // distribution serves what Berth's collection left.
    const distribution = await startDistribution({ root });
    try {
      await assertPullsIdentical(distribution.host, "app/web", "v1", A2, scratch);
      await assertPullsIdentical(distribution.host, "app/multi", "latest", M, scratch);
      await assertPullsIdentical(distribution.host, "shared/two", "v1", S, scratch);
    } finally {
      await distribution.stop();
    }
  });

  it("dry run deletes nothing and reports the same set", async () => {
    const root = await copy("berth-dry");
    const files = await storageFiles(root);
    const report = await collect(root, { dryRun: true });
    assert.deepEqual(await storageFiles(root), files);
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.blobsDeleted, plainReport.blobsDeleted);
    assert.equal(report.bytesFreed, plainReport.bytesFreed);
    assert.deepEqual(report.linksDeleted, plainReport.linksDeleted);

    const untagged = await collect(root, { dryRun: true, deleteUntagged: true });
    assert.deepEqual(await storageFiles(root), files);
    assert.deepEqual(sorted(reportedBlobs(untagged)), sorted(garbageUntagged()));
  });

  it("deletes the same blobs as distribution's garbage-collect, whose result Berth serves", async () => {
    const root = await copy("distribution-plain");
    await distributionGarbageCollect(root);
    assert.deepEqual(sorted(await deletedBlobs(root)), sorted(reportedBlobs(plainReport)));
    assert.deepEqual(await storageRevisions(root), revisions);
    const berth = await startBerth(root);
    try {
      await assertPullsIdentical(berth.host, "app/web", "v1", A2, scratch);
      await assertPullsIdentical(berth.host, "app/multi", "latest", M, scratch);
      await assertPullsIdentical(berth.host, "shared/two", "v1", S, scratch);
    } finally {
      await berth.close();
    }
  });

  it("--delete-untagged removes untagged manifests but keeps a tagged index's children and referrers of kept manifests", async () => {
    untaggedRoot = await copy("berth-untagged");
    untaggedReport = await collect(untaggedRoot, { deleteUntagged: true });
    assert.deepEqual(
      untaggedReport.manifestsDeleted,
      sorted([A1.manifestDigest, R2.digest]).map((digest) => ({ repository: "app/web", digest })),
    );
    assert.deepEqual(sorted(await deletedBlobs(untaggedRoot)), sorted(garbageUntagged()));
    assert.deepEqual(sorted(reportedBlobs(untaggedReport)), sorted(garbageUntagged()));
    assert.equal(untaggedReport.bytesFreed, bytes(garbageUntagged()));
    assert.deepEqual(
      sorted(difference(revisions, await storageRevisions(untaggedRoot))),
      sorted([`app/web@${A1.manifestDigest}`, `app/web@${R2.digest}`]),
    );
    for (const child of childrenOf(M)) assert.ok((await storageRevisions(untaggedRoot)).has(`app/multi@${child}`), `child ${child} kept`);

    // Tag history and referrers entries of the deleted manifests went with them.
    const hex = (digest: string) => digest.slice("sha256:".length);
    const history = await repositoryLinks(untaggedRoot, "app/web", /^_manifests\/tags\/v1\/index\//);
    assert.deepEqual(history, [`_manifests/tags/v1/index/sha256/${hex(A2.manifestDigest)}/link`]);
    const referrers = await repositoryLinks(untaggedRoot, "app/web", /^_referrers\//);
    assert.deepEqual(referrers, [`_referrers/sha256/${hex(A2.manifestDigest)}/sha256/${hex(R.digest)}/link`]);
    assert.deepEqual(untaggedReport.linksDeleted, { tagHistory: 1, referrers: 1, layers: garbageUntagged().size - 3 });

    const berth = await startBerth(untaggedRoot);
    try {
      await assertPullsIdentical(berth.host, "app/multi", "latest", M, scratch);
      await assertPullsIdentical(berth.host, "app/web", "v1", A2, scratch);
      await assertPullsIdentical(berth.host, "shared/two", "v1", S, scratch);
      const listed = (await (await fetch(`${berth.url}/v2/app/web/referrers/${A2.manifestDigest}`)).json()) as { manifests: { digest: string }[] };
      assert.deepEqual(listed.manifests.map((m) => m.digest), [R.digest]);
      assert.equal((await fetch(`${berth.url}/v2/app/web/manifests/${A1.manifestDigest}`, { method: "HEAD" })).status, 404);
    } finally {
      await berth.close();
    }
    const distribution = await startDistribution({ root: untaggedRoot });
    try {
      await assertPullsIdentical(distribution.host, "app/multi", "latest", M, scratch);
      await assertPullsIdentical(distribution.host, "app/web", "v1", A2, scratch);
    } finally {
      await distribution.stop();
    }
  });

  it("never deletes what distribution --delete-untagged keeps; distribution also deletes a tagged index's children (#3178) and the referrers", async () => {
    assert.ok(untaggedReport, "runs after the --delete-untagged test");
    const root = await copy("distribution-untagged");
    await distributionGarbageCollect(root, { deleteUntagged: true });
    const distributionDeleted = await deletedBlobs(root);
    const berthDeleted = reportedBlobs(untaggedReport);
    assert.deepEqual(sorted(difference(berthDeleted, distributionDeleted)), [], "Berth deleted nothing distribution keeps");
    // Exactly what Berth keeps on purpose: the children's configs and layers (#3178), and the
    // artifact whose subject is tagged, with its empty config and layer.
    assert.deepEqual(sorted(difference(distributionDeleted, berthDeleted)), sorted([...contentOfChildren(M), R.digest, R.config, R.layer]));

    const distributionRevisions = difference(revisions, await storageRevisions(root));
    const berthRevisions = new Set(untaggedReport.manifestsDeleted.map((m) => `${m.repository}@${m.digest}`));
    assert.deepEqual(sorted(difference(berthRevisions, distributionRevisions)), []);
    assert.deepEqual(sorted(difference(distributionRevisions, berthRevisions)), sorted([...childrenOf(M).map((d) => `app/multi@${d}`), `app/web@${R.digest}`]));

    // The regression itself: after distribution's collection the index no longer pulls.
    const berth = await startBerth(root);
    try {
      await assert.rejects(skopeoCopy(`docker://${berth.host}/app/multi:latest`, `oci:${join(scratch, "broken")}:x`, { all: true }));
      await assertPullsIdentical(berth.host, "app/web", "v1", A2, scratch);
    } finally {
      await berth.close();
    }
  });

  it("keeps unreferenced blobs and revisions younger than the grace period", async () => {
    const root = await copy("berth-grace");
    const hour = 60 * 60_000;
    const inGrace = await collect(root, { graceMs: hour, deleteUntagged: true });
    assert.deepEqual(inGrace.blobsDeleted, [], "everything was written minutes ago");
    assert.deepEqual(inGrace.manifestsDeleted, [], "recent revisions count as roots");
    assert.equal(inGrace.blobsInGrace, garbagePlain().size);

    // Age every garbage blob but the orphan: only the orphan is still protected.
    const old = new Date(Date.now() - 2 * hour);
    for (const digest of garbagePlain()) {
      if (digest === orphan) continue;
      const hex = digest.slice(7);
      await utimes(join(root, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"), old, old);
    }
    const report = await collect(root, { graceMs: hour });
    assert.deepEqual(sorted(reportedBlobs(report)), sorted(difference(garbagePlain(), [orphan])));
    assert.equal(report.blobsInGrace, 1);
    assert.ok((await storageBlobs(root)).has(orphan));
  });

  it("a second collection finds nothing left to delete", async () => {
    assert.ok(untaggedRoot);
    const again = await collect(untaggedRoot, { deleteUntagged: true });
    assert.deepEqual(again.blobsDeleted, []);
    assert.deepEqual(again.manifestsDeleted, []);
    assert.deepEqual(again.linksDeleted, { tagHistory: 0, referrers: 0, layers: 0 });
    assert.deepEqual(again.warnings, []);
  });
});
