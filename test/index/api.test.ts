import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { createCaller } from "../../server/api/root.js";
import type { ApiContext } from "../../server/api/trpc.js";
import { IndexNotFoundError, IndexQueryError } from "../../server/index/errors.js";
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from "../http/harness.js";
import { openIndex, type IndexUnderTest } from "./helpers.js";

function context(r: TestRegistry, t: IndexUnderTest, session: ApiContext["session"]): ApiContext {
  return { registry: r.registry, session, index: t.index } as unknown as ApiContext;
}

async function expectCode(promise: Promise<unknown>, code: TRPCError["code"]): Promise<TRPCError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TRPCError, `expected a TRPCError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe("console API: repositories and images", () => {
  let r: TestRegistry;
  let t: IndexUnderTest;
  let image: PushedImage;
  const admin = { user: "admin", role: "admin" as const, expiresAt: Date.now() + 1e6 };

  before(async () => {
    r = await startRegistry();
    t = await openIndex(r);
    await (await t.index.start()).rebuild;
    image = await pushImage(r, "api/app", "v1", { configExtra: { created: "2024-01-01T00:00:00Z" } });
    await pushImage(r, "api/other", "v1");
    await t.index.idle();
  });
  after(async () => {
    await t.index.close();
    await r.close();
  });

  it("refuses every procedure without a session", async () => {
    const anonymous = createCaller(context(r, t, undefined));
    await expectCode(anonymous.repositories.list({}), "UNAUTHORIZED");
    await expectCode(anonymous.repositories.namespaces(), "UNAUTHORIZED");
    await expectCode(anonymous.repositories.tags({ repository: "api/app" }), "UNAUTHORIZED");
    await expectCode(anonymous.repositories.tagsSharing({ repository: "api/app", digest: image.digest }), "UNAUTHORIZED");
    await expectCode(anonymous.images.get({ repository: "api/app", reference: "v1" }), "UNAUTHORIZED");
    await expectCode(anonymous.images.stats(), "UNAUTHORIZED");
    await expectCode(anonymous.images.activity({}), "UNAUTHORIZED");
  });

  it("answers with a session", async () => {
    const caller = createCaller(context(r, t, admin));
    const list = await caller.repositories.list({ namespace: "api", sort: "name", order: "desc", limit: 1 });
    assert.deepEqual(list.rows.map((row) => row.name), ["api/other"]);
    assert.equal(list.total, 2);
    assert.ok(list.nextCursor);
    const next = await caller.repositories.list({ namespace: "api", sort: "name", order: "desc", limit: 1, cursor: list.nextCursor });
    assert.deepEqual(next.rows.map((row) => row.name), ["api/app"]);
    assert.deepEqual(await caller.repositories.list(), await caller.repositories.list({}));
    assert.deepEqual(await caller.repositories.namespaces(), [{ namespace: "api", repositories: 2 }]);
    const tags = await caller.repositories.tags({ repository: "api/app", sort: "created", order: "desc" });
    assert.deepEqual(tags.rows.map((row) => [row.tag, row.digest, row.created]), [["v1", image.digest, Date.parse("2024-01-01T00:00:00Z")]]);
    assert.deepEqual(await caller.repositories.tagsSharing({ repository: "api/app", digest: image.digest }), ["v1"]);
    const detail = await caller.images.get({ repository: "api/app", reference: "v1" });
    assert.equal(detail.digest, image.digest);
    assert.equal(detail.kind, "image");
    const stats = await caller.images.stats();
    assert.equal(stats.repositories, 2);
    assert.equal(stats.tags, 2);
    assert.equal(stats.index.rebuilding, false);
    const activity = await caller.images.activity({ limit: 1 });
    assert.equal(activity.length, 1);
    assert.equal(activity[0]?.repository, "api/other");
  });

  it("reports unknown repositories and references as NOT_FOUND, keeping the cause", async () => {
    const caller = createCaller(context(r, t, admin));
    const tags = await expectCode(caller.repositories.tags({ repository: "api/none" }), "NOT_FOUND");
    assert.ok(tags.cause instanceof IndexNotFoundError);
    await expectCode(caller.repositories.tagsSharing({ repository: "api/none", digest: image.digest }), "NOT_FOUND");
    const get = await expectCode(caller.images.get({ repository: "api/app", reference: "v404" }), "NOT_FOUND");
    assert.ok(get.cause instanceof IndexNotFoundError);
  });

  it("reports bad input as BAD_REQUEST", async () => {
    const caller = createCaller(context(r, t, admin));
    const cursor = await expectCode(caller.repositories.list({ cursor: "garbage" }), "BAD_REQUEST");
    assert.ok(cursor.cause instanceof IndexQueryError);
    await expectCode(caller.images.get({ repository: "api/app", reference: "sha256:nothex" }), "BAD_REQUEST");
    await expectCode(caller.images.get({ repository: "API/App", reference: "v1" }), "BAD_REQUEST");
    await expectCode(caller.repositories.list({ limit: 0 }), "BAD_REQUEST");
    await expectCode(caller.repositories.list({ sort: "bogus" as "name" }), "BAD_REQUEST");
    await expectCode(caller.repositories.tags({ repository: "" }), "BAD_REQUEST");
  });
});
