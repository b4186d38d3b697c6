/**
 * The collector's mark and plan phases on their own, on small layouts written straight into
 * Berth's in-memory driver (the same layout as distribution's filesystem driver). Ages are judged
 * against the run's start, so a start in the future makes everything old without touching files.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { collectGarbage } from "../../server/gc/collect.js";
import { gcContext } from "../../server/gc/context.js";
import { mark } from "../../server/gc/mark.js";
import { plan } from "../../server/gc/plan.js";
import { layout } from "../../server/registry/layout.js";
import { parseDigest } from "../../server/registry/reference.js";
import { isNotFound, type StorageDriver } from "../../server/registry/storage/driver.js";
import { loadReferencesCache, referencesCachePath } from "../../server/gc/references-cache.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { listBlobDigests } from "../../server/gc/scan.js";
import { OCI_INDEX, OCI_MANIFEST } from "../support/images.js";

const hour = 60 * 60_000;

function digestOf(content: string): string {
  return `sha256:${createHash("sha256").update(content).digest("hex")}`;
}

/** Writes blobs, manifests, revision links and tags; returns the digests by name. */
class Layout {
  readonly driver: StorageDriver = createDriver("inmemory", {});
  readonly digests = new Map<string, string>();
  readonly sizes = new Map<string, number>();

  async blob(name: string, content = `blob ${name}`): Promise<string> {
    const digest = digestOf(content);
    await this.driver.putContent(layout.blobData(parseDigest(digest)), content);
    this.digests.set(name, digest);
    this.sizes.set(digest, Buffer.byteLength(content));
    return digest;
  }

  /** An image manifest (config + layers) as a revision of `repository`, optionally tagged. */
  async image(repository: string, name: string, blobs: string[], tag?: string): Promise<string> {
    const [config, ...layers] = blobs.map((blob) => ({ mediaType: "application/octet-stream", digest: this.digests.get(blob) as string, size: 1 }));
    return this.manifest(repository, name, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }), tag);
  }

  async index(repository: string, name: string, children: string[], tag?: string): Promise<string> {
    const manifests = children.map((child) => ({ mediaType: OCI_MANIFEST, digest: this.digests.get(child) as string, size: 1 }));
    return this.manifest(repository, name, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), tag);
  }

  private async manifest(repository: string, name: string, content: string, tag?: string): Promise<string> {
    const digest = await this.blob(name, content);
    await this.driver.putContent(layout.revisionLink(repository, parseDigest(digest)), digest);
    if (tag) await this.driver.putContent(layout.tagCurrentLink(repository, tag), digest);
    return digest;
  }

  names(digests: Iterable<string>): string[] {
    const byDigest = new Map([...this.digests].map(([name, digest]) => [digest, name]));
    return [...digests].map((digest) => byDigest.get(digest) ?? digest).sort();
  }
}

/**
 * team/app  v1 → image M1 (config C1, layer L1); M2 (config C2, layer L2) untagged
 * team/multi latest → index I (children M3, M4), which share layer L1 with team/app
 * orphan blob O, referenced by nothing
 */
async function fixture(): Promise<Layout> {
  const store = new Layout();
  for (const blob of ["C1", "L1", "C2", "L2", "C3", "C4", "O"]) await store.blob(blob);
  await store.image("team/app", "M1", ["C1", "L1"], "v1");
  await store.image("team/app", "M2", ["C2", "L2"]);
  await store.image("team/multi", "M3", ["C3", "L1"]);
  await store.image("team/multi", "M4", ["C4", "L1"]);
  await store.index("team/multi", "I", ["M3", "M4"], "latest");
  return store;
}

