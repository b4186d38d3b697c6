import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { appRouter, createCaller } from "../../server/api/root.js";
import type { ApiServices } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { createTestApiServices } from "../support/api.js";

/** The only procedure an anonymous caller may reach. */
const publicProcedures = new Set(["auth.login"]);

// Enumerates the whole router, so a procedure added later cannot forget its guard.
describe("every console procedure but login needs a session", () => {
  let services: ApiServices;
  before(async () => {
    services = await createTestApiServices(createDriver("inmemory"));
  });
  after(() => services.maintenance.readOnly.close());

  it("refuses each anonymous call with UNAUTHORIZED, whatever the input", async () => {
    const paths = Object.keys(appRouter._def.procedures);
    assert.ok(paths.length >= 10, `only ${paths.length} procedures found: ${paths.join(", ")}`);
    const anonymous = createCaller({ ...services, session: undefined });
    for (const path of paths) {
      if (publicProcedures.has(path)) continue;
      const procedure = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], anonymous) as (input?: unknown) => Promise<unknown>;
      await assert.rejects(procedure({}), (error: unknown) => error instanceof TRPCError && error.code === "UNAUTHORIZED", `${path} answered an anonymous call`);
    }
  });
});
