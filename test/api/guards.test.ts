import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { appRouter, createCaller } from "../../server/api/root.js";
import type { ApiServices } from "../../server/api/trpc.js";
import { roles, type Role } from "../../server/console-auth/roles.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";

/**
 * Who may call each procedure: the least role, "public" (login) or "self" (acts on the caller's
 * own session or account, any logged-in user). A procedure missing here fails the first test, so
 * a new one is classified by whoever adds it.
 */
const expected: Record<string, Role | "public" | "self"> = {
  "auth.login": "public",
  "auth.logout": "self",
  "auth.changePassword": "self",
  "auth.me": "viewer",
  "system.health": "viewer",
  "repositories.list": "viewer",
  "repositories.namespaces": "viewer",
  "repositories.tags": "viewer",
  "repositories.search": "viewer",
  "repositories.tagsSharing": "viewer",
  "images.get": "viewer",
  "images.stats": "viewer",
  "images.activity": "viewer",
  "proxy.overview": "viewer",
  "proxy.image": "viewer",
  "proxy.evict": "maintainer",
  "maintenance.readOnly": "viewer",
  "maintenance.setReadOnly": "maintainer",
  "maintenance.runGc": "maintainer",
  "maintenance.gcStatus": "viewer",
  "maintenance.gcSettings": "viewer",
  "maintenance.gcHistory": "viewer",
  "maintenance.softDelete": "maintainer",
  "maintenance.untag": "maintainer",
  "maintenance.previewCleanup": "viewer",
  "maintenance.applyCleanup": "maintainer",
  "maintenance.policies": "viewer",
  "maintenance.savePolicy": "maintainer",
  "maintenance.deletePolicy": "maintainer",
  "maintenance.runPolicy": "maintainer",
  "config.get": "admin",
  "config.host": "viewer",
  "config.validate": "admin",
  "config.diff": "admin",
  "config.applyChanges": "admin",
  "config.activity": "viewer",
  "registryAuth.status": "viewer",
  "registryAuth.enableToken": "admin",
  "registryAuth.disableToken": "admin",
  "registryAuth.tokenServer": "admin",
  "users.list": "admin",
  "users.add": "admin",
  "users.setPassword": "admin",
  "users.setRole": "admin",
  "users.setDisabled": "admin",
  "users.remove": "admin",
};

const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
const paths = Object.keys(procedures);
const isQuery = (path: string) => procedures[path]?._def.type === "query";

type Callable = (input?: unknown) => Promise<unknown>;
const procedureOf = (caller: unknown, path: string) => path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as Callable;
const hasCode = (code: string) => (error: unknown) => error instanceof TRPCError && error.code === code;

/** Calls with an empty input: a refusal by role comes before input validation, anything else is past the guard. */
async function refusedWith(caller: unknown, path: string): Promise<string | undefined> {
  try {
    await procedureOf(caller, path)({});
    return undefined;
  } catch (error) {
    return error instanceof TRPCError && ["FORBIDDEN", "UNAUTHORIZED"].includes(error.code) ? error.code : undefined;
  }
}

// Each test enumerates the whole router, so a procedure added later cannot forget its guard.
describe("every console procedure is guarded by session and role", () => {
  let services: ApiServices;
  before(async () => {
    services = await createTestApiServices(createDriver("inmemory"));
  });
  after(() => services.maintenance.readOnly.close());

  it("classifies every procedure of the router, and no mutation as open to viewers", () => {
    assert.deepEqual([...paths].sort(), Object.keys(expected).sort(), "add the new procedure's role to `expected`");
    const viewerMutations = paths.filter((path) => !isQuery(path) && expected[path] === "viewer");
    assert.deepEqual(viewerMutations, [], "a change needs at least a maintainer");
  });

  it("refuses each anonymous call but login with UNAUTHORIZED, whatever the input", async () => {
    const anonymous = createCaller({ ...services, session: undefined });
    for (const path of paths) {
      if (expected[path] === "public") continue;
      await assert.rejects(procedureOf(anonymous, path)({}), hasCode("UNAUTHORIZED"), `${path} answered an anonymous call`);
    }
  });

  // Logging out ends the caller's sessions: run it last, after every other procedure.
  const order = (path: string) => (path === "auth.logout" ? 1 : 0);

  for (const role of roles) {
    it(`lets ${role === "admin" ? "an" : "a"} ${role} through exactly the procedures its role allows (FORBIDDEN for the others)`, async () => {
      const caller = callerFor(services, `a-${role}`, role);
      const refusedPaths: string[] = [];
      for (const path of [...paths].sort((a, b) => order(a) - order(b))) {
        const refusal = await refusedWith(caller, path);
        if (refusal) refusedPaths.push(`${path} ${refusal}`);
      }
      const wanted = paths
        .filter((path) => {
          const needed = expected[path];
          return needed !== "public" && needed !== "self" && needed !== undefined && roles.indexOf(role) < roles.indexOf(needed);
        })
        .map((path) => `${path} FORBIDDEN`);
      assert.deepEqual(refusedPaths.sort(), wanted.sort());
    });
  }

  it("lets a viewer change their own password and log out", async () => {
    const viewer = callerFor(services, "vera", "viewer");
    await assert.rejects(procedureOf(viewer, "auth.changePassword")({}), hasCode("BAD_REQUEST"), "past the role check, to input validation");
    assert.deepEqual(await procedureOf(viewer, "auth.logout")(), { ok: true });
  });
});
