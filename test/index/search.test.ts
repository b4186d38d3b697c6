import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createCaller } from "../../server/api/root.js";
import type { ApiContext } from "../../server/api/trpc.js";
import type { MetadataIndex } from "../../server/index/metadata-index.js";
import { parseSearch } from "../../server/index/search.js";
import type { RepositorySnapshot } from "../../server/index/types.js";
import { indexBackends } from "./backends.js";
import { blob, imageRecord, standaloneIndex } from "./fixtures.js";

const A1 = imageRecord({ label: "S-A1", config: blob("S-C-a1", 10), layers: [blob("S-L1", 100)], pushed: 1000 });
const A2 = imageRecord({ label: "S-A2", config: blob("S-C-a2", 10), layers: [blob("S-L2", 100)], pushed: 2000 });
const B1 = imageRecord({ label: "S-B1", config: blob("S-C-b1", 10), layers: [blob("S-L1", 100)], pushed: 500 });

const known: RepositorySnapshot[] = [
  {
    name: "web/app",
    manifests: [A1, A2],
    tags: [
      { tag: "v1.0", digest: A1.digest, pushed: 1100 },
      { tag: "v1.1", digest: A2.digest, pushed: 2100 },
      { tag: "latest", digest: A2.digest, pushed: 2200 },
    ],
  },
  { name: "web/api", manifests: [B1], tags: [{ tag: "v1.0-rc_1", digest: B1.digest, pushed: 600 }] },
];

describe("search text", () => {
  it("tells digest prefixes, repository:tag and plain text apart", () => {
    assert.deepEqual(parseSearch("  "), undefined);
    assert.deepEqual(parseSearch("sha256:AB12"), { kind: "digest", prefix: "sha256:ab12" });
    assert.deepEqual(parseSearch("abcdef0123"), { kind: "digest", prefix: "sha256:abcdef0123" });
    assert.deepEqual(parseSearch("abc"), { kind: "text", text: "abc" }, "too short to be a digest");
    assert.deepEqual(parseSearch("web/app:v1"), { kind: "reference", repository: "web/app", tag: "v1" });
    assert.deepEqual(parseSearch("web/app:"), { kind: "text", text: "web/app:" });
    assert.deepEqual(parseSearch("latest"), { kind: "text", text: "latest" });
  });
});

for (const backend of indexBackends) {
  describe(`metadata index search (${backend.name})`, () => {
    let index: MetadataIndex;
    before(async () => {
      index = await standaloneIndex(await backend.database());
      await index.replaceRepositories(known);
    });
    after(() => index.close());

    it("finds tags by a literal substring of their name across repositories", async () => {
      const found = await index.search("V1.0", 20);
      assert.deepEqual(found.images, []);
      assert.deepEqual(found.tags, [
        { repository: "web/api", tag: "v1.0-rc_1", digest: B1.digest },
        { repository: "web/app", tag: "v1.0", digest: A1.digest },
      ]);
      assert.deepEqual((await index.search("c%1", 20)).tags, [], "% is not a wildcard");
      assert.equal((await index.search("v1", 1)).tags.length, 1, "limit");
    });

    it("finds a repository's tags by repository:tag prefix", async () => {
      assert.deepEqual(
        (await index.search("web/app:v1", 20)).tags.map((hit) => hit.tag),
        ["v1.0", "v1.1"],
      );
      assert.deepEqual((await index.search("web/app:latest", 20)).tags, [{ repository: "web/app", tag: "latest", digest: A2.digest }]);
      assert.deepEqual((await index.search("web:latest", 20)).tags, [], "the repository name is exact");
    });

    it("finds images by a digest prefix, with or without the algorithm, and their tags", async () => {
      const hex = A2.digest.slice("sha256:".length);
      const expected = [{ repository: "web/app", digest: A2.digest, tags: ["latest", "v1.1"] }];
      assert.deepEqual((await index.search(hex.slice(0, 12), 20)).images, expected);
      assert.deepEqual((await index.search(A2.digest, 20)).images, expected);
      assert.deepEqual((await index.search(`SHA256:${hex.slice(0, 8)}`, 20)).images, expected, "case-insensitive");
      assert.deepEqual((await index.search("sha256:", 20)).images.length, 3, "every manifest shares the empty prefix");
    });

    it("answers through the console API for a signed-in user only", async () => {
      const admin = { user: "admin", role: "viewer" as const, expiresAt: Date.now() + 1e6 };
      const caller = createCaller({ session: admin, index } as unknown as ApiContext);
      const found = await caller.repositories.search({ query: B1.digest.slice(7, 19) });
      assert.deepEqual(found.images, [{ repository: "web/api", digest: B1.digest, tags: ["v1.0-rc_1"] }]);
      const anonymous = createCaller({ session: undefined, index } as unknown as ApiContext);
      await assert.rejects(anonymous.repositories.search({ query: "v1" }), /UNAUTHORIZED|sign|log/i);
    });
  });
}