describe("mark", () => {
  it("keeps every revision and what it reaches; reports nothing to delete without deleteUntagged", async () => {
    const store = await fixture();
    const marked = await mark(gcContext({ driver: store.driver }, Date.now()));
    assert.deepEqual(
      marked.repositories.map((r) => r.name),
      ["team/app", "team/multi"],
    );
    assert.deepEqual(store.names(marked.marked), ["C1", "C2", "C3", "C4", "I", "L1", "L2", "M1", "M2", "M3", "M4"]);
    assert.ok(marked.repositories.every((r) => r.remove.size === 0));
  });

  it("with deleteUntagged, marks what tags reach: index children stay, the untagged image goes", async () => {
    const store = await fixture();
    const marked = await mark(gcContext({ driver: store.driver, deleteUntagged: true }, Date.now() + 2 * hour));
    const app = marked.repositories.find((r) => r.name === "team/app");
    assert.deepEqual(store.names(app?.remove ?? []), ["M2"]);
    assert.deepEqual(marked.repositories.find((r) => r.name === "team/multi")?.remove.size, 0, "children of a tagged index are never removed");
    assert.deepEqual(store.names(marked.marked), ["C1", "C3", "C4", "I", "L1", "M1", "M3", "M4"]);
    assert.equal(marked.revisionsInGrace, 0);
  });

  it("with deleteUntagged, spares an untagged revision written within the grace period, and counts it", async () => {
    const store = await fixture();
    const marked = await mark(gcContext({ driver: store.driver, deleteUntagged: true, graceMs: hour }, Date.now()));
    assert.ok(marked.repositories.every((r) => r.remove.size === 0));
    assert.equal(marked.revisionsInGrace, 1);
    assert.ok(marked.marked.has(store.digests.get("L2") as string));
  });

  it("warns about a tag naming a digest the repository does not hold, and keeps that digest's content", async () => {
    const store = await fixture();
    await store.driver.putContent(layout.tagCurrentLink("team/app", "broken"), store.digests.get("M3") as string);
    const warnings: string[] = [];
    const marked = await mark(gcContext({ driver: store.driver, onEvent: (event) => event.type === "warning" && warnings.push(event.message) }, Date.now()));
    assert.deepEqual(warnings, [`team/app: tag broken points at ${store.digests.get("M3")}, which is not in the repository`]);
    assert.ok(marked.marked.has(store.digests.get("C3") as string));
  });
});

describe("plan", () => {
  const planned = async (store: Layout, options: { deleteUntagged?: boolean; graceMs?: number }, start: number) => {
    const ctx = gcContext({ driver: store.driver, ...options }, start);
    const blobs = listBlobDigests(ctx.batch);
    return plan(ctx, await mark(ctx), await blobs);
  };

  it("dooms the unreferenced blobs older than the grace period, with their sizes, in digest order", async () => {
    const store = await fixture();
    const result = await planned(store, { graceMs: hour }, Date.now() + 2 * hour);
    const orphan = store.digests.get("O") as string;
    assert.deepEqual(result.blobs, [{ digest: orphan, size: store.sizes.get(orphan) }]);
    assert.deepEqual(result.manifests, []);
    assert.deepEqual(result.kept, { referenced: { blobs: 11 }, inGrace: { blobs: 0, bytes: 0, manifests: 0 } });
    assert.equal(result.present.size, 12);
    assert.equal(result.judged, 1);
  });

  it("keeps the young ones and says how many bytes the grace period kept", async () => {
    const store = await fixture();
    const result = await planned(store, { graceMs: hour, deleteUntagged: true }, Date.now());
    assert.deepEqual(result.blobs, []);
    assert.deepEqual(result.manifests, []);
    const orphan = store.digests.get("O") as string;
    assert.deepEqual(result.kept.inGrace, { blobs: 1, bytes: store.sizes.get(orphan), manifests: 1 });
  });

  it("with deleteUntagged, plans the untagged manifest and the blobs only it used", async () => {
    const store = await fixture();
    const result = await planned(store, { deleteUntagged: true }, Date.now() + 2 * hour);
    assert.deepEqual(result.manifests, [{ repository: "team/app", digest: store.digests.get("M2") }]);
    assert.deepEqual(store.names(result.blobs.map(({ digest }) => digest)), ["C2", "L2", "M2", "O"]);
    assert.deepEqual(
      result.blobs.map(({ digest }) => digest),
      result.blobs.map(({ digest }) => digest).sort(),
    );
    const bytes = result.blobs.reduce((sum, blob) => sum + blob.size, 0);
    assert.equal(bytes, ["C2", "L2", "M2", "O"].reduce((sum, name) => sum + (store.sizes.get(store.digests.get(name) as string) ?? 0), 0));
  });

  it("does not count a blob directory without data (an interrupted write)", async () => {
    const store = await fixture();
    const half = parseDigest(digestOf("never written"));
    await store.driver.putContent(`${layout.blobDir(half)}/startedat`, "x");
    const result = await planned(store, {}, Date.now() + 2 * hour);
    assert.ok(!result.present.has(half.value));
    assert.ok(!result.blobs.some(({ digest }) => digest === half.value));
    assert.equal(result.judged, 2, "judged, found absent");
  });
});

