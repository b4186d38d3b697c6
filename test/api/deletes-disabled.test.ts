import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { ApiServices } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { callerFor, createTestApiServices } from "../support/api.js";

const refusedAsDisabled = (error: unknown) =>
  error instanceof TRPCError && error.code === "PRECONDITION_FAILED" && /storage\.delete\.enabled/.test(error.message);

describe("console deletes obey storage.delete.enabled, like the registry API", () => {
  let services: ApiServices;
  let r: TestRegistry;
  /** What the engine's deleteEnabled() hook reads, as a reload would change it. */
  let deletes = false;

  before(async () => {
    const driver = createDriver("inmemory");
    services = await createTestApiServices(driver, { deleteEnabled: () => deletes });
    r = await startRegistry({ registry: services.registry, driver });
  });
  after(async () => {
    await r.close();
    await services.maintenance.readOnly.close();
  });

  it("refuses soft delete by digest and by tag, cleanup apply and policy runs while deletes are off", async () => {
    const caller = callerFor(services);
    const image = await pushImage(r, "keep/app", "v1");
    const rules = [{ repository: "keep/**", keepLast: 0 }];
    const policy = await caller.maintenance.savePolicy({ policy: { name: "everything", rules, gc: false } });

    await assert.rejects(caller.maintenance.softDelete({ repository: "keep/app", digest: image.digest }), refusedAsDisabled);
    await assert.rejects(caller.maintenance.untag({ repository: "keep/app", tag: "v1" }), refusedAsDisabled);
    await assert.rejects(caller.maintenance.applyCleanup({ rules }), refusedAsDisabled);
    await assert.rejects(caller.maintenance.runPolicy({ id: policy.id }), refusedAsDisabled);
    // The registry API refuses the same delete, and nothing was deleted by the console.
    assert.equal((await r.fetch(`/v2/keep/app/manifests/${image.digest}`, { method: "DELETE" })).status, 405);
    assert.equal((await r.fetch("/v2/keep/app/manifests/v1")).status, 200);
    // A preview deletes nothing: still allowed.
    assert.equal((await caller.maintenance.previewCleanup({ rules })).manifests.length, 1);
  });

  it("deletes once storage.delete.enabled is on again (read at each call)", async () => {
    const caller = callerFor(services);
    const image = await pushImage(r, "gone/app", "v1");
    deletes = true;
    try {
      await caller.maintenance.softDelete({ repository: "gone/app", digest: image.digest });
      assert.equal((await r.fetch("/v2/gone/app/manifests/v1")).status, 404);
    } finally {
      deletes = false;
    }
  });
});
