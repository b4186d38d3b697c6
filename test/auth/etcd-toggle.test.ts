/**
 * LAIN's etcd switch with a real etcd: `/lain/config/auth/registry` set → token auth, deleted →
 * config.yml's auth, live; malformed values and an unreachable etcd keep the state in force.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Etcd3 } from "etcd3";
import { createEtcdToggle, parseEtcdAuthValue, type AuthState, type EtcdAuthSettings } from "../../server/auth/etcd-toggle.js";
import { setupAuth, type AuthSetup } from "../../server/auth/index.js";
import { parseConfig } from "../../server/config/load.js";
import { createEtcdClient } from "../../server/etcd/client.js";
import type { AccessController } from "../../server/registry/access.js";
import { requireCommands } from "../support/commands.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { makeImageLayout, type ImageLayout } from "../support/images.js";
import { freePort } from "../support/net.js";
import { SkopeoError, skopeoCopy } from "../support/skopeo.js";
import { capturingLogger, htpasswdText, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";
import { eventually } from "../support/eventually.js";

const KEY = "/lain/config/auth/registry";
const lainValue = (realm: string, service = "lain.local") => JSON.stringify({ realm, issuer: "auth server", service });

describe("parseEtcdAuthValue", () => {
  test("LAIN's value", () => {
    assert.deepEqual(parseEtcdAuthValue('{"realm":"http://console.lain.local/api/v1/authorize/registry/", "issuer":"auth server", "service":"lain.local"}'), {
      realm: "http://console.lain.local/api/v1/authorize/registry/",
      issuer: "auth server",
      service: "lain.local",
    });
  });
  test("what is wrong is said", () => {
    assert.throws(() => parseEtcdAuthValue("{realm: x}"), /not valid JSON/);
    assert.throws(() => parseEtcdAuthValue("[]"), /expected a JSON object/);
    assert.throws(() => parseEtcdAuthValue('{"realm":"http://a/"}'), /"issuer", "service" missing/);
    assert.throws(() => parseEtcdAuthValue('{"realm":"console/auth","issuer":"i","service":"s"}'), /not an http\(s\) URL/);
    assert.throws(() => parseEtcdAuthValue('{"realm":"http://a/","issuer":"","service":"s"}'), /"issuer" missing or not a non-empty string/);
  });
});

describe("etcd toggle with a real etcd", () => {
  before(() => requireCommands("etcd"));
  let etcd: RunningEtcd;
  let writer: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    writer = new Etcd3({ hosts: etcd.endpoint });
  });
  after(async () => {
    writer?.close();
    etcd?.resume();
    await etcd?.stop();
  });

  const fallback: AccessController = { authorize: async () => ({ ok: true, user: "fallback" }) };

  function toggle(key: string, pollIntervalMs = 60_000) {
    const built: (EtcdAuthSettings & { controller: AccessController })[] = [];
    const logger = capturingLogger();
    const state = createEtcdClient({ endpoints: [etcd.endpoint], authkey: key }).then((client) =>
      createEtcdToggle({
        client,
        key,
        logger,
        fallback: { controller: fallback, mode: "htpasswd" },
        buildToken: (settings) => {
          const controller: AccessController = { authorize: async () => ({ ok: true, user: settings.realm }) };
          built.push({ ...settings, controller });
          return controller;
        },
        pollIntervalMs,
        requestTimeoutMs: 1_000,
        ownsClient: true,
      }),
    );
    return { state, built, logger };
  }

  test("the watch switches live (the poll is a minute away): set, malformed, same again, deleted", async (t) => {
    const key = "/test/watch/auth";
    const { state: pending, built, logger } = toggle(key);
    const state = await pending;
    t.after(() => state.close());

    assert.equal(state.current(), fallback);
    assert.deepEqual({ ...state.status(), since: "" }, { source: "config", connected: true, mode: "htpasswd", etcdKey: key, since: "" });

    const started = Date.now();
    await writer.put(key).value(lainValue("http://console.lain.local/api/v1/authorize/registry/"));
    await eventually(() => built.length === 1 && state.current() === built[0]!.controller, 3_000, "token auth from the watch");
    assert.ok(Date.now() - started < 3_000);
    const status = state.status();
    assert.equal(status.source, "etcd");
    assert.equal(status.mode, "token");
    assert.deepEqual(status.settings, { realm: "http://console.lain.local/api/v1/authorize/registry/", issuer: "auth server", service: "lain.local" });

    await writer.put(key).value('{"realm": "http://x/", "issuer": ');
    await eventually(() => state.status().lastError !== undefined, 3_000, "the malformed value to be seen");
    assert.equal(state.current(), built[0]!.controller, "the previous state stays");
    assert.match(state.status().lastError!, /not valid JSON/);
    assert.ok(logger.lines.some((l) => l.includes('"level":"error"') && l.includes("malformed auth settings in etcd")));

    await writer.put(key).value(lainValue("http://console.lain.local/api/v1/authorize/registry/"));
    await eventually(() => state.status().lastError === undefined, 3_000, "the good value again");
    assert.equal(built.length, 1, "unchanged settings build nothing new");
    assert.equal(state.current(), built[0]!.controller);

    await writer.put(key).value(lainValue("https://other.console/token", "other"));
    await eventually(() => built.length === 2 && state.current() === built[1]!.controller, 3_000, "new settings");

    await writer.delete().key(key);
    await eventually(() => state.current() === fallback, 3_000, "back to config.yml");
    assert.equal(state.status().source, "config");
    assert.equal(state.status().mode, "htpasswd");
  });

  test("a key already set at start is in force as soon as the state exists", async (t) => {
    const key = "/test/start/auth";
    await writer.put(key).value(lainValue("http://console.example/token"));
    const { state: pending, built } = toggle(key);
    const state = await pending;
    t.after(() => state.close());
    assert.equal(state.current(), built[0]?.controller);
    assert.equal(state.status().source, "etcd");
  });

  test("etcd unreachable at start: config.yml's auth, disconnected, no crash", async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const started = Date.now();
    const state = await createEtcdToggle({
      client: await createEtcdClient({ endpoints: [`http://127.0.0.1:${port}`], authkey: KEY, dialtimeout: 500 }),
      key: KEY,
      logger,
      fallback: { controller: fallback, mode: "none" },
      buildToken: () => fallback,
      requestTimeoutMs: 500,
      ownsClient: true,
    });
    try {
      assert.ok(Date.now() - started < 5_000, "start does not hang");
      assert.equal(state.current(), fallback);
      const status = state.status();
      assert.equal(status.connected, false);
      assert.equal(status.source, "config");
      assert.match(status.lastError ?? "", /etcd unreachable/);
      assert.ok(logger.lines.some((l) => l.includes("etcd unreachable; keeping the current auth")));
    } finally {
      await state.close();
    }
  });
});

describe("etcd toggle end to end: Berth, LAIN's key, skopeo", () => {
  before(() => requireCommands("etcd", "skopeo"));
  let etcd: RunningEtcd;
  let writer: Etcd3;
  let dir: string;
  let image: ImageLayout;
  let server: TestRegistry;
  let host: string;
  let auth: AuthSetup | undefined;
  let state: AuthState;
  const logger = capturingLogger("info");

  before(async () => {
    [etcd, dir] = await Promise.all([startEtcd(), tempDir("etcd-e2e")]);
    writer = new Etcd3({ hosts: etcd.endpoint });
    const users = join(dir, "users.htpasswd");
    await writeFile(users, htpasswdText({ alice: "alice-pw" }));
    image = await makeImageLayout(join(dir, "image"), { tag: "v1", layers: [20_000], seed: "etcd-e2e" });

    server = await startTestRegistry({ access: () => auth?.current(), tokenServer: () => auth?.tokenServer });
    host = server.host;

    // No auth in config.yml; etcd configured; Berth's token server on (its certificate is trusted).
    const config = parseConfig({
      version: "0.1",
      storage: "inmemory",
      etcd: { endpoints: [etcd.endpoint], dialtimeout: "1s" },
      tokenserver: { enabled: true, users, admins: ["alice"] },
    });
    auth = await setupAuth({ config, logger, defaultKeyDir: join(dir, "keys"), pollIntervalMs: 500, requestTimeoutMs: 1_000 });
    state = auth.state;
  });

  after(async () => {
    await auth?.close();
    writer?.close();
    await server?.close();
    etcd?.resume();
    await etcd?.stop();
    await removeDir(dir);
  });

  const ref = (path: string) => `docker://${host}/${path}`;
  const realm = () => `http://${host}/api/v1/authorize/registry/`;
  const anonymousV2 = async () => {
    const res = await fetch(`http://${host}/v2/`);
    await res.arrayBuffer();
    return { status: res.status, challenge: res.headers.get("www-authenticate") };
  };
  const refused = (error: unknown) => {
    assert.ok(error instanceof SkopeoError, String(error));
    // An anonymous token carries no pull scope: DENIED, as skopeo logs it (newlines escaped).
    assert.match(error.stderr, /reading manifest v1 in [^:]+:\d+\/lain\/app: errors:\\ndenied: requested access to the resource is denied/);
    return true;
  };

  test("no key: no auth, anonymous push works", async () => {
    assert.deepEqual({ ...state.status(), since: "" }, { source: "config", connected: true, mode: "none", etcdKey: KEY, since: "" });
    await skopeoCopy(image.ref, ref("lain/app:v1"));
    assert.equal((await anonymousV2()).status, 200);
  });

  test("LAIN writes the key: within seconds anonymous requests get a Bearer challenge naming etcd's realm", async () => {
    const started = Date.now();
    await writer.put(KEY).value(lainValue(realm(), "lain.local"));
    await eventually(async () => (await anonymousV2()).status === 401, 5_000, "token auth");
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5_000, `switched after ${elapsed} ms`);
    assert.equal((await anonymousV2()).challenge, `Bearer realm="${realm()}",service="lain.local"`);
    assert.equal(state.status().source, "etcd");
    assert.equal(state.status().mode, "token");
  });

  test("with the key set, skopeo needs the token server: anonymous pull refused, the admin pulls and pushes", async () => {
    await assert.rejects(skopeoCopy(ref("lain/app:v1"), `oci:${join(dir, "anon")}:v1`), refused);
    await skopeoCopy(ref("lain/app:v1"), `oci:${join(dir, "alice")}:v1`, { srcCreds: "alice:alice-pw" });
    await skopeoCopy(image.ref, ref("lain/app:v2"), { destCreds: "alice:alice-pw" });
  });

  test("LAIN deletes the key: anonymous works again", async () => {
    await writer.delete().key(KEY);
    await eventually(async () => (await anonymousV2()).status === 200, 5_000, "no auth");
    assert.equal(state.status().source, "config");
    await skopeoCopy(ref("lain/app:v2"), `oci:${join(dir, "anon-again")}:v2`);
  });

  test("etcd paused: the state in force is kept and status says disconnected; resumed: reconnected, and live again", async () => {
    await writer.put(KEY).value(lainValue(realm(), "lain.local"));
    await eventually(async () => (await anonymousV2()).status === 401, 5_000, "token auth");

    etcd.pause();
    try {
      await eventually(() => state.status().connected === false, 15_000, "status to report the disconnection");
      const status = state.status();
      assert.match(status.lastError ?? "", /etcd unreachable/);
      assert.equal(status.source, "etcd", "the last known state stays");
      assert.equal(status.mode, "token");
      assert.equal((await anonymousV2()).status, 401, "still token auth while etcd is away");
      assert.ok(logger.lines.some((l) => l.includes("etcd unreachable; keeping the current auth")));
    } finally {
      etcd.resume();
    }
    await eventually(() => state.status().connected, 20_000, "reconnection");
    assert.equal(state.status().lastError, undefined);

    // Live again: a delete after the outage is seen.
    await writer.delete().key(KEY);
    await eventually(async () => (await anonymousV2()).status === 200, 10_000, "no auth after the outage");
  });
});