describe("protect", () => {
  it("may keep planned blobs and manifests: the sweep leaves them, the report says so", async () => {
    const store = await fixture();
    const m2 = store.digests.get("M2") as string;
    const l2 = store.digests.get("L2") as string;
    const seen: string[] = [];
    const report = await collectGarbage({
      driver: store.driver,
      deleteUntagged: true,
      now: () => Date.now() + 2 * hour,
      protect: async (planned) => {
        seen.push(...store.names(planned.blobs.map(({ digest }) => digest)));
        // A running registry still needs M2 (and so its blobs): the hook keeps them.
        return { ...planned, manifests: [], blobs: planned.blobs.filter(({ digest }) => digest === store.digests.get("O")) };
      },
    });
    assert.deepEqual(seen, ["C2", "L2", "M2", "O"]);
    assert.deepEqual(store.names(report.blobsDeleted.map(({ digest }) => digest)), ["O"]);
    assert.deepEqual(report.manifestsDeleted, []);
    assert.equal(report.kept.protected.blobs, 3);
    assert.equal(report.kept.protected.manifests, 1);
    assert.ok(await store.driver.stat(layout.revisionLink("team/app", parseDigest(m2))));
    assert.ok(await store.driver.stat(layout.blobData(parseDigest(l2))));
    await assert.rejects(store.driver.stat(layout.blobData(parseDigest(store.digests.get("O") as string))));
  });

  it("may not add to the plan", async () => {
    const store = await fixture();
    const m1 = store.digests.get("M1") as string;
    await assert.rejects(
      collectGarbage({ driver: store.driver, protect: async (planned) => ({ ...planned, blobs: [...planned.blobs, { digest: m1, size: 1 }] }) }),
      /the protect step added sha256:[0-9a-f]+ to the plan; it may only remove entries/,
    );
    assert.ok(await store.driver.stat(layout.blobData(parseDigest(m1))));
  });
});

describe("saved manifest references (incremental mark)", () => {
  /** The store's driver, counting reads of blob data (manifests are the only blobs the mark reads). */
  const counting = (store: Layout) => {
    const reads: string[] = [];
    const driver: StorageDriver = Object.create(store.driver, {
      getContent: { value: (path: string) => (path.endsWith("/data") && reads.push(path), store.driver.getContent(path)) },
    });
    return { driver, reads };
  };
  const later = () => Date.now() + 2 * hour;

  it("a second run reads no manifest and decides the same; a new manifest is the only one read next", async () => {
    const store = await fixture();
    const { driver, reads } = counting(store);
    const first = await collectGarbage({ driver, now: later });
    assert.equal(reads.length, 5, "the first run reads every manifest once");
    assert.deepEqual(store.names(first.blobsDeleted.map(({ digest }) => digest)), ["O"]);
    await store.blob("O");
    reads.length = 0;
    const second = await collectGarbage({ driver, now: later });
    assert.equal(reads.length, 0, "the second run reads no manifest");
    assert.deepEqual(store.names(second.blobsDeleted.map(({ digest }) => digest)), ["O"]);
    assert.equal(second.blobsMarked, first.blobsMarked);
    for (const blob of ["C5", "L5"]) await store.blob(blob);
    await store.image("team/app", "M5", ["C5", "L5"], "v5");
    const third = await collectGarbage({ driver, now: later });
    assert.deepEqual(store.names(reads.map((path) => `sha256:${path.split("/").at(-2)}`)), ["M5"]);
    assert.deepEqual(third.blobsDeleted, []);
    assert.equal(third.blobsMarked, first.blobsMarked + 3);
  });

  it("keeps nothing alive by itself: a manifest deleted since the last run is collected with what only it used", async () => {
    const store = await fixture();
    await collectGarbage({ driver: store.driver, now: later });
    await store.driver.delete(layout.revisionDir("team/app", parseDigest(store.digests.get("M2") as string)));
    const report = await collectGarbage({ driver: store.driver, now: later });
    assert.deepEqual(store.names(report.blobsDeleted.map(({ digest }) => digest)), ["C2", "L2", "M2"]);
    const saved = await loadReferencesCache(store.driver, assert.fail);
    assert.equal(saved.has(store.digests.get("M2") as string), false, "the cache holds only what stays");
    assert.equal(saved.has(store.digests.get("M1") as string), true);
  });

  it("a dry run leaves no cache; an unreadable cache is ignored with a warning and the run decides as without it", async () => {
    const store = await fixture();
    await collectGarbage({ driver: store.driver, dryRun: true, now: later });
    await assert.rejects(store.driver.stat(referencesCachePath), (error: unknown) => isNotFound(error));
    await store.driver.putContent(referencesCachePath, "not gzip");
    const report = await collectGarbage({ driver: store.driver, now: later });
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0] as string, /saved manifest references .* unreadable and were ignored/);
    assert.deepEqual(store.names(report.blobsDeleted.map(({ digest }) => digest)), ["O"]);
    assert.equal((await loadReferencesCache(store.driver, assert.fail)).size, 5, "the run saved a good one");
  });
});
