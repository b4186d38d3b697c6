import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createDriver } from "../../server/registry/storage/factory.js";
import {
  buildImage,
  expectError,
  OCI_MANIFEST,
  putManifest,
  sha256,
  startRegistry,
  uploadsInStorage,
  type TestRegistry,
} from "./harness.js";
import { eventually } from "../support/eventually.js";

/**
 * Sends the head and the first `sent` bytes of a request announcing `total` bytes, waits for the
 * server to take them in, then drops the connection.
 */
async function abortMidBody(base: string, method: string, path: string, body: Buffer, sent: number): Promise<void> {
  const url = new URL(base);
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method,
      path,
      agent: false,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": body.length },
    });
    req.on("error", () => {});
    req.on("response", (res) => res.resume());
    req.write(body.subarray(0, sent), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
  });
}

const drivers = ["inmemory", "filesystem"] as const;

for (const driverName of drivers) {
  describe(`robustness (${driverName} storage)`, () => {
    let r: TestRegistry;
    let root: string | undefined;
    before(async () => {
      if (driverName === "filesystem") {
        root = await mkdtemp(join(tmpdir(), "berth-http-robust-"));
        r = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: root }), deleteEnabled: true });
      } else {
        r = await startRegistry({ deleteEnabled: true });
      }
    });
    after(async () => {
      await r.close();
      if (root) await rm(root, { recursive: true, force: true });
    });

    it("stores the same blob uploaded concurrently by 10 clients, intact", async () => {
      const bytes = randomBytes(256 * 1024);
      const digest = sha256(bytes);
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          r.fetch(`/v2/race/blob/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes }).then(async (res) => {
            await res.arrayBuffer();
            return res.status;
          }),
        ),
      );
      assert.deepEqual(results, Array(10).fill(201));
      const got = await r.fetch(`/v2/race/blob/blobs/${digest}`);
      assert.equal(got.status, 200);
      const content = Buffer.from(await got.arrayBuffer());
      assert.equal(content.length, bytes.length);
      assert.equal(sha256(content), digest);
      // Leftovers go after the answers (uploads.ts), so they are polled for.
      await eventually(async () => assert.deepEqual(await uploadsInStorage(r.driver, "race/blob"), []), 2_000, "no upload data left behind");
    });

    it("leaves a tag on one complete manifest after 10 concurrent PUTs to it", async () => {
      const images = [];
      for (let i = 0; i < 10; i++) images.push(await buildImage(r, "race/tag"));
      const statuses = await Promise.all(
        images.map(async (image) => {
          const res = await putManifest(r, "race/tag", "latest", image.manifest, OCI_MANIFEST);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      assert.deepEqual(statuses, Array(10).fill(201));
      const got = await r.fetch("/v2/race/tag/manifests/latest");
      assert.equal(got.status, 200);
      const body = Buffer.from(await got.arrayBuffer());
      const winner = images.find((image) => image.digest === got.headers.get("docker-content-digest"));
      assert.ok(winner, "the tag points at one of the pushed manifests");
      assert.deepEqual(body, winner.manifest);
      for (const blob of [winner.config, ...winner.layers]) {
        assert.equal((await r.fetch(`/v2/race/tag/blobs/${sha256(blob)}`, { method: "HEAD" })).status, 200);
      }
      for (const image of images) {
        assert.equal((await r.fetch(`/v2/race/tag/manifests/${image.digest}`, { method: "HEAD" })).status, 200);
      }
      assert.deepEqual(await (await r.fetch("/v2/race/tag/tags/list")).json(), { name: "race/tag", tags: ["latest"] });
    });

    it("stores nothing when a client aborts a monolithic upload mid-body, and keeps serving", async () => {
      const bytes = randomBytes(512 * 1024);
      const digest = sha256(bytes);
      await abortMidBody(r.url, "POST", `/v2/abort/mono/blobs/uploads/?digest=${digest}`, bytes, bytes.length / 2);
      await eventually(async () => assert.deepEqual(await uploadsInStorage(r.driver, "abort/mono"), []), 2_000, "no upload data left behind");
      await expectError(await r.fetch(`/v2/abort/mono/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      assert.equal((await r.fetch("/v2/")).status, 200);
      // The same upload then succeeds.
      const res = await r.fetch(`/v2/abort/mono/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
      assert.equal(res.status, 201, await res.text());
      const got = await r.fetch(`/v2/abort/mono/blobs/${digest}`);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
    });

    it("can resume a session after a PATCH aborted mid-body from the range it reports", async () => {
      const bytes = randomBytes(256 * 1024);
      const start = await r.fetch("/v2/abort/session/blobs/uploads/", { method: "POST" });
      assert.equal(start.status, 202);
      const location = start.headers.get("location") ?? "";
      await abortMidBody(r.url, "PATCH", location, bytes, 100 * 1024);
      // The aborted request has settled once the reported range stops moving.
      let received = -1;
      await eventually(async () => {
        const status = await r.fetch(location);
        assert.equal(status.status, 204);
        const range = /^0-(\d+)$/.exec(status.headers.get("range") ?? "");
        assert.ok(range, `Range header ${status.headers.get("range")}`);
        const now = Number(range[1]) + 1;
        const settled = now === received;
        received = now;
        return settled;
      }, 2_000, "the reported range to stop moving");
      // "0-0" is also what an empty upload reports; resume from there either way.
      const offset = received === 1 ? 0 : received;
      assert.ok(offset <= 100 * 1024, `the upload reports ${offset} bytes, more than were sent`);
      const status = await r.fetch(location);
      const resume = await r.fetch(status.headers.get("location") ?? location, {
        method: "PATCH",
        headers: { "Content-Range": `${offset}-${bytes.length - 1}` },
        body: bytes.subarray(offset),
      });
      assert.equal(resume.status, 202, await resume.text());
      const done = new URL(resume.headers.get("location") ?? "", "http://x");
      done.searchParams.set("digest", sha256(bytes));
      const finished = await r.fetch(done.pathname + done.search, { method: "PUT" });
      assert.equal(finished.status, 201, await finished.text());
      const got = await r.fetch(`/v2/abort/session/blobs/${sha256(bytes)}`);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(bytes));
    });

    it("answers each request of a burst of mixed requests as it would alone", async () => {
      const image = await buildImage(r, "burst/app");
      const put = await putManifest(r, "burst/app", "v1", image.manifest, OCI_MANIFEST);
      assert.equal(put.status, 201);
      // Each path with the one answer it has when asked alone: a burst must not change any.
      const paths: [string, number][] = [
        ["/v2/", 200],
        ["/v2/_catalog", 200],
        ["/v2/burst/app/tags/list", 200],
        ["/v2/burst/app/manifests/v1", 200],
        [`/v2/burst/app/manifests/${image.digest}`, 200],
        [`/v2/burst/app/blobs/${sha256(image.config)}`, 200],
        ["/v2/burst/app/manifests/missing", 404],
        ["/v2/burst/missing/tags/list", 404],
      ];
      const loggedBefore = r.errors.length;
      const requests = Array.from({ length: 80 }, (_, i) => paths[i % paths.length]!);
      const statuses = await Promise.all(
        requests.map(([path]) =>
          r.fetch(path).then(async (res) => {
            await res.arrayBuffer();
            return res.status;
          }),
        ),
      );
      assert.deepEqual(
        statuses.map((status, i) => `${requests[i]![0]} ${status}`),
        requests.map(([path, status]) => `${path} ${status}`),
      );
      assert.deepEqual(r.errors.slice(loggedBefore), []);
    });
  });
}
