import assert from "node:assert/strict";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CleanupConflictError, createCleanupService, type CleanupRule, type CleanupService } from "../../server/gc/cleanup.js";
import { collectGarbage } from "../../server/gc/collect.js";
import { RegistryError } from "../../server/registry/errors.js";
import {
  OCI_MANIFEST,
  pushArtifact,
  pushImage,
  pushIndex,
  putManifest,
  removeDir,
  sorted,
  startBerth,
  storageBlobs,
  storageRevisions,
  tempDir,
  type GcBerth,
  type PushedArtifact,
  type PushedImage,
} from "./harness.js";

const day = 24 * 60 * 60 * 1000;

describe("soft delete and untag", () => {
  let root: string;
  let berth: GcBerth;
  let cleanup: CleanupService;

  before(async () => {
    root = await tempDir("softdelete");
    berth = await startBerth(root);
    cleanup = createCleanupService({
      driver: berth.driver,
      manifests: berth.registry.services.manifests,
      tags: berth.registry.services.tags,
      deleteEnabled: berth.registry.services.deleteEnabled,
      readOnly: berth.readOnly,
      writes: berth.writes,
    });
  });
  after(async () => {
    await berth.close();
    await removeDir(root);
  });

  const tag = async (repository: string, name: string, image: PushedImage) => {
    const res = await putManifest(berth.url, repository, name, image.manifest, OCI_MANIFEST);
    await res.arrayBuffer();
    assert.equal(res.status, 201);
  };
  const tags = async (repository: string) => ((await (await fetch(`${berth.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] }).tags;

  it("softDelete removes the manifest and every tag on it, and says which", async () => {
    const image = await pushImage(berth.url, "sd/app", "v1");
    await tag("sd/app", "latest", image);
    const other = await pushImage(berth.url, "sd/app", "v2");
    const result = await cleanup.softDelete({ repository: "sd/app", digest: image.digest });
    assert.deepEqual(result, { repository: "sd/app", digest: image.digest, sharedTags: ["latest", "v1"] });
    assert.equal((await fetch(`${berth.url}/v2/sd/app/manifests/${image.digest}`, { method: "HEAD" })).status, 404);
    assert.deepEqual(await tags("sd/app"), ["v2"]);
    assert.equal((await fetch(`${berth.url}/v2/sd/app/manifests/${other.digest}`, { method: "HEAD" })).status, 200);
    await assert.rejects(cleanup.softDelete({ repository: "sd/app", digest: image.digest }), (e: unknown) => e instanceof RegistryError && e.code === "MANIFEST_UNKNOWN");
    await assert.rejects(cleanup.softDelete({ repository: "SD/App", digest: image.digest }), (e: unknown) => e instanceof RegistryError && e.code === "NAME_INVALID");
    await assert.rejects(cleanup.softDelete({ repository: "sd/app", digest: "sha256:nope" }), (e: unknown) => e instanceof RegistryError && e.code === "DIGEST_INVALID");
  });

  it("softDelete refuses to break an index unless forced", async () => {
    const child = await pushImage(berth.url, "sd/multi", undefined);
    const index = await pushIndex(berth.url, "sd/multi", "latest", [child]);
    await assert.rejects(cleanup.softDelete({ repository: "sd/multi", digest: child.digest }), (e: unknown) => e instanceof CleanupConflictError && e.message.includes(index.digest));
    assert.equal((await fetch(`${berth.url}/v2/sd/multi/manifests/${child.digest}`, { method: "HEAD" })).status, 200);
    await cleanup.softDelete({ repository: "sd/multi", digest: child.digest, force: true });
    assert.equal((await fetch(`${berth.url}/v2/sd/multi/manifests/${child.digest}`, { method: "HEAD" })).status, 404);
  });

  it("untag keeps the manifest while other tags point at it", async () => {
    const image = await pushImage(berth.url, "ut/app", "a");
    await tag("ut/app", "b", image);
    assert.deepEqual(await cleanup.untag({ repository: "ut/app", tag: "a" }), { repository: "ut/app", tag: "a", digest: image.digest, sharedTags: ["b"], untagged: false });
    assert.deepEqual(await cleanup.untag({ repository: "ut/app", tag: "b" }), { repository: "ut/app", tag: "b", digest: image.digest, sharedTags: [], untagged: true });
    assert.equal((await fetch(`${berth.url}/v2/ut/app/manifests/${image.digest}`, { method: "HEAD" })).status, 200, "untagged, not deleted");
    await assert.rejects(cleanup.untag({ repository: "ut/app", tag: "a" }), (e: unknown) => e instanceof RegistryError && e.code === "MANIFEST_UNKNOWN");
  });

  it("refuses to change anything while read-only", async () => {
    const image = await pushImage(berth.url, "ro/app", "v1");
    await berth.readOnly.set(true, { owner: "test" });
    try {
      await assert.rejects(cleanup.untag({ repository: "ro/app", tag: "v1" }), /read-only/);
      await assert.rejects(cleanup.softDelete({ repository: "ro/app", digest: image.digest }), /read-only/);
      await assert.rejects(cleanup.applyCleanup([{ repository: "**", keepLast: 0 }]), /read-only/);
    } finally {
      await berth.readOnly.set(false);
    }
    assert.deepEqual(await tags("ro/app"), ["v1"]);
    assert.equal(berth.writes.inFlight, 0);
  });
});

/**
 * ci/app      t1..t5 and release-1, pushed days apart; every image shares one base layer
 * ci/lib      old and stable on one manifest, newer and newest on others
 * ci/multi    nightly-1 (an index, 30 days old) whose child c1 only it uses and whose child c2
 *             nightly-2 also uses; an untagged signature on nightly-1; nightly-3 a plain image
 * other/app   matched by no rule
 */
describe("cleanup rules", () => {
  let root: string;
  let berth: GcBerth;
  let cleanup: CleanupService;
  let base: { digest: string; size: number };
  const images: Record<string, PushedImage> = {};
  let signature: PushedArtifact;
  let index1: PushedImage;
  let index2: PushedImage;
  let c1: PushedImage;
  let c2: PushedImage;
  let c3: PushedImage;

  const rules: CleanupRule[] = [
    { repository: "ci/*", keepLast: 2, keepTags: "^release-", olderThanDays: 10 },
    { repository: "ci/lib", keepTags: "^stable$" },
  ];

  const pushedDaysAgo = async (repository: string, tag: string, days: number) => {
    const when = new Date(Date.now() - days * day);
    await utimes(join(root, "docker/registry/v2/repositories", repository, "_manifests/tags", tag, "current/link"), when, when);
  };

  before(async () => {
    root = await tempDir("cleanup");
    berth = await startBerth(root);
    cleanup = createCleanupService({
      driver: berth.driver,
      manifests: berth.registry.services.manifests,
      tags: berth.registry.services.tags,
      deleteEnabled: berth.registry.services.deleteEnabled,
    });
    const first = await pushImage(berth.url, "ci/app", "t1", { layers: [700, 300] });
    base = { digest: first.layers[0]!, size: 700 };
    images.t1 = first;
    const ages: [string, number][] = [["t1", 40], ["t2", 30], ["t3", 20], ["t4", 2], ["t5", 1], ["release-1", 100]];
    for (const [tag] of ages.slice(1)) images[tag] = await pushImage(berth.url, "ci/app", tag, { layers: [400], reuse: [base] });
    for (const [tag, days] of ages) await pushedDaysAgo("ci/app", tag, days);

    images.lib = await pushImage(berth.url, "ci/lib", "old", { layers: [100] });
    await (await putManifest(berth.url, "ci/lib", "stable", images.lib.manifest, OCI_MANIFEST)).arrayBuffer();
    images.newer = await pushImage(berth.url, "ci/lib", "newer");
    images.newest = await pushImage(berth.url, "ci/lib", "newest");
    for (const [tag, days] of [["old", 50], ["stable", 50], ["newer", 1], ["newest", 0.5]] as const) await pushedDaysAgo("ci/lib", tag, days);

    c1 = await pushImage(berth.url, "ci/multi", undefined, { layers: [900], reuse: [] });
    c2 = await pushImage(berth.url, "ci/multi", undefined, { layers: [800] });
    c3 = await pushImage(berth.url, "ci/multi", undefined, { layers: [600] });
    index1 = await pushIndex(berth.url, "ci/multi", "nightly-1", [c1, c2]);
    index2 = await pushIndex(berth.url, "ci/multi", "nightly-2", [c2, c3]);
    images.nightly3 = await pushImage(berth.url, "ci/multi", "nightly-3");
    signature = await pushArtifact(berth.url, "ci/multi", { digest: index1.digest, size: index1.size, mediaType: "application/vnd.oci.image.index.v1+json" });
    for (const [tag, days] of [["nightly-1", 30], ["nightly-2", 1], ["nightly-3", 0]] as const) await pushedDaysAgo("ci/multi", tag, days);

    images.other = await pushImage(berth.url, "other/app", "ancient");
    await pushedDaysAgo("other/app", "ancient", 1000);
  });
  after(async () => {
    await berth.close();
    await removeDir(root);
  });

  it("validates rules", async () => {
    await assert.rejects(cleanup.previewCleanup([{ repository: "ci/*" }]), /a rule needs keepLast, keepTags or olderThanDays/);
    await assert.rejects(cleanup.previewCleanup([{ repository: "ci/*", keepTags: "([" }]), /invalid regular expression/);
    await assert.rejects(cleanup.previewCleanup([{ repository: "CI App", keepLast: 1 }]), /repository glob/);
    await assert.rejects(cleanup.previewCleanup([]), /too_small|at least/i);
  });

  it("previews which tags go and why, with the bytes a collection would then free", async () => {
    const sizes = await storageBlobs(root);
    const size = (...digests: string[]) => digests.reduce((sum, d) => sum + sizes.get(d)!, 0);
    const preview = await cleanup.previewCleanup(rules);
    assert.deepEqual(preview.repositories, ["ci/app", "ci/lib", "ci/multi"]);
    const row = (repository: string, tag: string) => {
      const found = preview.rows.find((r) => r.repository === repository && r.tag === tag);
      assert.ok(found, `${repository}:${tag}`);
      return found;
    };
    const actions = preview.rows.map((r) => `${r.repository}:${r.tag}=${r.action}`);
    assert.deepEqual(sorted(actions), sorted([
      "ci/app:t1=delete", "ci/app:t2=delete", "ci/app:t3=delete", "ci/app:t4=keep", "ci/app:t5=keep", "ci/app:release-1=keep",
      "ci/lib:old=delete", "ci/lib:stable=keep", "ci/lib:newer=keep", "ci/lib:newest=keep",
      "ci/multi:nightly-1=delete", "ci/multi:nightly-2=keep", "ci/multi:nightly-3=keep",
    ]));
    assert.match(row("ci/app", "t5").reason, /among the 2 most recently pushed/);
    assert.match(row("ci/app", "release-1").reason, /matches keepTags/);
    assert.match(row("ci/app", "t3").reason, /not among the 2 most recent, pushed 20 days ago, does not match/);
    assert.match(row("ci/lib", "stable").reason, /matches keepTags \/\^stable\$\//);
    assert.match(row("ci/lib", "old").reason, /the manifest stays \(also tagged stable\)/);
    assert.equal(row("ci/lib", "old").bytes, 0);
    assert.ok(row("ci/app", "t4").pushedAt);

    // The shared base layer is kept by t4, t5 and release-1: never counted.
    assert.equal(row("ci/app", "t1").bytes, size(images.t1!.digest, images.t1!.config, images.t1!.layers[1]!));
    assert.equal(row("ci/app", "t3").bytes, size(images.t3!.digest, images.t3!.config, images.t3!.layers[1]!));
    // nightly-1 takes its index, c1 (only it used it) and its signature; c2 stays for nightly-2.
    const nightly1 = [index1.digest, ...c1.blobs, ...signature.blobs];
    assert.equal(row("ci/multi", "nightly-1").bytes, size(...nightly1));

    assert.deepEqual(
      preview.manifests.map((m) => `${m.repository}@${m.digest}`),
      sorted([
        ...["t1", "t2", "t3"].map((t) => `ci/app@${images[t]!.digest}`),
        `ci/multi@${index1.digest}`,
        `ci/multi@${c1.digest}`,
        `ci/multi@${signature.digest}`,
      ]),
    );
    assert.match(preview.manifests.find((m) => m.digest === c1.digest)!.reason, new RegExp(`child of deleted index ${index1.digest}`));
    assert.equal(preview.manifests.find((m) => m.digest === signature.digest)!.deletedWith, index1.digest);
    assert.deepEqual(preview.untags, [{ repository: "ci/lib", tag: "old", digest: images.lib!.digest }]);
    const expectedTotal = size(...["t1", "t2", "t3"].flatMap((t) => [images[t]!.digest, images[t]!.config, images[t]!.layers.at(-1)!]), ...nightly1);
    assert.equal(preview.totalBytes, expectedTotal);
    assert.ok(!preview.rows.some((r) => r.repository === "other/app"), "unmatched repositories are not touched");
    assert.ok(!preview.manifests.some((m) => m.digest === c2.digest || m.digest === index2.digest));
  });

  it("applies the confirmed plan, skipping what changed since; the next collection frees the previewed bytes", async () => {
    const preview = await cleanup.previewCleanup(rules);
    // Storage changes between preview and apply: t2 gets a new tag, ci/lib:old moves.
    await (await putManifest(berth.url, "ci/app", "hotfix", images.t2!.manifest, OCI_MANIFEST)).arrayBuffer();
    await (await putManifest(berth.url, "ci/lib", "old", images.newer!.manifest, OCI_MANIFEST)).arrayBuffer();

    const before = await storageBlobs(root);
    const revisionsBefore = await storageRevisions(root);
    const applied = await cleanup.applyCleanup(rules, { preview });
    assert.deepEqual(
      applied.skipped.map((s) => `${s.repository} ${s.target}: ${s.reason}`),
      [`ci/lib old: the tag moved since the preview`, `ci/app ${images.t2!.digest}: tagged hotfix since the preview`],
    );
    assert.equal(applied.untagged.length, 0);
    assert.equal(applied.deleted.length, preview.manifests.length - 1);
    const revisionsAfter = await storageRevisions(root);
    for (const entry of applied.deleted) assert.ok(!revisionsAfter.has(`${entry.repository}@${entry.digest}`));
    assert.equal(revisionsBefore.size - revisionsAfter.size, applied.deleted.length);

    const report = await collectGarbage({ driver: berth.driver });
    const t2Bytes = [images.t2!.digest, images.t2!.config, images.t2!.layers[1]!].reduce((sum, d) => sum + before.get(d)!, 0);
    assert.equal(report.bytesFreed, preview.totalBytes - t2Bytes, "everything previewed except what t2 (re-tagged) keeps");
    assert.deepEqual(report.manifestsDeleted, []);

    // What stays still pulls, bytes intact.
    for (const [repository, tag, image] of [["ci/app", "t5", images.t5], ["ci/app", "hotfix", images.t2], ["ci/multi", "nightly-2", index2]] as const) {
      const res = await fetch(`${berth.url}/v2/${repository}/manifests/${tag}`, { headers: { Accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` } });
      assert.equal(res.status, 200, `${repository}:${tag}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), image!.manifest);
    }
    for (const digest of [base.digest, ...c2.blobs.slice(1), ...c3.blobs.slice(1)]) {
      assert.equal((await fetch(`${berth.url}/v2/ci/${digest === base.digest ? "app" : "multi"}/blobs/${digest}`, { method: "HEAD" })).status, 200, digest);
    }
    assert.equal((await fetch(`${berth.url}/v2/ci/multi/manifests/${c1.digest}`, { method: "HEAD" })).status, 404);

    // Applying the rules again: t2 still goes, but its manifest stays for hotfix.
    const again = await cleanup.applyCleanup(rules);
    assert.deepEqual(again.skipped, []);
    assert.deepEqual(again.deleted, []);
    assert.deepEqual(again.untagged.map((u) => `${u.repository}:${u.tag}`), ["ci/app:t2"]);
  });
});

/**
 * The preview's byte count with a grace period: old (an hour back) and young blobs among what a
 * cleanup unreferences. A collection with the same grace frees exactly `totalBytes` and keeps
 * exactly `bytesInGrace`.
 */
describe("cleanup preview with a grace period", () => {
  let root: string;
  let berth: GcBerth;
  const hour = 60 * 60 * 1000;

  before(async () => {
    root = await tempDir("cleanup-grace");
    berth = await startBerth(root);
  });
  after(async () => {
    await berth.close();
    await removeDir(root);
  });

  it("counts only blobs older than the grace period, and a collection with that grace frees exactly those", async () => {
    const cleanup = createCleanupService({
      driver: berth.driver,
      manifests: berth.registry.services.manifests,
      tags: berth.registry.services.tags,
      deleteEnabled: berth.registry.services.deleteEnabled,
      graceMs: () => hour,
    });
    const old = await pushImage(berth.url, "grace/app", "old", { layers: [1000] });
    const young = await pushImage(berth.url, "grace/app", "young", { layers: [500] });
    await pushImage(berth.url, "grace/app", "latest", { layers: [300] });
    const twoHoursAgo = new Date(Date.now() - 2 * hour);
    for (const digest of old.blobs) {
      const hex = digest.slice("sha256:".length);
      await utimes(join(root, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"), twoHoursAgo, twoHoursAgo);
    }
    for (const [tag, days] of [["old", 3], ["young", 2], ["latest", 1]] as const) {
      const when = new Date(Date.now() - days * day);
      await utimes(join(root, "docker/registry/v2/repositories/grace/app/_manifests/tags", tag, "current/link"), when, when);
    }
    const sizes = await storageBlobs(root);
    const bytesOf = (digests: string[]) => digests.reduce((sum, d) => sum + sizes.get(d)!, 0);

    const preview = await cleanup.previewCleanup([{ repository: "grace/*", keepLast: 1 }]);
    assert.equal(preview.graceMs, hour, "the configured grace unless told otherwise");
    assert.equal(preview.totalBytes, bytesOf(old.blobs));
    assert.equal(preview.bytesInGrace, bytesOf(young.blobs));
    assert.equal(preview.rows.find((row) => row.tag === "young")?.bytes, 0, "a row counts only what the next collection frees");
    assert.equal((await cleanup.previewCleanup([{ repository: "grace/*", keepLast: 1 }], { graceMs: 0 })).totalBytes, bytesOf([...old.blobs, ...young.blobs]));

    await cleanup.applyCleanup([], { preview });
    const report = await collectGarbage({ driver: berth.driver, graceMs: preview.graceMs });
    assert.equal(report.bytesFreed, preview.totalBytes);
    assert.deepEqual(sorted(report.blobsDeleted.map((b) => b.digest)), sorted(old.blobs));
    assert.deepEqual(report.kept.inGrace, { blobs: young.blobs.length, bytes: preview.bytesInGrace, manifests: 0 });
  });
});
