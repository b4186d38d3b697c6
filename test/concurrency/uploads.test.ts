/**
 * Racing requests on one upload session, on one `berth serve` process and across two processes
 * sharing one storage (a filesystem root, then a radosgw bucket) and one http.secret. Whatever
 * the interleaving, a blob is never stored under a digest its bytes do not hash to, no request
 * ends a process, and every refusal is one of the spec's.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { objectExists, type StorageDriver } from "../../server/registry/storage/driver.js";
import { sharedStorages, startInstance, type BerthInstance } from "../scale-out/instances.js";

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** A request whose body is sent only when the test says so: the headers go at once. */
interface HeldRequest {
  /** Sends the body (in pieces, with pauses, when asked) and resolves with the answer. */
  finish(body: Buffer, pieces?: number, pauseMs?: number): Promise<{ status: number; body: string }>;
}

function holdRequest(base: string, method: string, path: string, length: number): HeldRequest {
  const url = new URL(path, base);
  const req = http.request(url, { method, headers: { "Content-Length": String(length), "Content-Type": "application/octet-stream" } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
  });
  req.flushHeaders();
  return {
    async finish(body, pieces = 1, pauseMs = 0) {
      const size = Math.ceil(body.length / pieces);
      for (let offset = 0; offset < body.length; offset += size) {
        req.write(body.subarray(offset, offset + size));
        if (pauseMs > 0) await sleep(pauseMs);
      }
      req.end();
      return answer;
    },
  };
}

