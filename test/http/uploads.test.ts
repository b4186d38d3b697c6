import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createDriver } from "../../server/registry/storage/factory.js";
import { expectError, sha256, startRegistry, uploadsInStorage, type Bytes, type TestRegistry } from "./harness.js";

/** The path (and query) of a Location header, absolute or not. */
function pathOf(location: string | null): string {
  assert.ok(location, "Location header");
  if (/^https?:\/\//.test(location)) {
    const url = new URL(location);
    return url.pathname + url.search;
  }
  return location;
}

/** Same upload URL with another `_state` (or none). */
function withState(location: string, state: string | undefined): string {
  const url = new URL(location, "http://x");
  if (state === undefined) url.searchParams.delete("_state");
  else url.searchParams.set("_state", state);
  return url.pathname + url.search;
}

async function startSession(r: TestRegistry, name: string): Promise<{ location: string; uuid: string }> {
  const res = await r.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" });
  assert.equal(res.status, 202, await res.text());
  const uuid = res.headers.get("docker-upload-uuid");
  assert.ok(uuid);
  return { location: pathOf(res.headers.get("location")), uuid };
}

function patch(r: TestRegistry, location: string, chunk: Bytes, range?: string): Promise<Response> {
  return r.fetch(location, {
    method: "PATCH",
    headers: {
      "Content-Type": "application/octet-stream",
      ...(range !== undefined ? { "Content-Range": range } : {}),
    },
    body: chunk,
  });
}

function putDigest(r: TestRegistry, location: string, digest: string, body?: Bytes): Promise<Response> {
  const url = new URL(location, "http://x");
  url.searchParams.set("digest", digest);
  return r.fetch(url.pathname + url.search, {
    method: "PUT",
    headers: body ? { "Content-Type": "application/octet-stream" } : {},
    ...(body ? { body } : {}),
  });
}

