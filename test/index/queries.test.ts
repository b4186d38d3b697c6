import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { IndexNotFoundError, IndexQueryError } from "../../server/index/errors.js";
import type { MetadataIndex } from "../../server/index/metadata-index.js";
import type { RepositorySnapshot, RepositorySort, SortOrder } from "../../server/index/types.js";
import { indexBackends } from "./backends.js";
import { blob, fakeDigest, imageRecord, indexRecord, standaloneIndex } from "./fixtures.js";

/*
 * A known registry, sizes chosen so every number below can be checked by hand:
 *   layers L1=100, L2=200, L3=300 (shared), configs 10 bytes each (one per image).
 */
const L1 = blob("L1", 100);
const L2 = blob("L2", 200);
const L3 = blob("L3", 300);
const A1 = imageRecord({ label: "A1", config: blob("C-a1", 10), layers: [L1, L2], created: null, pushed: 1000 }); // 310
const A2 = imageRecord({ label: "A2", config: blob("C-a2", 10), layers: [L1, L3], created: "2022-01-01T00:00:00Z", pushed: 2000 }); // 410
const B1 = imageRecord({ label: "B1", config: blob("C-b1", 10), layers: [L1], pushed: 500 }); // 110
const GA = imageRecord({ label: "GA", config: blob("C-ga", 10), layers: [L2], created: "2023-01-01T00:00:00Z", pushed: 3000 }); // 210
const GB = imageRecord({
  label: "GB",
  config: blob("C-gb", 10),
  layers: [L3],
  created: "2023-06-01T00:00:00Z",
  pushed: 3000,
  platform: { os: "linux", architecture: "arm64", variant: "v8" },
}); // 310
const G = indexRecord(
  "G",
  [
    { record: GA, platform: { os: "linux", architecture: "amd64" } },
    { record: GB, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
  ],
  3000,
); // 520
const E1 = imageRecord({ label: "E1", config: blob("C-e1", 10), layers: [L1], pushed: 100 }); // 110

const known: RepositorySnapshot[] = [
  {
    name: "alpha",
    manifests: [A1, A2],
    tags: [
      { tag: "v1", digest: A1.digest, pushed: 1100 },
      { tag: "v2", digest: A2.digest, pushed: 2100 },
      { tag: "latest", digest: A2.digest, pushed: 2200 },
    ],
  },
  { name: "lib/beta", manifests: [B1], tags: [{ tag: "stable", digest: B1.digest, pushed: 600 }] },
  {
    name: "lib/gamma",
    manifests: [GA, GB, G],
    tags: [
      { tag: "1.0", digest: G.digest, pushed: 3100 },
      { tag: "v_2", digest: GA.digest, pushed: 3050 },
      { tag: "vx2", digest: GB.digest, pushed: 3060 },
    ],
  },
  { name: "team_x/delta", manifests: [], tags: [] },
  { name: "teamxx/epsilon", manifests: [E1], tags: [{ tag: "v1", digest: E1.digest, pushed: 150 }] },
];

for (const backend of indexBackends) {
  describe(`metadata index queries (${backend.name})`, () => {
    let index: MetadataIndex;
    const repoNames = async (input: Parameters<MetadataIndex["listRepositories"]>[0]) => (await index.listRepositories(input)).rows.map((row) => row.name);
    const tagNames = async (repository: string, input: Parameters<MetadataIndex["listTags"]>[1]) => (await index.listTags(repository, input)).rows.map((row) => row.tag);

    before(async () => {
      index = await standaloneIndex(await backend.database());
      await index.replaceRepositories(known);
    });
    after(() => index.close());

    it("aggregates each repository: tags, manifests, size with shared blobs counted once, last push", async () => {
      assert.deepEqual((await index.listRepositories()).rows, [
        { name: "alpha", namespace: "", tagCount: 3, manifestCount: 2, size: 620, lastPush: 2200 },
        { name: "lib/beta", namespace: "lib", tagCount: 1, manifestCount: 1, size: 110, lastPush: 600 },
        { name: "lib/gamma", namespace: "lib", tagCount: 3, manifestCount: 3, size: 520, lastPush: 3100 },
        { name: "team_x/delta", namespace: "team_x", tagCount: 0, manifestCount: 0, size: 0, lastPush: null },
        { name: "teamxx/epsilon", namespace: "teamxx", tagCount: 1, manifestCount: 1, size: 110, lastPush: 150 },
      ]);
    });

    it("sorts repositories by every key, both ways, ties broken by name in the same direction", async () => {
      const expected: Record<RepositorySort, string[]> = {
        name: ["alpha", "lib/beta", "lib/gamma", "team_x/delta", "teamxx/epsilon"],
        tags: ["team_x/delta", "lib/beta", "teamxx/epsilon", "alpha", "lib/gamma"],
        size: ["team_x/delta", "lib/beta", "teamxx/epsilon", "lib/gamma", "alpha"],
        pushed: ["team_x/delta", "teamxx/epsilon", "lib/beta", "alpha", "lib/gamma"],
      };
      for (const [sort, names] of Object.entries(expected) as [RepositorySort, string[]][]) {
        assert.deepEqual(await repoNames({ sort, order: "asc" }), names, `${sort} asc`);
        assert.deepEqual(await repoNames({ sort, order: "desc" }), [...names].reverse(), `${sort} desc`);
      }
    });

    it("filters by a literal, case-insensitive substring and by namespace", async () => {
      assert.deepEqual(await repoNames({ search: "m_x" }), ["team_x/delta"], "_ is not a wildcard");
      assert.deepEqual(await repoNames({ search: "%" }), []);
      assert.deepEqual(await repoNames({ search: "LIB/" }), ["lib/beta", "lib/gamma"]);
      assert.deepEqual(await repoNames({ namespace: "lib", sort: "size", order: "desc" }), ["lib/gamma", "lib/beta"]);
      assert.deepEqual(await repoNames({ namespace: "" }), ["alpha"]);
      assert.deepEqual(await repoNames({ namespace: "lib", search: "gam" }), ["lib/gamma"]);
      const page = await index.listRepositories({ namespace: "lib", limit: 1 });
      assert.equal(page.total, 2, "total counts every match, not the page");
      assert.equal(page.rows.length, 1);
    });

    it("lists namespaces with their repository counts", async () => {
      assert.deepEqual(await index.namespaces(), [
        { namespace: "", repositories: 1 },
        { namespace: "lib", repositories: 2 },
        { namespace: "team_x", repositories: 1 },
        { namespace: "teamxx", repositories: 1 },
      ]);
    });

    it("lists a repository's tags with their manifest's facts", async () => {
      const page = await index.listTags("lib/gamma");
      assert.equal(page.total, 3);
      assert.deepEqual(page.rows[0], {
        tag: "1.0",
        digest: G.digest,
        mediaType: G.mediaType,
        kind: "index",
        size: 520,
        created: Date.parse("2023-06-01T00:00:00Z"),
        pushed: 3100,
        platforms: [
          { os: "linux", architecture: "amd64" },
          { os: "linux", architecture: "arm64", variant: "v8" },
        ],
        children: 2,
      });
    });

    it("sorts, filters and pages tags", async () => {
      assert.deepEqual(await tagNames("lib/gamma", { sort: "name" }), ["1.0", "v_2", "vx2"]);
      assert.deepEqual(await tagNames("lib/gamma", { sort: "size" }), ["v_2", "vx2", "1.0"]);
      assert.deepEqual(await tagNames("lib/gamma", { sort: "created" }), ["v_2", "1.0", "vx2"], "equal times: by name");
      assert.deepEqual(await tagNames("lib/gamma", { sort: "created", order: "desc" }), ["vx2", "1.0", "v_2"]);
      assert.deepEqual(await tagNames("lib/gamma", { sort: "pushed", order: "desc" }), ["1.0", "vx2", "v_2"]);
      assert.deepEqual(await tagNames("alpha", { sort: "created" }), ["v1", "latest", "v2"], "unknown created first ascending");
      assert.deepEqual(await tagNames("alpha", { sort: "created", order: "desc" }), ["v2", "latest", "v1"], "and last descending");
      assert.deepEqual(await tagNames("lib/gamma", { filter: "_" }), ["v_2"]);
      assert.deepEqual(await tagNames("lib/gamma", { filter: "V" }), ["v_2", "vx2"]);
      const first = await index.listTags("alpha", { limit: 2 });
      const second = await index.listTags("alpha", { limit: 2, offset: 2 });
      assert.deepEqual([first.total, second.total], [3, 3]);
      assert.deepEqual([...first.rows, ...second.rows].map((row) => row.tag), ["latest", "v1", "v2"]);
      assert.deepEqual(await index.listTags("team_x/delta"), { rows: [], total: 0 });
    });

    it("finds the tags sharing a digest", async () => {
      assert.deepEqual(await index.tagsSharing("alpha", A2.digest), ["latest", "v2"]);
      assert.deepEqual(await index.tagsSharing("alpha", A1.digest), ["v1"]);
      assert.deepEqual(await index.tagsSharing("alpha", fakeDigest("nothing")), []);
    });

    it("gives one repository's row", async () => {
      assert.deepEqual(await index.repository("lib/beta"), { name: "lib/beta", namespace: "lib", tagCount: 1, manifestCount: 1, size: 110, lastPush: 600 });
      await assert.rejects(() => index.repository("lib"), IndexNotFoundError);
    });

    it("refuses unknown repositories", async () => {
      await assert.rejects(() => index.listTags("nope"), IndexNotFoundError);
      await assert.rejects(() => index.tagsSharing("nope", A1.digest), IndexNotFoundError);
    });

    it("counts the known set exactly", async () => {
      const { index: status, ...stats } = await index.stats();
      assert.deepEqual(stats, {
        repositories: 5,
        tags: 8,
        manifests: 7,
        blobs: 9, // L1-L3 and six configs
        logicalBytes: 310 + 410 + 410 + 110 + 520 + 210 + 310 + 110,
        dedupBytes: 100 + 200 + 300 + 6 * 10,
        largestRepositories: [
          { name: "alpha", size: 620, tagCount: 3 },
          { name: "lib/gamma", size: 520, tagCount: 3 },
          { name: "lib/beta", size: 110, tagCount: 1 },
          { name: "teamxx/epsilon", size: 110, tagCount: 1 },
          { name: "team_x/delta", size: 0, tagCount: 0 },
        ],
      });
      assert.equal(status.rebuilding, false);
    });

    it("replaces a repository rather than merging into it", async () => {
      const other = await standaloneIndex(await backend.database());
      try {
        await other.replaceRepositories(known);
        await other.replaceRepositories([{ name: "alpha", manifests: [A1], tags: [{ tag: "v1", digest: A1.digest, pushed: 1100 }] }]);
        assert.deepEqual((await other.listTags("alpha")).rows.map((row) => row.tag), ["v1"]);
        const stats = await other.stats();
        assert.equal(stats.blobs, 8, "C-a2 is gone; L3 is still used by lib/gamma");
        assert.equal(stats.tags, 6);
        assert.equal((await other.listRepositories({ search: "alpha" })).rows[0]?.size, 310);
      } finally {
        await other.close();
      }
    });
  });

  describe(`metadata index repository paging (${backend.name})`, () => {
    let index: MetadataIndex;
    const count = 57;
    type Row = { name: string; tags: number; size: number; pushed: number };
    const rows: Row[] = [];

    before(async () => {
      index = await standaloneIndex(await backend.database());
      const snapshots: RepositorySnapshot[] = [];
      for (let i = 0; i < count; i++) {
        const name = `ns${i % 3}/repo${String((i * 17) % count).padStart(2, "0")}`;
        const tags = i % 7;
        const size = ((i * 37) % 5) * 100;
        const pushed = (i % 4) * 1000;
        const image = imageRecord({ label: `img${i}`, config: blob(`cfg${i}`, 0), layers: size ? [blob(`layer${i}`, size)] : [], pushed: pushed || 1 });
        const tagList = Array.from({ length: tags }, (_, t) => ({ tag: `t${t}`, digest: image.digest, pushed: pushed || 1 }));
        snapshots.push({ name, manifests: pushed ? [{ ...image, pushed }] : [], tags: pushed ? tagList : [] });
        rows.push({ name, tags: pushed ? tags : 0, size: pushed ? size : 0, pushed });
      }
      await index.replaceRepositories(snapshots);
    });
    after(() => index.close());

    const key = (row: Row, sort: RepositorySort): number | string => (sort === "name" ? row.name : sort === "tags" ? row.tags : sort === "size" ? row.size : row.pushed);
    function expected(sort: RepositorySort, order: SortOrder): string[] {
      const sorted = [...rows].sort((a, b) => {
        const ka = key(a, sort);
        const kb = key(b, sort);
        if (ka !== kb) return ka < kb ? -1 : 1;
        return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      });
      return (order === "asc" ? sorted : sorted.reverse()).map((row) => row.name);
    }

    it("walks every row exactly once with cursors and with offsets, for every sort and order", async () => {
      for (const sort of ["name", "tags", "size", "pushed"] as const) {
        for (const order of ["asc", "desc"] as const) {
          const byCursor: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await index.listRepositories({ sort, order, limit: 10, cursor });
            assert.equal(page.total, count);
            byCursor.push(...page.rows.map((row) => row.name));
            cursor = page.nextCursor ?? undefined;
            pages += 1;
          } while (cursor);
          assert.equal(pages, Math.ceil(count / 10));
          const byOffset: string[] = [];
          for (let offset = 0; offset < count; offset += 10) {
            byOffset.push(...(await index.listRepositories({ sort, order, limit: 10, offset })).rows.map((row) => row.name));
          }
          assert.deepEqual(byCursor, expected(sort, order), `${sort} ${order} by cursor`);
          assert.deepEqual(byOffset, expected(sort, order), `${sort} ${order} by offset`);
        }
      }
    });

    it("pages a filtered listing with its filter applied to the cursor's pages", async () => {
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await index.listRepositories({ namespace: "ns1", sort: "size", order: "desc", limit: 4, cursor });
        names.push(...page.rows.map((row) => row.name));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(names, expected("size", "desc").filter((name) => name.startsWith("ns1/")));
    });

    it("refuses a cursor that is garbage or from another sort order", async () => {
      const page = await index.listRepositories({ sort: "tags", limit: 5 });
      assert.ok(page.nextCursor);
      await assert.rejects(() => index.listRepositories({ sort: "size", cursor: page.nextCursor! }), IndexQueryError);
      await assert.rejects(() => index.listRepositories({ sort: "tags", order: "desc", cursor: page.nextCursor! }), IndexQueryError);
      await assert.rejects(() => index.listRepositories({ cursor: "not-a-cursor" }), IndexQueryError);
    });
  });
}
