import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { appRouter, createCaller } from "../../server/api/root.js";
import type { ApiServices, ProcedureMeta } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";

/** The only procedure an anonymous caller may reach. */
const publicProcedures = new Set(["auth.login"]);
/** The only mutations a viewer may call: they act on the caller's own session or account. */
const selfService = ["auth.changePassword", "auth.logout"];

const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: ProcedureMeta } }>;
const paths = Object.keys(procedures);

type Callable = (input?: unknown) => Promise<unknown>;
const procedureOf = (caller: unknown, path: string) => path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as Callable;
const hasCode = (code: string) => (error: unknown) => error instanceof TRPCError && error.code === code;

// Each test enumerates the whole router, so a procedure added later cannot forget its guard.
describe("every console procedure is guarded by session and role", () => {
  let services: ApiServices;
  before(async () => {
    services = await createTestApiServices(createDriver("inmemory"));
  });
  after(() => services.maintenance.readOnly.close());

  it("refuses each anonymous call but login with UNAUTHORIZED, whatever the input", async () => {
    assert.ok(paths.length >= 10, `only ${paths.length} procedures found: ${paths.join(", ")}`);
    const anonymous = createCaller({ ...services, session: undefined });
    for (const path of paths) {
      if (publicProcedures.has(path)) continue;
      await assert.rejects(procedureOf(anonymous, path)({}), hasCode("UNAUTHORIZED"), `${path} answered an anonymous call`);
    }
  });

  it("refuses each mutation of a viewer with FORBIDDEN, whatever the input, but the self-service ones", async () => {
    const viewer = callerFor(services, "vera", "viewer");
    const mutations = paths.filter((path) => procedures[path]?._def.type !== "query" && !publicProcedures.has(path));
    assert.ok(mutations.length >= 15, `only ${mutations.length} mutations found: ${mutations.join(", ")}`);
    for (const path of mutations) {
      if (selfService.includes(path)) continue;
      await assert.rejects(procedureOf(viewer, path)({}), hasCode("FORBIDDEN"), `${path} let a viewer through`);
    }
  });

  it("opens exactly the listed self-service mutations to a viewer", async () => {
    const opened = paths.filter((path) => procedures[path]?._def.meta?.selfService).sort();
    assert.deepEqual(opened, selfService, "a new selfService procedure must be reviewed and listed here");
    const viewer = callerFor(services, "vera", "viewer");
    await assert.rejects(procedureOf(viewer, "auth.changePassword")({}), hasCode("BAD_REQUEST"), "past the role check, to input validation");
    assert.deepEqual(await procedureOf(viewer, "auth.logout")(), { ok: true });
  });

  it("lets a viewer reach every query (whatever the query then answers)", async () => {
    const viewer = callerFor(services, "vera", "viewer");
    for (const path of paths.filter((candidate) => procedures[candidate]?._def.type === "query")) {
      await procedureOf(viewer, path)({}).catch((error: unknown) => {
        assert.ok(!(error instanceof TRPCError && ["FORBIDDEN", "UNAUTHORIZED"].includes(error.code)), `${path} refused a viewer: ${String(error)}`);
      });
    }
  });
});
