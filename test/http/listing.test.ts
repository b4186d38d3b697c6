import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { expectError, OCI_MANIFEST, pushBlob, pushImage, putManifest, startRegistry, type TestRegistry } from "./harness.js";

/** `</v2/...?n=2&last=b>; rel="next"` → the path and query to fetch next. */
function nextLink(res: Response): string | undefined {
  const header = res.headers.get("link");
  if (header === null) return undefined;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(header.trim());
  assert.ok(match, `malformed Link header: ${header}`);
  const target = match[1]!;
  return /^https?:\/\//.test(target) ? new URL(target).pathname + new URL(target).search : target;
}

describe("tags list", () => {
  let r: TestRegistry;
  // Lexical (byte-wise) order: upper case before lower case, "10" before "9".
  const tags = ["v1", "V2", "latest", "10", "9", "a_b", "a-b", "a.b", "_x"];
  before(async () => {
    r = await startRegistry();
    const image = await pushImage(r, "list/app", tags[0]);
    for (const tag of tags.slice(1)) {
      const res = await putManifest(r, "list/app", tag, image.manifest, OCI_MANIFEST);
      assert.equal(res.status, 201);
    }
  });
  after(() => r.close());

  it("lists every tag in lexical order", async () => {
    const res = await r.fetch("/v2/list/app/tags/list");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.headers.get("link"), null);
    assert.deepEqual(await res.json(), { name: "list/app", tags: [...tags].sort() });
    assert.deepEqual([...tags].sort(), ["10", "9", "V2", "_x", "a-b", "a.b", "a_b", "latest", "v1"]);
  });

  it("pages with n and last, with a Link header to the next page", async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let path: string | undefined = "/v2/list/app/tags/list?n=4";
    const links: string[] = [];
    while (path) {
      const res: Response = await r.fetch(path);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { name: string; tags: string[] };
      assert.equal(body.name, "list/app");
      sizes.push(body.tags.length);
      seen.push(...body.tags);
      path = nextLink(res);
      if (path) links.push(path);
      assert.ok(links.length < 10, "pagination terminates");
    }
    assert.deepEqual(seen, [...tags].sort());
    // The spec allows fewer than n results only when fewer remain: 9 tags are 4 + 4 + 1.
    assert.deepEqual(sizes, [4, 4, 1]);
    assert.equal(links.length, 2);
    const first = new URL(links[0]!, "http://x");
    assert.equal(first.pathname, "/v2/list/app/tags/list");
    assert.equal(first.searchParams.get("n"), "4");
    assert.equal(first.searchParams.get("last"), "_x");
  });

  it("starts after `last` even when it is not a tag", async () => {
    const res = await r.fetch("/v2/list/app/tags/list?last=b");
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, ["latest", "v1"]);
    const none = await r.fetch("/v2/list/app/tags/list?last=zzz");
    assert.deepEqual(((await none.json()) as { tags: string[] | null }).tags ?? [], []);
  });

  it("returns exactly n tags and no Link when n covers the rest", async () => {
    const res = await r.fetch(`/v2/list/app/tags/list?n=${tags.length}`);
    assert.equal(((await res.json()) as { tags: string[] }).tags.length, tags.length);
    assert.equal(res.headers.get("link"), null);
  });

  it("refuses an invalid n with 400 PAGINATION_NUMBER_INVALID", async () => {
    for (const n of ["-1", "abc", "1.5", "1e3"]) {
      await expectError(await r.fetch(`/v2/list/app/tags/list?n=${n}`), 400, "PAGINATION_NUMBER_INVALID");
    }
  });

  it("answers an unknown repository with 404 NAME_UNKNOWN", async () => {
    await expectError(await r.fetch("/v2/list/unknown/tags/list"), 404, "NAME_UNKNOWN");
    await pushBlob(r, "list/blobs-only", randomBytes(10));
    await expectError(await r.fetch("/v2/list/blobs-only/tags/list"), 404, "NAME_UNKNOWN");
  });
});

describe("catalog", () => {
  let r: TestRegistry;
  const names = ["zeta", "alpha", "alpha/nested", "alpha/nested/deeper", "beta-1", "beta.0", "gamma_x"];
  before(async () => {
    r = await startRegistry();
    // Listed once before the pushes, so the catalog must also follow what is pushed afterwards.
    const empty = await r.fetch("/v2/_catalog");
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), { repositories: [] });
    for (const name of names) await pushImage(r, name, "latest");
    await pushBlob(r, "blobs/only", randomBytes(10));
    const session = await r.fetch("/v2/uploads/only/blobs/uploads/", { method: "POST" });
    assert.equal(session.status, 202);
  });
  after(() => r.close());

  it("lists repositories with manifests, sorted, nested names included, blob-only ones not", async () => {
    const res = await r.fetch("/v2/_catalog");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("link"), null);
    assert.deepEqual(await res.json(), { repositories: [...names].sort() });
  });

  it("pages with n and last and a Link header", async () => {
    const seen: string[] = [];
    let path: string | undefined = "/v2/_catalog?n=3";
    const sizes: number[] = [];
    let pages = 0;
    while (path) {
      const res: Response = await r.fetch(path);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { repositories: string[] };
      sizes.push(body.repositories.length);
      seen.push(...body.repositories);
      path = nextLink(res);
      if (path) {
        const url = new URL(path, "http://x");
        assert.equal(url.pathname, "/v2/_catalog");
        assert.equal(url.searchParams.get("n"), "3");
        assert.equal(url.searchParams.get("last"), body.repositories[body.repositories.length - 1]);
      }
      pages += 1;
      assert.ok(pages < 10, "pagination terminates");
    }
    assert.equal(pages, 3);
    // Full pages of n until fewer remain: 7 repositories are 3 + 3 + 1.
    assert.deepEqual(sizes, [3, 3, 1]);
    assert.deepEqual(seen, [...names].sort());
  });

  it("starts after `last`", async () => {
    const res = await r.fetch("/v2/_catalog?last=alpha/nested");
    assert.deepEqual(((await res.json()) as { repositories: string[] }).repositories, ["alpha/nested/deeper", "beta-1", "beta.0", "gamma_x", "zeta"]);
  });

  it("refuses an invalid n with 400 PAGINATION_NUMBER_INVALID", async () => {
    for (const n of ["-1", "abc"]) await expectError(await r.fetch(`/v2/_catalog?n=${n}`), 400, "PAGINATION_NUMBER_INVALID");
  });

  it("lists repositories found in storage by a fresh instance", async () => {
    const fresh = await startRegistry({ driver: r.driver });
    try {
      const res = await fresh.fetch("/v2/_catalog");
      assert.deepEqual(await res.json(), { repositories: [...names].sort() });
    } finally {
      await fresh.close();
    }
  });

  it("lists at once a repository another instance on the same storage added after its walk", async () => {
    const other = await startRegistry({ driver: r.driver });
    try {
      assert.deepEqual(await (await other.fetch("/v2/_catalog")).json(), { repositories: [...names].sort() });
      await pushImage(r, "added/elsewhere", "latest");
      await pushImage(other, "added/here", "latest");
      const expected = { repositories: [...names, "added/elsewhere", "added/here"].sort() };
      assert.deepEqual(await (await other.fetch("/v2/_catalog")).json(), expected);
      assert.deepEqual(await (await r.fetch("/v2/_catalog")).json(), expected);
    } finally {
      await other.close();
    }
  });
});
