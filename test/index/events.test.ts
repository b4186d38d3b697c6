import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { IndexNotFoundError } from "../../server/index/errors.js";
import type { MetadataIndex } from "../../server/index/metadata-index.js";
import { walkRepositories } from "../../server/registry/repositories.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, putManifest, pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { indexBackends } from "./backends.js";
import { deleteRef, imageSize, openIndex, pushIndex, pushUntagged, type IndexUnderTest } from "./helpers.js";

/** Everything a console page shows, to compare two indexes over the same storage. */
async function snapshot(index: MetadataIndex) {
  const repositories = (await index.listRepositories({ limit: 1000 })).rows;
  const { index: _status, ...stats } = await index.stats();
  return {
    repositories,
    namespaces: await index.namespaces(),
    tags: Object.fromEntries(await Promise.all(repositories.map(async (repo) => [repo.name, (await index.listTags(repo.name, { limit: 1000 })).rows]))),
    stats,
  };
}

for (const backend of indexBackends) {
  describe(`metadata index fed by registry events (${backend.name})`, () => {
    let r: TestRegistry;
    let t: IndexUnderTest;

    before(async () => {
      r = await startRegistry({ deleteEnabled: true });
      t = await openIndex(r, { database: await backend.database() });
      const started = await t.index.start();
      assert.equal(started.stale, "missing");
      await started.rebuild;
    });
    after(async () => {
      await t.index.close();
      await r.close();
    });

    it("indexes a single-arch OCI image pushed with a tag", async () => {
      const start = Date.now();
      const image = await pushImage(r, "team/app", "v1", { layers: 2, configExtra: { created: "2024-05-06T07:08:09Z" } });
      await t.index.idle();
      const page = await t.index.listRepositories({ search: "team/app" });
      assert.equal(page.total, 1);
      const repo = page.rows[0]!;
      assert.deepEqual({ ...repo, lastPush: undefined }, { name: "team/app", namespace: "team", tagCount: 1, manifestCount: 1, size: imageSize(image), lastPush: undefined });
      assert.ok(repo.lastPush !== null && repo.lastPush >= start - 1000 && repo.lastPush <= Date.now() + 1000);
      const tags = await t.index.listTags("team/app");
      assert.equal(tags.total, 1);
      const row = tags.rows[0]!;
      assert.deepEqual(
        { ...row, pushed: 0 },
        {
          tag: "v1",
          digest: image.digest,
          mediaType: OCI_MANIFEST,
          kind: "image",
          size: imageSize(image),
          created: Date.parse("2024-05-06T07:08:09Z"),
          pushed: 0,
          platforms: [{ os: "linux", architecture: "amd64" }],
          children: 0,
        },
      );
      assert.ok(row.pushed >= start - 1000 && row.pushed <= Date.now() + 1000);
    });

    it("indexes a Docker schema2 image", async () => {
      const image = await pushImage(r, "team/docker", "latest", { format: "docker", layers: 3 });
      await t.index.idle();
      const [row] = (await t.index.listTags("team/docker")).rows;
      assert.equal(row?.mediaType, DOCKER_MANIFEST);
      assert.equal(row?.size, imageSize(image));
      assert.equal(row?.created, null, "the harness's config has no created");
    });

    it("indexes an OCI index with two platforms, its children untagged", async () => {
      const pushed = await pushIndex(r, "team/multi", "1.0", [
        { os: "linux", architecture: "amd64", created: "2024-01-01T00:00:00Z" },
        { os: "linux", architecture: "arm64", variant: "v8", created: "2024-02-01T00:00:00Z" },
      ]);
      await t.index.idle();
      const tags = await t.index.listTags("team/multi");
      assert.equal(tags.total, 1);
      const row = tags.rows[0]!;
      assert.equal(row.tag, "1.0");
      assert.equal(row.digest, pushed.digest);
      assert.equal(row.mediaType, OCI_INDEX);
      assert.equal(row.kind, "index");
      assert.equal(row.children, 2);
      assert.deepEqual(row.platforms, [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ]);
      const childSizes = pushed.children.map(imageSize);
      assert.equal(row.size, childSizes[0]! + childSizes[1]!);
      assert.equal(row.created, Date.parse("2024-02-01T00:00:00Z"), "an index is as new as its newest child");
      const repo = (await t.index.listRepositories({ search: "team/multi" })).rows[0]!;
      assert.equal(repo.tagCount, 1);
      assert.equal(repo.manifestCount, 3);
      assert.equal(repo.size, childSizes[0]! + childSizes[1]!);
    });

    it("drops a deleted tag and keeps its (now untagged) manifest", async () => {
      const image = await pushImage(r, "team/tagdel", "old");
      await t.index.idle();
      assert.equal((await t.index.listTags("team/tagdel")).total, 1);
      await deleteRef(r, "team/tagdel", "old");
      await t.index.idle();
      assert.equal((await t.index.listTags("team/tagdel")).total, 0);
      const repo = (await t.index.listRepositories({ search: "team/tagdel" })).rows[0]!;
      assert.equal(repo.tagCount, 0);
      assert.equal(repo.manifestCount, 1);
      assert.equal(repo.size, imageSize(image));
      assert.deepEqual(await t.index.tagsSharing("team/tagdel", image.digest), []);
    });

    it("drops a deleted manifest with every tag that pointed at it", async () => {
      const kept = await pushUntagged(r, "team/mdel");
      await t.index.idle();
      const blobsBefore = (await t.index.stats()).blobs;
      const image = await pushImage(r, "team/mdel", "a", { layers: 2 });
      const again = await putManifest(r, "team/mdel", "b", image.manifest, image.mediaType);
      await again.arrayBuffer();
      assert.equal(again.status, 201);
      await t.index.idle();
      assert.deepEqual(await t.index.tagsSharing("team/mdel", image.digest), ["a", "b"]);
      assert.equal((await t.index.stats()).blobs, blobsBefore + 3);

      await deleteRef(r, "team/mdel", image.digest);
      await t.index.idle();
      assert.equal((await t.index.listTags("team/mdel")).total, 0);
      assert.deepEqual(await t.index.tagsSharing("team/mdel", image.digest), []);
      const repo = (await t.index.listRepositories({ search: "team/mdel" })).rows[0]!;
      assert.deepEqual({ tags: repo.tagCount, manifests: repo.manifestCount, size: repo.size }, { tags: 0, manifests: 1, size: imageSize(kept) });
      assert.equal((await t.index.stats()).blobs, blobsBefore, "the deleted image's blobs no longer count");

      const activity = await t.index.recentActivity(4);
      assert.deepEqual(
        activity.map((a) => [a.type, a.repository, a.tag, a.digest]),
        [
          ["manifest-delete", "team/mdel", null, image.digest],
          ["tag-delete", "team/mdel", "b", null],
          ["tag-delete", "team/mdel", "a", null],
          ["push", "team/mdel", "b", image.digest],
        ],
      );
      assert.ok(activity.every((a, i) => i === 0 || a.id < activity[i - 1]!.id));
      assert.ok(activity.every((a) => Math.abs(a.time - Date.now()) < 60_000));
    });

    it("drops a repository whose last manifest is deleted, as storage does", async () => {
      const image = await pushImage(r, "team/last", "only");
      await t.index.idle();
      assert.equal((await t.index.listRepositories({ search: "team/last" })).total, 1);
      await deleteRef(r, "team/last", image.digest);
      await t.index.idle();
      assert.deepEqual(await walkRepositories(r.driver).then((names) => names.includes("team/last")), false);
      assert.equal((await t.index.listRepositories({ search: "team/last" })).total, 0);
      await assert.rejects(() => t.index.listTags("team/last"), IndexNotFoundError);
    });

    it("lists pushes in the activity with the manifest's media type and size", async () => {
      const push = (await t.index.recentActivity(100)).find((a) => a.type === "push" && a.repository === "team/docker");
      assert.equal(push?.tag, "latest");
      assert.equal(push?.mediaType, DOCKER_MANIFEST);
      const manifest = await r.fetch("/v2/team/docker/manifests/latest", { headers: { Accept: DOCKER_MANIFEST } });
      assert.equal(manifest.status, 200);
      assert.equal(push?.size, (await manifest.arrayBuffer()).byteLength);
    });

    it("keeps only the newest activity rows", async () => {
      const small = await openIndex(r, { activityLimit: 2 });
      await small.index.start();
      try {
        for (const tag of ["a1", "a2", "a3"]) await pushImage(r, "team/activity", tag);
        await small.index.idle();
        assert.deepEqual((await small.index.recentActivity(100)).map((row) => row.tag), ["a3", "a2"]);
      } finally {
        await small.index.close();
      }
    });

    it("rebuilding from storage yields the same rows as the event-fed index", async () => {
      await t.index.idle();
      const fed = await snapshot(t.index);
      assert.ok(fed.repositories.length >= 5);

      const other = await openIndex(r);
      try {
        const report = await other.index.rebuild();
        assert.equal(report.repositories, fed.repositories.length);
        assert.equal(report.errors, 0);
        assert.equal(report.skipped, 0);
        assert.deepEqual(await snapshot(other.index), fed);
      } finally {
        await other.index.close();
      }

      await t.index.rebuild();
      assert.deepEqual(await snapshot(t.index), fed, "rebuilding the event-fed index changes nothing");
      assert.equal(await t.index.staleness(), undefined);
    });
  });
}