for (const storage of sharedStorages) describe(`upload races, one and two berth processes on one storage: ${storage.name}`, () => {
  let dir: string;
  let driver: StorageDriver;
  let close: () => Promise<void>;
  let a: BerthInstance;
  let b: BerthInstance;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-races-"));
    const opened = await storage.open(dir);
    driver = opened.driver;
    close = opened.close;
    const shared = { ...opened.setup, secret: "race-secret" };
    [a, b] = await Promise.all([startInstance(dir, "a", shared), startInstance(dir, "b", shared)]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await close?.();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const instance of [a, b]) {
      assert.equal(instance.child.exitCode, null, `${instance.url} exited:\n${instance.output()}`);
      assert.equal((await instance.fetch("/v2/")).status, 200);
    }
    const corrupt = await corruptBlobs(driver);
    assert.deepEqual(corrupt, [], "blobs whose bytes do not hash to their digest");
  });

  /** A blob's bytes; followed through a redirect to the bucket where the driver sends one. */
  async function blob(on: BerthInstance, path: string): Promise<Buffer> {
    const res = await fetch(on.url + path);
    assert.equal(res.status, 200, path);
    return Buffer.from(await res.arrayBuffer());
  }

  /**
   * Waits until a request holds the upload's lease, seen in the storage: the only sure sign that
   * the server has begun handling a request whose body it has not received yet.
   */
  async function leaseTaken(location: string): Promise<void> {
    const url = new URL(location, "http://x");
    const [, name, id] = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(url.pathname) ?? [];
    const path = `/docker/registry/v2/repositories/${name}/_uploads/${id}/lock`;
    for (let waited = 0; waited < 10_000; waited += 10) {
      if (await objectExists(driver, path)) return;
      await sleep(10);
    }
    assert.fail(`no request took the lease of ${url.pathname}`);
  }

  async function startUpload(on: BerthInstance, name: string): Promise<string> {
    const res = await on.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" });
    assert.equal(res.status, 202, await res.text());
    return res.headers.get("location")!;
  }

  /** A Location (possibly absolute) as a path on any instance: they share the secret. */
  const pathOf = (location: string) => {
    const url = new URL(location, "http://x");
    return `${url.pathname}${url.search}`;
  };
  const withDigest = (location: string, digest: string) => `${pathOf(location)}${location.includes("?") ? "&" : "?"}digest=${digest}`;

  async function expectSpecError(res: Response, status: number, code: string): Promise<void> {
    const text = await res.text();
    assert.equal(res.status, status, text);
    assert.equal((JSON.parse(text) as { errors: { code: string }[] }).errors[0]?.code, code, text);
  }

  for (const mode of ["one process", "two processes"] as const) {
    const second = () => (mode === "one process" ? a : b);

    describe(mode, () => {
      it("refuses a PATCH while another is writing the upload; the digest then matches the bytes", async () => {
        for (let round = 0; round < 5; round++) {
          const name = `races/interleave-${mode.replace(" ", "-")}-${round}`;
          const location = await startUpload(a, name);
          const first = randomBytes(randomInt(1, 200_000));
          const other = randomBytes(randomInt(1, 200_000));
          const held = holdRequest(a.url, "PATCH", pathOf(location), first.length);
          await leaseTaken(location);
          await sleep(randomInt(0, 40));
          const intruder = await second().fetch(pathOf(location), { method: "PATCH", body: other });
          await expectSpecError(intruder, 416, "BLOB_UPLOAD_INVALID");
          const done = await held.finish(first, randomInt(1, 5), randomInt(0, 20));
          assert.equal(done.status, 202, done.body);
          const put = await second().fetch(withDigest(location, sha256(first)), { method: "PUT" });
          assert.equal(put.status, 201, await put.text());
          const got = await blob(a, `/v2/${name}/blobs/${sha256(first)}`);
          assert.equal(sha256(got), sha256(first));
        }
      });

      it("never appends a late PATCH body to a committed blob, not even one another repository has", async () => {
        const content = randomBytes(64 * 1024);
        const digest = sha256(content);
        const victim = await a.fetch(`/v2/races/victim-${mode.replace(" ", "-")}/blobs/uploads/?digest=${digest}`, { method: "POST", body: content });
        assert.equal(victim.status, 201, await victim.text());

        const location = await startUpload(a, `races/late-${mode.replace(" ", "-")}`);
        const patched = await a.fetch(pathOf(location), { method: "PATCH", body: content });
        assert.equal(patched.status, 202, await patched.text());
        const late = holdRequest(a.url, "PATCH", pathOf(patched.headers.get("location")!), 1000);
        await leaseTaken(location);
        // The upload holds exactly the blob's bytes, but a request is writing it: not now.
        const put = await second().fetch(withDigest(patched.headers.get("location")!, digest), { method: "PUT" });
        await expectSpecError(put, 416, "BLOB_UPLOAD_INVALID");
        const lateAnswer = await late.finish(randomBytes(1000));
        assert.equal(lateAnswer.status, 202, lateAnswer.body);
        // Now the upload is the blob plus 1000 bytes: completing it under the blob's digest fails.
        const again = await second().fetch(withDigest(patched.headers.get("location")!, digest), { method: "PUT" });
        await expectSpecError(again, 400, "DIGEST_INVALID");
        const got = await blob(b, `/v2/races/victim-${mode.replace(" ", "-")}/blobs/${digest}`);
        assert.ok(got.equals(content), "the committed blob is unchanged");
      });

      it("refuses a PATCH on an upload that was completed, and on one that was cancelled", async () => {
        const content = randomBytes(10_000);
        const location = await startUpload(a, "races/finished");
        const put = await second().fetch(withDigest(location, sha256(content)), { method: "PUT", body: content });
        assert.equal(put.status, 201, await put.text());
        await expectSpecError(await a.fetch(pathOf(location), { method: "PATCH", body: randomBytes(100) }), 404, "BLOB_UPLOAD_UNKNOWN");
        const got = await blob(b, `/v2/races/finished/blobs/${sha256(content)}`);
        assert.ok(got.equals(content));

        const cancelled = await startUpload(a, "races/cancelled");
        assert.equal((await second().fetch(pathOf(cancelled), { method: "DELETE" })).status, 204);
        await expectSpecError(await a.fetch(pathOf(cancelled), { method: "PATCH", body: randomBytes(100) }), 404, "BLOB_UPLOAD_UNKNOWN");
      });

      it("survives PATCH headers, then PUT ?digest=, then the PATCH body", async () => {
        const body = randomBytes(50_000);
        const location = await startUpload(a, "races/crash");
        const held = holdRequest(a.url, "PATCH", pathOf(location), body.length);
        await leaseTaken(location);
        const put = await second().fetch(withDigest(location, sha256(body)), { method: "PUT" });
        await expectSpecError(put, 416, "BLOB_UPLOAD_INVALID");
        const patched = await held.finish(body, 3, 10);
        assert.equal(patched.status, 202, patched.body);
        const done = await second().fetch(withDigest(location, sha256(body)), { method: "PUT" });
        assert.equal(done.status, 201, await done.text());
      });

      it("commits one intact blob when many uploads of one digest finish at once", async () => {
        const content = randomBytes(300_000);
        const digest = sha256(content);
        const locations = await Promise.all(Array.from({ length: 8 }, (_, i) => startUpload(i % 2 ? second() : a, `races/same-${i}`)));
        const statuses = await Promise.all(
          locations.map(async (location, i) => {
            const res = await (i % 2 ? a : second()).fetch(withDigest(location, digest), { method: "PUT", body: content });
            await res.arrayBuffer();
            return res.status;
          }),
        );
        assert.deepEqual(statuses, Array(8).fill(201));
        for (let i = 0; i < 8; i++) {
          const got = await blob(a, `/v2/races/same-${i}/blobs/${digest}`);
          assert.ok(got.equals(content), `repository ${i}`);
        }
      });
    });
  }
});

/** Every blob in the storage whose bytes do not hash to the digest its path names. */
async function corruptBlobs(driver: StorageDriver): Promise<string[]> {
  const bad: string[] = [];
  for (const prefix of await driver.list("/docker/registry/v2/blobs/sha256")) {
    for (const dir of await driver.list(prefix)) {
      const hex = dir.slice(dir.lastIndexOf("/") + 1);
      // A blob directory is made just before its data is linked in: one may be caught empty.
      const data = await driver.getContent(`${dir}/data`).catch((error: { kind?: string }) => {
        if (error.kind === "not-found") return undefined;
        throw error;
      });
      if (data && createHash("sha256").update(data).digest("hex") !== hex) bad.push(hex);
    }
  }
  return bad;
}
