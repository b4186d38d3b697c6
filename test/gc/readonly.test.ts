import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { etcdKeys } from "../../server/etcd/keys.js";
import { ReadOnlyConflictError, ReadOnlyState, WriteTracker, type ReadOnlyStatus } from "../../server/maintenance/readonly.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { requireCommands } from "../support/commands.js";
import { OCI_MANIFEST, pushBlob, pushImage, putManifest, removeDir, sha256, startBerth, startCrashingHolder, tempDir, type GcBerth } from "./harness.js";
import { eventually } from "../support/eventually.js";

describe("in-flight write tracker", () => {
  it("resolves at once when idle, when the last write ends, and false on timeout", async () => {
    const writes = new WriteTracker();
    assert.equal(await writes.waitForWrites(10), true);
    const first = writes.beginWrite();
    const second = writes.beginWrite();
    assert.equal(writes.inFlight, 2);
    assert.equal(await writes.waitForWrites(30), false, "times out while writes run");
    const waiting = writes.waitForWrites(5_000);
    first();
    first(); // ending twice counts once
    assert.equal(writes.inFlight, 1);
    setTimeout(second, 20);
    assert.equal(await waiting, true);
    assert.equal(writes.inFlight, 0);
  });
});

describe("read-only state in one process", () => {
  it("follows the configuration, live", async () => {
    let configured = true;
    const state = await ReadOnlyState.create({ configured: () => configured });
    assert.equal(state.isReadOnly(), true);
    assert.deepEqual(await state.set(false), { readOnly: true, source: "config", configured: true, flag: null, shared: false });
    configured = false;
    assert.equal(state.isReadOnly(), false);
    await state.close();
  });

  it("switches at run time, expires flags with a TTL, and tells subscribers", async () => {
    const state = await ReadOnlyState.create();
    const seen: boolean[] = [];
    state.subscribe((status) => seen.push(status.readOnly));
    const status = await state.set(true, { owner: "alice", reason: "disk migration" });
    assert.equal(state.isReadOnly(), true);
    assert.equal(status.source, "runtime");
    assert.equal(status.flag?.owner, "alice");
    assert.equal(status.flag?.reason, "disk migration");
    assert.equal(status.flag?.expiresAt, null);
    await state.set(false);
    assert.equal(state.isReadOnly(), false);

    const timed = await state.set(true, { owner: "bob", ttlMs: 150 });
    assert.ok(timed.flag?.expiresAt);
    assert.equal(state.isReadOnly(), true);
    await eventually(() => !state.isReadOnly(), 1_000, "the flag to lapse");
    await eventually(() => seen.length === 4, 1_000, "the lapse to be announced");
    assert.deepEqual(seen, [true, false, true, false]);
    await state.close();
  });

  it("a protected flag is cleared only by its id, and clearing it restores the flag it replaced", async () => {
    const state = await ReadOnlyState.create();
    const operator = await state.set(true, { owner: "alice", reason: "maintenance" });
    const gc = await state.set(true, { owner: "garbage collection", reason: "gc", protect: true, ttlMs: 30_000, keepAlive: true });
    assert.equal(gc.flag?.previous?.id, operator.flag?.id);
    await assert.rejects(state.set(false), ReadOnlyConflictError);
    await assert.rejects(state.set(true, { owner: "carol" }), /already read-only, held by garbage collection/);
    assert.equal(state.status().flag?.id, gc.flag?.id, "a refused change changes nothing");
    const restored = await state.set(false, { id: gc.flag!.id });
    assert.equal(restored.flag?.id, operator.flag?.id);
    assert.equal(restored.flag?.owner, "alice");
    await state.set(false, { id: gc.flag!.id });
    assert.equal(state.status().flag?.id, operator.flag?.id, "clearing a flag that is gone leaves the current one");
    await state.set(false);
    assert.equal(state.isReadOnly(), false);
    await state.set(true, { protect: true, owner: "x" });
    await state.set(false, { force: true });
    assert.equal(state.isReadOnly(), false);
    await state.close();
  });

  it("the engine refuses every write while read-only and keeps serving reads", async () => {
    const root = await tempDir("readonly-engine");
    const berth = await startBerth(root);
    try {
      const image = await pushImage(berth.url, "ro/app", "v1");
      await berth.readOnly.set(true, { owner: "test", reason: "maintenance" });
      const bytes = randomBytes(32);
      const refusals = [
        await fetch(`${berth.url}/v2/ro/app/blobs/uploads/`, { method: "POST" }),
        await fetch(`${berth.url}/v2/ro/app/blobs/uploads/?digest=${sha256(bytes)}`, { method: "POST", body: new Uint8Array(bytes) }),
        await putManifest(berth.url, "ro/app", "v2", image.manifest, OCI_MANIFEST),
        await fetch(`${berth.url}/v2/ro/app/manifests/v1`, { method: "DELETE" }),
        await fetch(`${berth.url}/v2/ro/app/blobs/${image.layers[0]}`, { method: "DELETE" }),
      ];
      for (const res of refusals) {
        assert.equal(res.status, 405);
        const body = (await res.json()) as { errors: { code: string; message: string }[] };
        assert.equal(body.errors[0]?.code, "UNSUPPORTED");
        assert.match(body.errors[0]?.message ?? "", /read-only/);
      }
      const manifest = await fetch(`${berth.url}/v2/ro/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(manifest.status, 200);
      assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
      const blob = await fetch(`${berth.url}/v2/ro/app/blobs/${image.layers[0]}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), image.layers[0]);
      assert.equal((await fetch(`${berth.url}/v2/ro/app/tags/list`)).status, 200);

      await berth.readOnly.set(false);
      await pushBlob(berth.url, "ro/app", bytes);
    } finally {
      await berth.close();
      await removeDir(root);
    }
  });
});

