import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { ApiServices } from "../../server/api/trpc.js";
import type { Config } from "../../server/config/schema.js";
import { validateConfigText } from "../../server/config/validate.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";
import { fakeEtcd } from "../support/etcd.js";

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

describe("console API: the config editor reads and writes only where the operator allowed", () => {
  let root: string;
  let file: string;
  let services: ApiServices;
  let running: Config;
  const shadow = "root:$6$Zq9vX1sAltSalt$hashedSecretValue0123456789:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n";
  const base = (root: string, extra: string[] = []) =>
    ["version: 0.1", "storage:", "  filesystem:", `    rootdirectory: ${join(root, "data")}`, "console:", `  statedir: ${join(root, "state")}`, ...extra, ""].join("\n");

  /** What SIGHUP does: the running configuration becomes the file's. */
  async function reloadFile(): Promise<void> {
    const result = await validateConfigText(await readFile(file, "utf8"), { env: {} });
    assert.ok(result.config, JSON.stringify(result.problems));
    running = result.config;
  }

  async function validate(text: string, options: { dryRun?: boolean; connect?: boolean } = {}) {
    return callerFor(services).config.validate({ text, dryRun: options.dryRun ?? false, connect: options.connect ?? false });
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-config-paths-"));
    for (const sub of ["etc", "data", "state", "outside"]) await mkdir(join(root, sub));
    await writeFile(join(root, "outside", "shadow"), shadow);
    file = join(root, "etc", "config.yml");
    await writeFile(file, base(root));
    await reloadFile();
    const api = await createTestApiServices(createDriver("inmemory"));
    services = {
      ...api,
      configuration: {
        file,
        current: () => running,
        reload: async () => {
          await reloadFile();
          return { applied: [], restartNeeded: [] };
        },
      },
    };
  });
  after(async () => {
    await services.maintenance.readOnly.close();
    await rm(root, { recursive: true, force: true });
  });

  it("refuses an htpasswd path outside them without reading the file", async () => {
    const text = base(root, ["auth:", "  htpasswd:", "    realm: r", `    path: ${join(root, "outside", "shadow")}`]);
    for (const options of [{}, { dryRun: true }]) {
      const result = await validate(text, options);
      assert.equal(result.ok, false);
      const problem = result.problems.find((p) => p.path === "auth.htpasswd.path");
      assert.match(problem?.message ?? "", /is outside the directories the console may point Berth at \(by default the config file's directory, the storage root and console\.statedir: /);
      assert.equal(problem?.line, 10);
      const shown = JSON.stringify(result);
      assert.ok(!shown.includes("htpasswd entry"), `the file was read: ${shown}`);
      for (const fragment of ["root:", "daemon", "$6$", "hashedSecretValue"]) assert.ok(!shown.includes(fragment), `${fragment} echoed: ${shown}`);
    }
  });

  it("refuses tokenserver.keydir outside them on apply and leaves the file alone; inside the config's directory it is accepted", async () => {
    const caller = callerFor(services);
    const before = await readFile(file, "utf8");
    const outside = await caller.config.applyChanges({ text: base(root, ["tokenserver:", "  enabled: true", `  keydir: ${join(root, "outside", "keys")}`]) });
    assert.equal(outside.ok, false);
    assert.deepEqual(outside.problems.map((p) => p.path), ["tokenserver.keydir"]);
    assert.equal(await readFile(file, "utf8"), before);
    await assert.rejects(stat(join(root, "outside", "keys")), /ENOENT/);
    const inside = await validate(base(root, ["tokenserver:", "  enabled: true", `  keydir: ${join(root, "etc", "token")}`]));
    assert.equal(inside.ok, true, JSON.stringify(inside.problems));
  });

  it("follows symlinks: a link inside an allowed directory that leads outside is refused", async () => {
    await symlink(join(root, "outside"), join(root, "data", "escape"));
    const result = await validate(base(root, ["auth:", "  htpasswd:", "    realm: r", `    path: ${join(root, "data", "escape", "shadow")}`]));
    assert.match(result.problems.find((p) => p.path === "auth.htpasswd.path")?.message ?? "", /is outside the directories/);
    assert.ok(!JSON.stringify(result).includes("hashedSecretValue"));
  });

  it("keeps the storage root inside them, so a dry run cannot write elsewhere", async () => {
    const moved = base(root).replace(join(root, "data"), join(root, "outside", "registry"));
    const result = await validate(moved, { dryRun: true });
    assert.deepEqual(result.problems.map((p) => p.path), ["storage.filesystem.rootdirectory"]);
    await assert.rejects(stat(join(root, "outside", "registry")), /ENOENT/);
    // Leaving the key out means distribution's default root, which is outside too.
    const defaulted = await validate(base(root).replace(`    rootdirectory: ${join(root, "data")}\n`, ""), { dryRun: true });
    assert.match(defaulted.problems.find((p) => p.path === "storage.filesystem.rootdirectory")?.message ?? "", /^"\/var\/lib\/registry" \(the default\) is outside/);
  });

  it("does not let the console change console.allowedpaths", async () => {
    const result = await validate(base(root, ["  allowedpaths: [/]"]));
    assert.match(result.problems.find((p) => p.path === "console.allowedpaths")?.message ?? "", /can only be changed in the file on disk/);
  });

  it("lets paths the running configuration already names pass, and console.allowedpaths from the file replace the defaults", async () => {
    const users = join(root, "outside", "users");
    await writeFile(users, "");
    await writeFile(file, base(root, ["auth:", "  htpasswd:", "    realm: r", `    path: ${users}`]));
    await reloadFile();
    const kept = await validate(base(root, ["auth:", "  htpasswd:", "    realm: other realm", `    path: ${users}`]));
    assert.equal(kept.ok, true, JSON.stringify(kept.problems));

    await writeFile(file, base(root, [`  allowedpaths: [${join(root, "outside")}]`]));
    await reloadFile();
    const allowed = await validate(base(root, [`  allowedpaths: [${join(root, "outside")}]`, "tokenserver:", "  enabled: true", `  keydir: ${join(root, "outside", "keys")}`]));
    assert.equal(allowed.ok, true, JSON.stringify(allowed.problems));
    const defaults = await validate(base(root, [`  allowedpaths: [${join(root, "outside")}]`, "tokenserver:", "  enabled: true", `  keydir: ${join(root, "etc", "keys")}`]));
    assert.match(defaults.problems.find((p) => p.path === "tokenserver.keydir")?.message ?? "", new RegExp(`\\(console\\.allowedpaths: ${join(root, "outside")}\\)`));
    await writeFile(file, base(root));
    await reloadFile();
  });

  it("connects to nothing unless asked for a connection check", async () => {
    const etcd = await fakeEtcd();
    try {
      const text = base(root, ["etcd:", `  endpoints: [${etcd.url}]`]);
      const plain = await validate(text);
      const dry = await validate(text, { dryRun: true });
      assert.equal(plain.ok && dry.ok, true, JSON.stringify([plain.problems, dry.problems]));
      assert.deepEqual(dry.unreached, ["etcd.endpoints"]);
      assert.equal(etcd.requests(), 0, "validation and a dry run must not reach etcd");
      const connected = await validate(text, { dryRun: true, connect: true });
      assert.equal(connected.ok, true, JSON.stringify(connected.problems));
      assert.deepEqual(connected.unreached, []);
      assert.equal(etcd.requests(), 1);
    } finally {
      await etcd.close();
    }
  });
});
