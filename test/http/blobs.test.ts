import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { expectError, pushBlob, sha256, startRegistry, uploadsInStorage, type TestRegistry } from "./harness.js";

describe("blobs: monolithic upload, GET, HEAD, ranges", () => {
  let r: TestRegistry;
  const bytes = randomBytes(100);
  const digest = sha256(bytes);
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("stores a monolithic POST ?digest= with 201, Location and Docker-Content-Digest", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), digest);
    const location = res.headers.get("location");
    assert.ok(location, "Location header");
    const pulled = await r.fetch(location.startsWith("http") ? new URL(location).pathname : location);
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), bytes);
  });

  it("serves GET with the exact bytes, Content-Length, Docker-Content-Digest and Accept-Ranges", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "100");
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  });

  it("serves HEAD with the same headers and no body", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "100");
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it("serves Range: bytes=10-19 as 206 with Content-Range and exactly those bytes", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { headers: { Range: "bytes=10-19" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), "bytes 10-19/100");
    assert.equal(res.headers.get("content-length"), "10");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(10, 20));
  });

  it("serves a suffix range bytes=-5 as the last 5 bytes", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { headers: { Range: "bytes=-5" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), "bytes 95-99/100");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(95));
  });

  it("serves an open-ended range bytes=5- to the end", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { headers: { Range: "bytes=5-" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), "bytes 5-99/100");
    assert.equal(res.headers.get("content-length"), "95");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(5));
  });

  it("clamps a range past the end to the blob's last byte", async () => {
    const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { headers: { Range: "bytes=90-1000" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), "bytes 90-99/100");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(90));
  });

  it("answers an unsatisfiable range with 416 and Content-Range: bytes */size", async () => {
    for (const range of ["bytes=100-", "bytes=200-300", "bytes=-0"]) {
      const res = await r.fetch(`/v2/blobs/mono/blobs/${digest}`, { headers: { Range: range } });
      await expectError(res, 416, "RANGE_INVALID");
      assert.equal(res.headers.get("content-range"), "bytes */100", range);
    }
  });

  it("answers an unknown blob with 404 BLOB_UNKNOWN (and HEAD with 404, no body)", async () => {
    const unknown = sha256(randomBytes(8));
    await expectError(await r.fetch(`/v2/blobs/mono/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    const head = await r.fetch(`/v2/blobs/mono/blobs/${unknown}`, { method: "HEAD" });
    assert.equal(head.status, 404);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    await expectError(await r.fetch(`/v2/never/pushed/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
  });

  it("does not serve a blob of repository A from repository B", async () => {
    const res = await r.fetch(`/v2/blobs/other/blobs/${digest}`);
    await expectError(res, 404, "BLOB_UNKNOWN");
    const head = await r.fetch(`/v2/blobs/other/blobs/${digest}`, { method: "HEAD" });
    assert.equal(head.status, 404);
  });

  it("answers invalid digests with 400 DIGEST_INVALID", async () => {
    const digests = [
      "sha256:xyz",
      `md5:${"a".repeat(32)}`,
      `sha256:${"a".repeat(63)}`,
      `sha256:${"a".repeat(65)}`,
      `sha256:${"A".repeat(64)}`,
      `sha512:${"a".repeat(64)}`,
      "sha256:",
      "notadigest:",
    ];
    for (const bad of digests) {
      await expectError(await r.fetch(`/v2/blobs/mono/blobs/${bad}`), 400, "DIGEST_INVALID");
      const upload = await r.fetch(`/v2/blobs/mono/blobs/uploads/?digest=${bad}`, { method: "POST", body: bytes });
      await expectError(upload, 400, "DIGEST_INVALID");
    }
  });

  it("refuses a monolithic upload whose body does not match the digest, storing nothing", async () => {
    const content = randomBytes(64);
    const claimed = sha256(content);
    const tampered = Buffer.from(content);
    tampered[0] = tampered[0]! ^ 0xff;
    const res = await r.fetch(`/v2/blobs/mismatch/blobs/uploads/?digest=${claimed}`, { method: "POST", body: tampered });
    await expectError(res, 400, "DIGEST_INVALID");
    const head = await r.fetch(`/v2/blobs/mismatch/blobs/${claimed}`, { method: "HEAD" });
    assert.equal(head.status, 404);
    const actual = await r.fetch(`/v2/blobs/mismatch/blobs/${sha256(tampered)}`, { method: "HEAD" });
    assert.equal(actual.status, 404, "the bytes actually sent are not stored under their own digest either");
    assert.deepEqual(await uploadsInStorage(r.driver, "blobs/mismatch"), [], "the temporary upload is gone");
  });

  it("stores and serves a blob under a sha512 digest", async () => {
    const content = randomBytes(80);
    const digest512 = `sha512:${createHash("sha512").update(content).digest("hex")}`;
    const res = await r.fetch(`/v2/blobs/sha512/blobs/uploads/?digest=${digest512}`, { method: "POST", body: content });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), digest512);
    const got = await r.fetch(`/v2/blobs/sha512/blobs/${digest512}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("docker-content-digest"), digest512);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
    const wrong = `sha512:${createHash("sha512").update("other").digest("hex")}`;
    await expectError(await r.fetch(`/v2/blobs/sha512/blobs/uploads/?digest=${wrong}`, { method: "POST", body: content }), 400, "DIGEST_INVALID");
  });

  it("stores an empty blob", async () => {
    const empty = Buffer.alloc(0);
    const emptyDigest = await pushBlob(r, "blobs/empty", empty);
    const res = await r.fetch(`/v2/blobs/empty/blobs/${emptyDigest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "0");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it("answers a suffix range on an empty blob with the whole (empty) blob, and bytes=0- with 416", async () => {
    // RFC 9110 14.1.1: on a zero-length representation a non-zero suffix-range is the one
    // satisfiable form, and it means the entire representation; no Content-Range can describe
    // zero bytes, so the answer is a plain 200. An int-range there is unsatisfiable.
    const emptyDigest = await pushBlob(r, "blobs/empty", Buffer.alloc(0));
    const res = await r.fetch(`/v2/blobs/empty/blobs/${emptyDigest}`, { headers: { Range: "bytes=-5" } });
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get("content-length"), "0");
    assert.equal(res.headers.get("content-range"), null);
    const start = await r.fetch(`/v2/blobs/empty/blobs/${emptyDigest}`, { headers: { Range: "bytes=0-" } });
    await expectError(start, 416, "RANGE_INVALID");
    assert.equal(start.headers.get("content-range"), "bytes */0");
  });

  it("accepts a monolithic upload sent with chunked transfer encoding", async () => {
    const content = randomBytes(3000);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(content.subarray(0, 1000));
        controller.enqueue(content.subarray(1000));
        controller.close();
      },
    });
    const res = await r.fetch(`/v2/blobs/chunked/blobs/uploads/?digest=${sha256(content)}`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(res.status, 201, await res.text());
    const got = await r.fetch(`/v2/blobs/chunked/blobs/${sha256(content)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
  });
});

describe("blobs: cross-repository mount", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("mounts a blob from a repository that has it with 201", async () => {
    const bytes = randomBytes(50);
    const digest = await pushBlob(r, "mount/source", bytes);
    await expectError(await r.fetch(`/v2/mount/target/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    const res = await r.fetch(`/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`, { method: "POST" });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.equal(res.headers.get("location"), `/v2/mount/target/blobs/${digest}`);
    const got = await r.fetch(`/v2/mount/target/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
  });

  it("opens an upload session (202) when the blob is not in `from`", async () => {
    const bytes = randomBytes(50);
    const digest = await pushBlob(r, "mount/elsewhere", bytes);
    const res = await r.fetch(`/v2/mount/target2/blobs/uploads/?mount=${digest}&from=mount/source`, { method: "POST" });
    assert.equal(res.status, 202);
    assert.ok(res.headers.get("location"));
    assert.ok(res.headers.get("docker-upload-uuid"));
    await expectError(await r.fetch(`/v2/mount/target2/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  it("opens an upload session (202) when `from` is missing, even for a blob stored elsewhere", async () => {
    const bytes = randomBytes(50);
    const digest = await pushBlob(r, "mount/hidden", bytes);
    const res = await r.fetch(`/v2/mount/target3/blobs/uploads/?mount=${digest}`, { method: "POST" });
    assert.equal(res.status, 202);
    assert.ok(res.headers.get("location"));
    await expectError(await r.fetch(`/v2/mount/target3/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  it("opens an upload session when the source repository does not exist", async () => {
    const res = await r.fetch(`/v2/mount/target4/blobs/uploads/?mount=${sha256("nothing")}&from=mount/nowhere`, { method: "POST" });
    assert.equal(res.status, 202);
  });

  it("refuses an invalid mount digest with 400 DIGEST_INVALID and an invalid `from` with 400 NAME_INVALID", async () => {
    await expectError(await r.fetch(`/v2/mount/target/blobs/uploads/?mount=sha256:nope&from=mount/source`, { method: "POST" }), 400, "DIGEST_INVALID");
    await expectError(
      await r.fetch(`/v2/mount/target/blobs/uploads/?mount=${sha256("x")}&from=Mount/../source`, { method: "POST" }),
      400,
      "NAME_INVALID",
    );
  });
});
