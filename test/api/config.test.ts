import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { ApiServices } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";

const secret = "very-secret-http-value";

describe("console API: the config.yml editor", () => {
  let dir: string;
  let file: string;
  let services: ApiServices;
  const reloads: string[] = [];
  const original = [
    "# the registry's configuration",
    "version: 0.1",
    "log:",
    "  level: info",
    "storage:",
    "  inmemory: {}",
    "http:",
    "  addr: 127.0.0.1:5000",
    `  secret: ${secret}  # shared by every instance`,
    "",
  ].join("\n");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-config-api-"));
    file = join(dir, "config.yml");
    await writeFile(file, original);
    const base = await createTestApiServices(createDriver("inmemory"));
    services = {
      ...base,
      configuration: {
        file,
        current: base.configuration.current,
        reload: async () => {
          reloads.push(await readFile(file, "utf8"));
          return { applied: ["log.level"], restartNeeded: [] };
        },
      },
    };
  });
  after(async () => {
    await services.maintenance.readOnly.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("shows the file with its comments but never the secret", async () => {
    const shown = await callerFor(services).config.get();
    assert.ok(!shown.text.includes(secret), shown.text);
    assert.match(shown.text, /# the registry's configuration/);
    assert.match(shown.text, /secret: "\[redacted:http\.secret\]"\s+# shared by every instance/);
  });

  it("points at the line of a problem in the edited text", async () => {
    const shown = await callerFor(services).config.get();
    const broken = shown.text.replace("addr: 127.0.0.1:5000", "addr: nowhere");
    const result = await callerFor(services).config.validate({ text: broken, dryRun: false });
    const problem = result.problems.find((p: { path: string }) => p.path === "http.addr") as { line?: number } | undefined;
    assert.equal(problem?.line, 8);
  });

  it("applies an edit, keeps the untouched secret, reloads, and records who did it", async () => {
    const caller = callerFor(services);
    const shown = await caller.config.get();
    const edited = shown.text.replace("level: info", "level: debug");
    const result = await caller.config.applyChanges({ text: edited, revision: shown.revision ?? undefined });
    assert.equal(result.ok, true, JSON.stringify(result));
    const written = await readFile(file, "utf8");
    assert.match(written, /level: debug/);
    assert.ok(written.includes(`secret: ${secret}`), written);
    assert.equal(reloads.length, 1);
    const activity = await caller.config.activity({ limit: 5 });
    assert.equal(activity[0]?.action, "config.apply");
    assert.equal(activity[0]?.user, "admin");
  });

  it("refuses an apply based on an outdated revision", async () => {
    const caller = callerFor(services);
    const stale = await caller.config.get();
    await writeFile(file, original.replace("level: info", "level: warn"));
    await assert.rejects(
      caller.config.applyChanges({ text: stale.text, revision: stale.revision ?? undefined }),
      (error: unknown) => error instanceof TRPCError && error.code === "CONFLICT",
    );
  });
});