describe("read-only state shared through etcd", () => {
  before(() => requireCommands("etcd"));
  let etcd: RunningEtcd;
  const clients: Etcd3[] = [];
  const states: ReadOnlyState[] = [];
  let prefix = "";

  const client = () => {
    const created = new Etcd3({ hosts: [etcd.endpoint] });
    clients.push(created);
    return created;
  };
  const instance = async (name: string) => {
    const state = await ReadOnlyState.create({ etcd: client(), prefix, instance: name, resyncMs: 60_000 });
    states.push(state);
    return state;
  };

  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    for (const state of states) await state.close();
    for (const c of clients) c.close();
    await etcd.stop();
  });

  let counter = 0;
  const freshPrefix = () => {
    prefix = `/test${++counter}`;
  };

  it("two instances see each other's flag within a second, both ways", async () => {
    freshPrefix();
    const a = await instance("a");
    const b = await instance("b");
    await a.set(true, { owner: "alice", reason: "migration" });
    const seenOn = await eventually(() => b.isReadOnly(), 1_000, "b to see a's flag");
    assert.ok(seenOn < 1_000);
    assert.equal(b.status().flag?.owner, "alice");
    assert.equal(b.status().shared, true);
    await b.set(false);
    await eventually(() => !a.isReadOnly(), 1_000, "a to see b clear it");
    const raw = await client().get(etcdKeys.readOnly(prefix)).string();
    assert.equal(raw, null);
  });

  it("an instance started later reads the flag already set", async () => {
    freshPrefix();
    const a = await instance("a");
    await a.set(true, { owner: "alice" });
    const late = await instance("late");
    assert.equal(late.isReadOnly(), true, "known as soon as create() resolves");
    await a.set(false);
  });

  it("a Berth instance refuses writes while another instance holds the flag", async () => {
    freshPrefix();
    const root = await tempDir("readonly-shared");
    const other = await instance("other");
    let berth: GcBerth | undefined;
    try {
      berth = await startBerth(root, { readOnly: await instance("berth") });
      await other.set(true, { owner: "garbage collection on other" });
      await eventually(() => berth!.readOnly.isReadOnly(), 1_000, "the flag to reach the engine");
      const res = await fetch(`${berth.url}/v2/shared/app/blobs/uploads/`, { method: "POST" });
      assert.equal(res.status, 405);
      await res.arrayBuffer();
      assert.equal((await fetch(`${berth.url}/v2/`)).status, 200);
      await other.set(false);
      await eventually(() => !berth!.readOnly.isReadOnly(), 1_000, "writable again");
      await pushImage(berth.url, "shared/app", "v1");
    } finally {
      await berth?.close();
      await removeDir(root);
    }
  });

  it("the flag of a crashed holder lapses with its lease; a live holder keeps it", async () => {
    freshPrefix();
    const ttlMs = 2_000;
    const watcher = await instance("watcher");
    const holder = await startCrashingHolder(etcd.endpoint, prefix, "readonly", ttlMs);
    try {
      await eventually(() => watcher.isReadOnly(), 1_000, "the holder's flag");
      assert.equal(watcher.status().flag?.owner, "crashing instance");
      assert.equal(watcher.status().flag?.leaseTtlMs, ttlMs);
      await new Promise((resolve) => setTimeout(resolve, ttlMs + 1_000));
      assert.equal(watcher.isReadOnly(), true, "kept alive past its TTL while the holder lives");
      await assert.rejects(watcher.set(false), ReadOnlyConflictError, "protected against a plain clear");
    } finally {
      await holder.kill();
    }
    const lapsedAfter = await eventually(() => !watcher.isReadOnly(), ttlMs + 3_000, "the crashed holder's flag to lapse");
    assert.ok(lapsedAfter <= ttlMs + 3_000);
    assert.equal(await client().get(etcdKeys.readOnly(prefix)).string(), null, "etcd deleted the key with the lease");
  });

  it("a flag with a TTL lapses everywhere; a flag an operator wrote with etcdctl counts", async () => {
    freshPrefix();
    const a = await instance("a");
    const b = await instance("b");
    await a.set(true, { owner: "alice", ttlMs: 1_000 });
    await eventually(() => b.isReadOnly(), 1_000, "b sees it");
    await eventually(() => !a.isReadOnly() && !b.isReadOnly(), 4_000, "the flag to lapse");
    await eventually(async () => (await client().get(etcdKeys.readOnly(prefix)).string()) === null, 4_000, "etcd to drop the key");

    await client().put(etcdKeys.readOnly(prefix)).value("maintenance window");
    await eventually(() => a.isReadOnly(), 1_000, "a raw value to count");
    assert.equal(a.status().flag?.reason, "maintenance window");
    await client().delete().key(etcdKeys.readOnly(prefix));
    await eventually(() => !a.isReadOnly(), 1_000, "its removal to count");
  });

  it("a protected flag replacing an operator's flag gives it back when cleared by id", async () => {
    freshPrefix();
    const a = await instance("a");
    const b = await instance("b");
    const operator = await a.set(true, { owner: "alice", reason: "maintenance" });
    await eventually(() => b.status().flag?.id === operator.flag?.id, 1_000, "b sees alice's flag");
    const statuses: ReadOnlyStatus[] = [];
    a.subscribe((status) => statuses.push(status));
    const gc = await b.set(true, { owner: "garbage collection", protect: true, ttlMs: 5_000, keepAlive: true });
    await eventually(() => a.status().flag?.id === gc.flag?.id, 1_000, "a sees the collection's flag");
    await assert.rejects(a.set(false), /held by garbage collection/);
    await b.set(false, { id: gc.flag!.id });
    await eventually(() => a.status().flag?.id === operator.flag?.id, 1_000, "alice's flag back");
    assert.ok(statuses.every((status) => status.readOnly), "never writable in between");
    await a.set(false);
  });
});
