import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { createCaller } from "../../server/api/root.js";
import type { ApiServices } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { callerFor, createTestApiServices } from "../support/api.js";
import { eventually } from "../support/eventually.js";

/** The console's services and a registry on an in-memory storage of their own, for one suite. */
function ownStorage(): { services: ApiServices; r: TestRegistry } {
  const suite = {} as { services: ApiServices; r: TestRegistry };
  before(async () => {
    const driver = createDriver("inmemory");
    suite.services = await createTestApiServices(driver);
    suite.r = await startRegistry({ registry: suite.services.registry, driver });
  });
  after(async () => {
    await suite.r.close();
    await suite.services.maintenance.readOnly.close();
  });
  return suite;
}

describe("console API: maintenance (read-only, soft delete, cleanup, garbage collection)", () => {
  const suite = ownStorage();
  let services: ApiServices;
  let r: TestRegistry;
  before(() => ({ services, r } = suite));

  it("refuses every maintenance procedure without a session", async () => {
    const anonymous = createCaller({ ...services, session: undefined });
    await assert.rejects(anonymous.maintenance.readOnly(), (error: unknown) => error instanceof TRPCError && error.code === "UNAUTHORIZED");
    await assert.rejects(anonymous.maintenance.runGc({ dryRun: true, deleteUntagged: false }), (error: unknown) => error instanceof TRPCError && error.code === "UNAUTHORIZED");
  });

  it("switches the registry to read-only and back", async () => {
    const caller = callerFor(services);
    const on = await caller.maintenance.setReadOnly({ enabled: true, reason: "test" });
    assert.equal(on.readOnly, true);
    assert.equal((await r.fetch("/v2/ro/app/blobs/uploads/", { method: "POST" })).status, 405);
    assert.equal((await r.fetch("/v2/")).status, 200);
    assert.equal((await caller.maintenance.setReadOnly({ enabled: false })).readOnly, false);
    assert.equal((await r.fetch("/v2/ro/app/blobs/uploads/", { method: "POST" })).status, 202);
  });

  it("untags and soft-deletes with the tags that shared the digest", async () => {
    const caller = callerFor(services);
    const image = await pushImage(r, "sd/app", "v1");
    for (const tag of ["v2", "latest"]) {
      const put = await r.fetch(`/v2/sd/app/manifests/${tag}`, { method: "PUT", headers: { "Content-Type": image.mediaType }, body: image.manifest });
      assert.equal(put.status, 201);
    }
    const untagged = await caller.maintenance.untag({ repository: "sd/app", tag: "v2" });
    assert.deepEqual([...untagged.sharedTags].sort(), ["latest", "v1"], "the other tags on the same manifest");
    assert.equal(untagged.untagged, false);
    assert.equal((await r.fetch(`/v2/sd/app/manifests/${image.digest}`)).status, 200, "other tags keep the manifest");
    const deleted = await caller.maintenance.softDelete({ repository: "sd/app", digest: image.digest });
    assert.deepEqual([...deleted.sharedTags].sort(), ["latest", "v1"]);
    assert.equal((await r.fetch(`/v2/sd/app/manifests/${image.digest}`)).status, 404);
    // No tag left: an empty list, or NAME_UNKNOWN where the driver drops empty directories.
    const list = await r.fetch("/v2/sd/app/tags/list");
    const body = (await list.json()) as { tags?: string[]; errors?: { code: string }[] };
    if (list.status === 200) assert.deepEqual(body.tags, []);
    else assert.deepEqual([list.status, body.errors?.[0]?.code], [404, "NAME_UNKNOWN"]);
  });

  it("runs a garbage collection from the console, records it, and refuses a second one meanwhile", async () => {
    const caller = callerFor(services);
    const image = await pushImage(r, "gc/app", "v1");
    await caller.maintenance.softDelete({ repository: "gc/app", digest: image.digest });
    assert.deepEqual(await caller.maintenance.runGc({ dryRun: false, deleteUntagged: false }), { started: true });
    await assert.rejects(caller.maintenance.runGc({ dryRun: false, deleteUntagged: false }), (error: unknown) => error instanceof TRPCError && error.code === "CONFLICT");
    let history: Awaited<ReturnType<typeof caller.maintenance.gcHistory>> = [];
    await eventually(
      async () => {
        history = await caller.maintenance.gcHistory({ limit: 5 });
        return history.length > 0;
      },
      5_000,
      "the collection to be recorded",
    );
    assert.equal(history[0]?.status, "succeeded", JSON.stringify(history[0]));
    assert.equal(history[0]?.user, "admin");
    assert.equal((await caller.maintenance.gcStatus()).running, null);
    assert.equal((await caller.maintenance.readOnly()).readOnly, false, "the previous mode is back");
  });

  it("saves a cleanup policy, runs it (apply, then collect garbage) and records the run", async () => {
    const caller = callerFor(services);
    const images = [];
    for (const tag of ["1", "2", "3"]) {
      images.push(await pushImage(r, "pol/app", tag));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const saved = await caller.maintenance.savePolicy({ policy: { name: "keep newest", rules: [{ repository: "pol/*", keepLast: 1 }], gc: true, deleteUntagged: false, everyHours: 24 } });
    assert.equal((await caller.maintenance.policies()).length, 1);
    const result = await caller.maintenance.runPolicy({ id: saved.id });
    assert.deepEqual(result.applied.deleted.map((m) => m.digest).sort(), [images[0]?.digest, images[1]?.digest].sort());
    assert.equal(result.gc?.status, "succeeded");
    // Just pushed: the freed layers are younger than the configured grace period (gc.grace,
    // 10 min by default), so this collection keeps them, and says so.
    assert.ok((result.gc?.report?.blobsInGrace ?? 0) >= 4, `in grace: ${result.gc?.report?.blobsInGrace}`);
    assert.equal((await r.fetch(`/v2/pol/app/manifests/3`)).status, 200);
    assert.equal((await r.fetch(`/v2/pol/app/manifests/1`)).status, 404);
    const [policy] = await caller.maintenance.policies();
    assert.equal(policy?.lastRun?.ok, true);
    assert.equal(policy?.lastRun?.by, "admin");
    assert.deepEqual(await services.maintenance.policies.due(), [], "just ran: not due for 24 hours");
    assert.equal((await services.maintenance.policies.due(Date.now() + 25 * 3_600_000)).length, 1);

    await caller.maintenance.deletePolicy({ id: saved.id });
    await assert.rejects(caller.maintenance.runPolicy({ id: saved.id }), (error: unknown) => error instanceof TRPCError && error.code === "NOT_FOUND");
  });

  it("a policy run in progress is claimed: not due, a second run refused; a stale claim is ignored", async () => {
    const caller = callerFor(services);
    // Deleting untagged manifests runs its collection read-only, which waits for writes in progress.
    const saved = await caller.maintenance.savePolicy({ policy: { name: "claimed", rules: [{ repository: "nothing/*", keepLast: 1 }], gc: true, deleteUntagged: true, everyHours: 1 } });
    const later = () => Date.now() + 2 * 3_600_000;
    assert.equal((await services.maintenance.policies.due(later())).length, 1);
    // A write in progress holds the run's collection, so the run stays in progress meanwhile.
    const endWrite = services.maintenance.writes.beginWrite();
    const first = caller.maintenance.runPolicy({ id: saved.id });
    let policy: Awaited<ReturnType<typeof caller.maintenance.policies>>[number] | undefined;
    await eventually(
      async () => {
        [policy] = (await caller.maintenance.policies()).filter((p) => p.id === saved.id);
        return Boolean(policy?.running);
      },
      2_000,
      "the run to be claimed",
    );
    assert.equal(policy?.running?.by, "admin");
    assert.deepEqual(await services.maintenance.policies.due(later()), [], "claimed: the scheduler leaves it alone");
    await assert.rejects(
      caller.maintenance.runPolicy({ id: saved.id }),
      (error: unknown) => error instanceof TRPCError && error.code === "CONFLICT" && /already running/.test(error.message),
    );
    endWrite();
    assert.equal((await first).gc?.status, "succeeded");
    [policy] = (await caller.maintenance.policies()).filter((p) => p.id === saved.id);
    assert.equal(policy?.running, undefined, "the claim ends with the run");
    assert.equal(policy?.lastRun?.ok, true);

    // A claim left behind by an instance that died mid-run stops nothing once it is old.
    const file = "/docker/registry/v2/_berth/cleanup/policies.json";
    const stored = JSON.parse((await services.maintenance.driver.getContent(file)).toString("utf8")) as { id: string; running?: unknown }[];
    const since = new Date(Date.now() - 7 * 3_600_000).toISOString();
    await services.maintenance.driver.putContent(file, JSON.stringify(stored.map((p) => (p.id === saved.id ? { ...p, running: { since, by: "schedule", token: "dead" } } : p))));
    assert.equal((await services.maintenance.policies.due(later())).length, 1);
    assert.equal((await caller.maintenance.runPolicy({ id: saved.id })).gc?.status, "succeeded");
    await caller.maintenance.deletePolicy({ id: saved.id });
  });
});

/**
 * The console's promise about space: the cleanup preview states the grace period it assumes
 * (`gc.grace`), and a collection started from the console with that grace frees exactly what it
 * previewed; what the grace kept is freed by a run once it has passed (here: a run with none).
 * A storage of its own, so no other test's garbage is counted.
 */
describe("console API: cleanup preview and garbage collection agree on the grace period", () => {
  const suite = ownStorage();
  let services: ApiServices;
  let r: TestRegistry;
  before(() => ({ services, r } = suite));

  const runToEnd = async (caller: ReturnType<typeof callerFor>, input: { graceMs?: number }) => {
    const before = (await caller.maintenance.gcHistory({ limit: 1 }))[0]?.id;
    assert.deepEqual(await caller.maintenance.runGc({ dryRun: false, deleteUntagged: false, ...input }), { started: true });
    let latest: Awaited<ReturnType<typeof caller.maintenance.gcHistory>>[number] | undefined;
    await eventually(
      async () => {
        [latest] = await caller.maintenance.gcHistory({ limit: 1 });
        return latest !== undefined && latest.id !== before && (await caller.maintenance.gcStatus()).running === null;
      },
      5_000,
      "the collection to end",
    );
    return latest!;
  };

  it("previews with gc.grace, frees what it previewed with that grace, and the rest once the grace is over", async () => {
    const caller = callerFor(services);
    assert.deepEqual(await caller.maintenance.gcSettings(), { graceMs: 10 * 60_000, schedule: null });
    for (const tag of ["1", "2", "3"]) {
      await pushImage(r, "grace/app", tag);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rules = [{ repository: "grace/*", keepLast: 1 }];
    const preview = await caller.maintenance.previewCleanup({ rules });
    assert.equal(preview.graceMs, 10 * 60_000);
    assert.equal(preview.manifests.length, 2);
    // Everything was pushed a moment ago: nothing is freed with the grace, all of it later.
    assert.equal(preview.totalBytes, 0);
    assert.ok(preview.bytesInGrace > 0);
    const applied = await caller.maintenance.applyCleanup({ rules });
    assert.equal(applied.deleted.length, 2);
    assert.equal(applied.preview.bytesInGrace, preview.bytesInGrace);

    const withGrace = await runToEnd(caller, {});
    assert.equal(withGrace.status, "succeeded", withGrace.error);
    assert.equal(withGrace.report?.graceMs, preview.graceMs);
    assert.equal(withGrace.report?.bytesFreed, preview.totalBytes);
    assert.equal(withGrace.report?.kept.inGrace.bytes, preview.bytesInGrace, "the grace kept what the preview said it would");

    const overridden = await runToEnd(caller, { graceMs: 0 });
    assert.equal(overridden.report?.graceMs, 0);
    assert.equal(overridden.report?.bytesFreed, preview.bytesInGrace);
    assert.equal(overridden.report?.kept.inGrace.blobs, 0);
    assert.equal((await r.fetch("/v2/grace/app/manifests/3")).status, 200);
  });

  it("refuses a grace period that is negative, fractional or beyond 30 days", async () => {
    const caller = callerFor(services);
    for (const graceMs of [-1, 0.5, 31 * 24 * 60 * 60_000]) {
      await assert.rejects(caller.maintenance.runGc({ dryRun: true, deleteUntagged: false, graceMs }), (error: unknown) => error instanceof TRPCError && error.code === "BAD_REQUEST");
    }
    assert.equal((await caller.maintenance.gcStatus()).running, null);
  });
});