describe("blob upload sessions", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("opens a session with 202, Location, Range 0-0 and Docker-Upload-UUID", async () => {
    const res = await r.fetch("/v2/up/session/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 202);
    const uuid = res.headers.get("docker-upload-uuid");
    assert.match(uuid ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get("range"), "0-0");
    const location = pathOf(res.headers.get("location"));
    assert.ok(location.startsWith(`/v2/up/session/blobs/uploads/${uuid}`), location);
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it("accepts ordered chunks and reports the received range after each", async () => {
    const data = randomBytes(200);
    const { location, uuid } = await startSession(r, "up/chunks");
    const first = await patch(r, location, data.subarray(0, 100), "0-99");
    assert.equal(first.status, 202, await first.text());
    assert.equal(first.headers.get("range"), "0-99");
    assert.equal(first.headers.get("docker-upload-uuid"), uuid);
    const second = await patch(r, pathOf(first.headers.get("location")), data.subarray(100), "100-199");
    assert.equal(second.status, 202, await second.text());
    assert.equal(second.headers.get("range"), "0-199");
    const status = await r.fetch(pathOf(second.headers.get("location")));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-199");
    assert.equal(status.headers.get("docker-upload-uuid"), uuid);
    assert.ok(pathOf(status.headers.get("location")).startsWith(`/v2/up/chunks/blobs/uploads/${uuid}`));
    const done = await putDigest(r, pathOf(second.headers.get("location")), sha256(data));
    assert.equal(done.status, 201, await done.text());
    assert.equal(done.headers.get("docker-content-digest"), sha256(data));
    assert.equal(pathOf(done.headers.get("location")), `/v2/up/chunks/blobs/${sha256(data)}`);
    const got = await r.fetch(`/v2/up/chunks/blobs/${sha256(data)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
  });

  it("refuses an out-of-order chunk with 416 and keeps the upload usable", async () => {
    const data = randomBytes(200);
    const { location } = await startSession(r, "up/order");
    const first = await patch(r, location, data.subarray(0, 100), "0-99");
    assert.equal(first.status, 202);
    const next = pathOf(first.headers.get("location"));
    await expectError(await patch(r, next, data.subarray(150, 200), "150-199"), 416, "BLOB_UPLOAD_INVALID");
    await expectError(await patch(r, next, data.subarray(0, 100), "0-99"), 416, "BLOB_UPLOAD_INVALID");
    const status = await r.fetch(next);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-99", "a refused chunk adds nothing");
    const done = await putDigest(r, next, sha256(data), data.subarray(100));
    assert.equal(done.status, 201, await done.text());
    const got = await r.fetch(`/v2/up/order/blobs/${sha256(data)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
  });

  it("completes with PUT ?digest= carrying the final chunk", async () => {
    const data = randomBytes(300);
    const { location } = await startSession(r, "up/final");
    const res = await putDigest(r, location, sha256(data), data);
    assert.equal(res.status, 201, await res.text());
    const got = await r.fetch(`/v2/up/final/blobs/${sha256(data)}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
  });

  it("completes with PUT ?digest= without a body after PATCHes", async () => {
    const data = randomBytes(150);
    const { location } = await startSession(r, "up/nobody");
    const chunk = await patch(r, location, data);
    assert.equal(chunk.status, 202);
    const res = await putDigest(r, pathOf(chunk.headers.get("location")), sha256(data));
    assert.equal(res.status, 201, await res.text());
    const got = await r.fetch(`/v2/up/nobody/blobs/${sha256(data)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
    // The session is over.
    await expectError(await r.fetch(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("refuses PUT with the wrong digest with 400 DIGEST_INVALID, storing nothing and ending the upload", async () => {
    const data = randomBytes(120);
    const wrong = sha256(randomBytes(120));
    const { location } = await startSession(r, "up/wrong");
    const chunk = await patch(r, location, data);
    assert.equal(chunk.status, 202);
    const next = pathOf(chunk.headers.get("location"));
    await expectError(await putDigest(r, next, wrong), 400, "DIGEST_INVALID");
    assert.equal((await r.fetch(`/v2/up/wrong/blobs/${wrong}`, { method: "HEAD" })).status, 404);
    assert.equal((await r.fetch(`/v2/up/wrong/blobs/${sha256(data)}`, { method: "HEAD" })).status, 404);
    await expectError(await r.fetch(next), 404, "BLOB_UPLOAD_UNKNOWN");
    assert.deepEqual(await uploadsInStorage(r.driver, "up/wrong"), []);
  });

  it("refuses PUT without a digest with 400", async () => {
    const data = randomBytes(10);
    const { location } = await startSession(r, "up/nodigest");
    const res = await r.fetch(location, { method: "PUT", body: data });
    await expectError(res, 400, "DIGEST_INVALID");
    assert.equal((await r.fetch(`/v2/up/nodigest/blobs/${sha256(data)}`, { method: "HEAD" })).status, 404);
  });

  it("refuses PUT with a malformed digest with 400 DIGEST_INVALID", async () => {
    const { location } = await startSession(r, "up/baddigest");
    await expectError(await putDigest(r, location, "sha256:1234"), 400, "DIGEST_INVALID");
  });

  it("cancels an upload with DELETE (204); the upload is then unknown", async () => {
    const { location } = await startSession(r, "up/cancel");
    const chunk = await patch(r, location, randomBytes(10));
    assert.equal(chunk.status, 202);
    const next = pathOf(chunk.headers.get("location"));
    const res = await r.fetch(next, { method: "DELETE" });
    assert.equal(res.status, 204);
    await res.arrayBuffer();
    await expectError(await r.fetch(next), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await patch(r, next, randomBytes(10)), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await putDigest(r, next, sha256("x")), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await r.fetch(next, { method: "DELETE" }), 404, "BLOB_UPLOAD_UNKNOWN");
    assert.deepEqual(await uploadsInStorage(r.driver, "up/cancel"), []);
  });

  it("answers unknown and malformed upload ids with 404 BLOB_UPLOAD_UNKNOWN", async () => {
    for (const id of [randomUUID(), randomUUID().toUpperCase(), "not-a-uuid", "0".repeat(36)]) {
      for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
        const query = method === "PUT" ? `?digest=${sha256("x")}` : "";
        const res = await r.fetch(`/v2/up/unknown/blobs/uploads/${id}${query}`, {
          method,
          ...(method === "PATCH" ? { body: Buffer.from("x") } : {}),
        });
        await expectError(res, 404, "BLOB_UPLOAD_UNKNOWN");
      }
    }
  });

  it("does not let another repository continue an upload", async () => {
    const { uuid } = await startSession(r, "up/owner");
    await expectError(await r.fetch(`/v2/up/thief/blobs/uploads/${uuid}`), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await patch(r, `/v2/up/thief/blobs/uploads/${uuid}`, randomBytes(5)), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("refuses a tampered _state with 400 BLOB_UPLOAD_INVALID", async () => {
    const { location } = await startSession(r, "up/state");
    const other = await startSession(r, "up/state");
    const state = new URL(location, "http://x").searchParams.get("_state");
    assert.ok(state, "the Location carries _state");
    const [payload, mac] = state.split(".") as [string, string];
    const flipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    const forgedPayload = Buffer.from(JSON.stringify({ n: "up/state", u: "x", o: 999, t: "now" })).toString("base64url");
    const foreign = new URL(other.location, "http://x").searchParams.get("_state") ?? "";
    for (const bad of [`${payload}.${flipped}`, `${forgedPayload}.${mac}`, "garbage", "", `${state}.extra`, foreign]) {
      await expectError(await r.fetch(withState(location, bad)), 400, "BLOB_UPLOAD_INVALID");
      await expectError(await patch(r, withState(location, bad), randomBytes(4)), 400, "BLOB_UPLOAD_INVALID");
    }
    // The genuine state still works.
    assert.equal((await r.fetch(location)).status, 204);
  });

  it("appends streamed PATCH bodies (chunked, no Content-Range)", async () => {
    const data = randomBytes(4096);
    const { location } = await startSession(r, "up/stream");
    let next = location;
    for (const part of [data.subarray(0, 1000), data.subarray(1000)]) {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(part.subarray(0, 10));
          controller.enqueue(part.subarray(10));
          controller.close();
        },
      });
      const res = await r.fetch(next, { method: "PATCH", body, duplex: "half" } as RequestInit);
      assert.equal(res.status, 202, await res.text());
      next = pathOf(res.headers.get("location"));
    }
    const status = await r.fetch(next);
    assert.equal(status.headers.get("range"), "0-4095");
    const done = await putDigest(r, next, sha256(data));
    assert.equal(done.status, 201, await done.text());
    const got = await r.fetch(`/v2/up/stream/blobs/${sha256(data)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
  });
});

describe("blob uploads across registry instances sharing storage", () => {
  let root: string;
  let first: TestRegistry;
  let second: TestRegistry;
  let stranger: TestRegistry;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-http-"));
    first = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: root }), secret: "s3cret" });
    second = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: root }), secret: "s3cret" });
    stranger = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: root }), secret: "another" });
  });
  after(async () => {
    await Promise.all([first.close(), second.close(), stranger.close()]);
    await rm(root, { recursive: true, force: true });
  });

  it("continues and finishes on a second instance an upload started on the first", async () => {
    const data = randomBytes(300);
    const { location } = await startSession(first, "shared/app");
    const one = await patch(first, location, data.subarray(0, 100), "0-99");
    assert.equal(one.status, 202, await one.text());
    const two = await patch(second, pathOf(one.headers.get("location")), data.subarray(100, 200), "100-199");
    assert.equal(two.status, 202, await two.text());
    assert.equal(two.headers.get("range"), "0-199");
    const status = await first.fetch(pathOf(two.headers.get("location")));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-199");
    const done = await putDigest(second, pathOf(two.headers.get("location")), sha256(data), data.subarray(200));
    assert.equal(done.status, 201, await done.text());
    for (const r of [first, second]) {
      const got = await r.fetch(`/v2/shared/app/blobs/${sha256(data)}`);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
    }
  });

  it("refuses on an instance with a different secret the state another instance signed", async () => {
    const { location } = await startSession(first, "shared/app");
    await expectError(await stranger.fetch(location), 400, "BLOB_UPLOAD_INVALID");
    await expectError(await patch(stranger, location, randomBytes(10)), 400, "BLOB_UPLOAD_INVALID");
    await expectError(await putDigest(stranger, location, sha256("")), 400, "BLOB_UPLOAD_INVALID");
    // Untouched by the refused requests.
    const status = await first.fetch(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-0");
  });
});