/** A driver whose `stat` fails (not "not found": an I/O error) on paths `failing` selects. */
function flakyDriver(inner: StorageDriver, failing: (path: string) => boolean): StorageDriver {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "stat") {
        return async (path: string) => {
          if (failing(path)) throw new Error("injected I/O failure");
          return target.stat(path);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("metadata index update failures", () => {
  let broken = true;
  let r: TestRegistry;
  let t: IndexUnderTest;

  before(async () => {
    const driver = flakyDriver(createDriver("inmemory"), (path) => broken && path.includes("/x/broken/_manifests/revisions/"));
    r = await startRegistry({ driver });
    t = await openIndex(r);
    await (await t.index.start()).rebuild;
  });
  after(async () => {
    await t.index.close();
    await r.close();
  });

  it("logs a failed update, never fails the push, and is repaired by the next rebuild", async () => {
    await pushImage(r, "x/broken", "v1");
    await pushImage(r, "x/fine", "v1");
    await t.index.idle();
    assert.ok(t.logs.some((line) => line.includes("metadata index update failed") && line.includes("x/broken")), t.logs.join("\n"));
    assert.deepEqual(
      (await t.index.listRepositories({ namespace: "x" })).rows.map((row) => row.name),
      ["x/fine"],
      "later updates still apply",
    );
    assert.equal(await t.index.staleness(), "dirty", "the next start rebuilds");

    broken = false;
    await t.index.rebuild();
    assert.deepEqual(
      (await t.index.listRepositories({ namespace: "x" })).rows.map((row) => [row.name, row.tagCount]),
      [
        ["x/broken", 1],
        ["x/fine", 1],
      ],
    );
    assert.equal(await t.index.staleness(), undefined);
  });
});
