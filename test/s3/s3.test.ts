/**
 * The s3 driver against a real S3 server: radosgw of a one-node Ceph cluster on loopback, one
 * cluster for this whole file. Without Ceph the tests that need it fail naming the packages to install.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { withBase } from "../../server/registry/storage/base.js";
import type { FileWriter, StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { S3Driver } from "../../server/registry/storage/s3.js";
import { s3OptionsFromParams } from "../../server/registry/storage/s3-options.js";
import { driverSuite } from "../../server/registry/storage/testsuite.js";
import { eventually } from "../support/eventually.js";
import { startRegistry } from "../http/harness.js";
import { makeImageLayout } from "../support/images.js";
import { requireCommands } from "../support/commands.js";
import { skopeoCopy, skopeoInspect } from "../support/skopeo.js";
import { cephPerFile, countRequests, memoryPeak, write } from "./helpers.js";

const MiB = 1024 * 1024;
const ceph = cephPerFile();

/** distribution's parameters for the shared cluster, plus overrides. */
async function params(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const c = await ceph();
  return {
    accesskey: c.accessKey,
    secretkey: c.secretKey,
    region: c.region,
    regionendpoint: c.endpoint,
    bucket: await c.createBucket(),
    rootdirectory: "/registry",
    ...overrides,
  };
}

/** A base-wrapped driver that can be inspected (its client, its bucket). */
function open(p: Record<string, unknown>): { driver: StorageDriver; s3: S3Driver } {
  const s3 = new S3Driver(s3OptionsFromParams(p));
  return { driver: withBase(s3), s3 };
}

describe("s3 parameters", () => {
  const base = { region: "us-west-1", bucket: "registry-bucket" };

  it("uses AWS's endpoint, virtual-hosted, and the default credential chain without keys", () => {
    const options = s3OptionsFromParams(base);
    assert.equal(options.endpoint, undefined);
    assert.equal(options.forcePathStyle, false);
    assert.equal(options.credentials, undefined);
    assert.equal(options.storageClass, "STANDARD");
    assert.equal(s3OptionsFromParams({ ...base, secure: false }).endpoint, "http://s3.us-west-1.amazonaws.com");
  });

  it("takes a regionendpoint with or without scheme, path-style unless told otherwise", () => {
    const options = s3OptionsFromParams({ ...base, regionendpoint: "s3.domain.svc", secure: "false", accesskey: "AK", secretkey: "SK" });
    assert.equal(options.endpoint, "http://s3.domain.svc");
    assert.equal(options.forcePathStyle, true);
    assert.deepEqual(options.credentials, { accessKeyId: "AK", secretAccessKey: "SK", sessionToken: undefined });
    assert.equal(s3OptionsFromParams({ ...base, regionendpoint: "https://minio:9000", secure: false }).endpoint, "https://minio:9000");
    assert.equal(s3OptionsFromParams({ ...base, regionendpoint: "https://minio:9000", forcepathstyle: false }).forcePathStyle, false);
  });

  it("maps sizes, encryption, storage class, ACL and root directory", () => {
    const options = s3OptionsFromParams({
      ...base,
      chunksize: 5242880,
      multipartcopychunksize: "64MiB",
      multipartcopythresholdsize: 1073741824,
      multipartcopymaxconcurrency: "8",
      encrypt: true,
      keyid: "arn:aws:kms:key",
      storageclass: "none",
      objectacl: "bucket-owner-full-control",
      rootdirectory: "/registry",
      v4auth: false,
    });
    assert.equal(options.chunkSize, 5 * MiB);
    assert.equal(options.multipartCopyChunkSize, 64 * MiB);
    assert.equal(options.multipartCopyThresholdSize, 1024 * MiB);
    assert.equal(options.multipartCopyMaxConcurrency, 8);
    assert.equal(options.storageClass, undefined);
    const driver = new S3Driver(options);
    assert.equal(driver.prefix, "registry/");
    assert.equal(driver.key("/docker/registry/v2/x"), "registry/docker/registry/v2/x");
    assert.equal(new S3Driver(s3OptionsFromParams({ ...base, rootdirectory: "/" })).key("/a"), "a");
  });

  it("rejects half a key pair, a missing bucket or region, and chunk sizes below 5 MiB", () => {
    assert.throws(() => s3OptionsFromParams({ ...base, accesskey: "AK" }), /accesskey and secretkey/);
    assert.throws(() => s3OptionsFromParams({ region: "us-east-1" }), /bucket/);
    assert.throws(() => s3OptionsFromParams({ bucket: "b" }), /region/);
    assert.throws(() => createDriver("s3", { ...base, chunksize: 1024 * 1024 }), /chunksize/);
  });
});

driverSuite("s3 (radosgw)", async () => ({ driver: createDriver("s3", await params()), cleanup: async () => {} }));

describe("s3 driver against radosgw", () => {
  let p: Record<string, unknown>;
  let main: { driver: StorageDriver; s3: S3Driver };

  before(async () => {
    p = await params({ chunksize: 5 * MiB });
    main = open(p);
  });

  it("continues a multipart upload another instance left behind (restart)", async () => {
    const path = "/restart/data";
    const data = randomBytes(13 * MiB);
    const first = await main.driver.writer(path, false);
    for (let offset = 0; offset < 12 * MiB; offset += MiB) await write(first, data.subarray(offset, offset + MiB));
    // Two full 5 MiB parts are in storage (the second may still be in flight); 2 MiB are only in
    // the first instance's memory, which "crashes" now: the writer is simply dropped.
    const key = main.s3.key(path);
    await eventually(async () => {
      const listed = await main.s3.client.send(new ListMultipartUploadsCommand({ Bucket: main.s3.bucket, Prefix: key }));
      const uploadId = listed.Uploads?.[0]?.UploadId;
      if (!uploadId) return false;
      const parts = await main.s3.client.send(new ListPartsCommand({ Bucket: main.s3.bucket, Key: key, UploadId: uploadId }));
      return (parts.Parts ?? []).length === 2;
    }, 10_000, "two parts of the upload in storage");

    const restarted = open(p);
    const second = await restarted.driver.writer(path, true);
    assert.equal(second.size, 10 * MiB, "the continued upload starts where the stored parts end");
    await write(second, data.subarray(10 * MiB));
    await second.commit();
    assert.equal(second.size, 13 * MiB);

    const stored = await restarted.driver.getContent(path);
    assert.equal(stored.length, 13 * MiB);
    assert.ok(stored.equals(data), "content = the first instance's stored parts + the second instance's bytes");
    const left = await restarted.s3.client.send(new ListMultipartUploadsCommand({ Bucket: restarted.s3.bucket, Prefix: key }));
    assert.deepEqual(left.Uploads ?? [], []);
  });

  it("continues an upload distribution left open with a short last part", async () => {
    const path = "/distribution/data";
    const key = main.s3.key(path);
    const { client, bucket } = main.s3;
    const head = randomBytes(5 * MiB);
    const tail = Buffer.from("short last part");
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const uploadId = created.UploadId!;
    const parts = [];
    for (const [index, body] of [head, tail].entries()) {
      const result = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: body }));
      parts.push({ PartNumber: index + 1, ETag: result.ETag });
    }
    const writer = await main.driver.writer(path, true);
    assert.equal(writer.size, head.length + tail.length);
    await write(writer, "+more");
    await writer.commit();
    assert.ok((await main.driver.getContent(path)).equals(Buffer.concat([head, tail, Buffer.from("+more")])));
    // The upload was completed into the object before being continued.
    await assert.rejects(
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
    );
  });

  it("does not continue an upload begun before the object was replaced", async () => {
    const path = "/stale/data";
    const key = main.s3.key(path);
    const { client, bucket } = main.s3;
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }));
    await main.driver.putContent(path, "fresh");
    const writer = await main.driver.writer(path, true);
    assert.equal(writer.size, 5);
    await write(writer, "+more");
    await writer.commit();
    assert.equal((await main.driver.getContent(path)).toString(), "fresh+more");
    const left = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    assert.deepEqual(left.Uploads ?? [], [], "the stale upload was aborted");
  });

  it("appends to a committed object above 5 MiB with a server-side part copy", async () => {
    const path = "/append-large/data";
    const data = randomBytes(6 * MiB + 5);
    const first = await main.driver.writer(path, false);
    await write(first, data.subarray(0, 6 * MiB));
    await first.commit();
    const counted = countRequests(main.s3.client);
    const second = await main.driver.writer(path, true);
    assert.equal(second.size, 6 * MiB);
    await write(second, data.subarray(6 * MiB));
    await second.commit();
    counted.stop();
    assert.ok((await main.driver.getContent(path)).equals(data));
    assert.equal(counted.count("GetObjectCommand"), 0, "the committed bytes are not downloaded again");
    assert.equal(counted.count("UploadPartCopyCommand"), 1);
  });

  it("appends to and moves an object it committed without bodied answers (Nagle-proof)", async () => {
    const first = await main.driver.writer("/own/data", false);
    await write(first, "small");
    await first.commit();
    const counted = countRequests(main.s3.client);
    assert.equal((await main.driver.stat("/own/data")).size, 5);
    const second = await main.driver.writer("/own/data", true);
    assert.equal(second.size, 5);
    await write(second, "+more");
    await second.commit();
    await main.driver.move("/own/data", "/own/blob");
    counted.stop();
    assert.equal((await main.driver.getContent("/own/blob")).toString(), "small+more");
    await assert.rejects(main.driver.stat("/own/data"));
    for (const command of ["ListObjectsV2Command", "ListMultipartUploadsCommand", "CopyObjectCommand", "GetObjectCommand"]) {
      assert.equal(counted.count(command), 0, `${command}: ${counted.summary()}`);
    }
  });

  it("moves what storage holds when another instance rewrote the object since", async () => {
    const writer = await main.driver.writer("/rewritten/data", false);
    await write(writer, "mine");
    await writer.commit();
    await open(p).driver.putContent("/rewritten/data", "theirs");
    assert.equal((await main.driver.stat("/rewritten/data")).size, 6);
    await main.driver.move("/rewritten/data", "/rewritten/blob");
    assert.equal((await main.driver.getContent("/rewritten/blob")).toString(), "theirs");
  });

  it("moves objects above the threshold with a multipart copy, and whole directories", async () => {
    const copying = open({ ...p, multipartcopythresholdsize: 5 * MiB, multipartcopychunksize: 5 * MiB, multipartcopymaxconcurrency: 2 });
    const data = randomBytes(12 * MiB + 1);
    await copying.driver.putContent("/copy/src", data);
    const counted = countRequests(copying.s3.client);
    await copying.driver.move("/copy/src", "/copy/dst");
    counted.stop();
    assert.equal(counted.count("UploadPartCopyCommand"), 2);
    assert.ok((await copying.driver.getContent("/copy/dst")).equals(data));
    await assert.rejects(copying.driver.stat("/copy/src"));

    await copying.driver.putContent("/copy/tree/a", "a");
    await copying.driver.putContent("/copy/tree/b/c", "c");
    await copying.driver.move("/copy/tree", "/copy/moved");
    assert.deepEqual((await copying.driver.list("/copy/moved")).sort(), ["/copy/moved/a", "/copy/moved/b"]);
    assert.equal((await copying.driver.getContent("/copy/moved/b/c")).toString(), "c");
    await assert.rejects(copying.driver.stat("/copy/tree"));
  });

  it("keeps what a broken-off writer had uploaded, like a file", async () => {
    const path = "/broken/data";
    const data = randomBytes(7 * MiB);
    const writer = await main.driver.writer(path, false);
    await write(writer, data);
    writer.destroy(new Error("client went away"));
    await new Promise((resolve) => writer.once("close", resolve));
    assert.ok((await main.driver.getContent(path)).equals(data));
    await assert.rejects(writer.commit());
  });

  it("cancel aborts the multipart upload and removes the object", async () => {
    const path = "/cancelled/data";
    const writer = await main.driver.writer(path, false);
    await write(writer, randomBytes(6 * MiB));
    await writer.cancel();
    await assert.rejects(main.driver.stat(path));
    const left = await main.s3.client.send(new ListMultipartUploadsCommand({ Bucket: main.s3.bucket, Prefix: main.s3.key("/cancelled") }));
    assert.deepEqual(left.Uploads ?? [], []);
  });

  it("deleting a directory aborts the uploads in progress below it", async () => {
    const writer = await main.driver.writer("/tree/x/data", false);
    await write(writer, randomBytes(5 * MiB));
    await main.driver.putContent("/tree/x/startedat", "now");
    await eventually(async () => {
      const listed = await main.s3.client.send(new ListMultipartUploadsCommand({ Bucket: main.s3.bucket, Prefix: main.s3.key("/tree") }));
      return (listed.Uploads ?? []).length === 1;
    }, 10_000, "the multipart upload to be listed");
    await main.driver.delete("/tree");
    const left = await main.s3.client.send(new ListMultipartUploadsCommand({ Bucket: main.s3.bucket, Prefix: main.s3.key("/tree") }));
    assert.deepEqual(left.Uploads ?? [], []);
  });

  it("deletes an object and its subtree when siblings fill the first listing page", async () => {
    await main.driver.putContent("/sib/a", "object");
    await main.driver.putContent("/sib/a/x", "below");
    await main.driver.putContent("/sib/a/y/z", "deeper");
    const siblings = Array.from({ length: 1001 }, (_, i) => `/sib/a-${String(i).padStart(4, "0")}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < siblings.length) await main.driver.putContent(siblings[next++]!, "sibling");
      }),
    );
    await main.driver.delete("/sib/a");
    await assert.rejects(main.driver.stat("/sib/a"));
    await assert.rejects(main.driver.getContent("/sib/a/y/z"));
    assert.equal((await main.driver.list("/sib")).length, siblings.length);
    await main.driver.delete("/sib");
    await assert.rejects(main.driver.stat("/sib"));
  });

  it("gives redirect URLs that plain fetch can use", async () => {
    const path = "/redirect/blob";
    const content = randomBytes(70_000);
    await main.driver.putContent(path, content);
    const get = await main.driver.redirectURL(path, "GET");
    assert.ok(get, "an S3 driver always has a URL");
    assert.match(get, /X-Amz-Signature=/);
    const response = await fetch(get);
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(content));
    const headUrl = await main.driver.redirectURL(path, "HEAD");
    const head = await fetch(headUrl!, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(content.length));
    // The signature covers the method: the GET URL is no HEAD URL and vice versa.
    assert.equal((await fetch(headUrl!)).status, 403);
  });

  it("streams 256 MiB in and out with bounded memory", async (t) => {
    const path = "/large/blob";
    const size = 256 * MiB;
    const chunk = Buffer.alloc(MiB);
    const written = createHash("sha256");
    const writePeak = await memoryPeak(async () => {
      const writer: FileWriter = await main.driver.writer(path, false);
      for (let i = 0; i < size / MiB; i++) {
        chunk.fill(i & 0xff);
        chunk.writeUInt32BE(i, 0);
        written.update(chunk);
        // The writer copies what it keeps: the same chunk buffer is refilled for every write.
        await write(writer, chunk);
      }
      await writer.commit();
    });
    assert.equal((await main.driver.stat(path)).size, size);
    const read = createHash("sha256");
    let bytes = 0;
    const readPeak = await memoryPeak(async () => {
      for await (const piece of await main.driver.reader(path)) {
        read.update(piece as Buffer);
        bytes += (piece as Buffer).length;
      }
    });
    assert.equal(bytes, size);
    assert.equal(read.digest("hex"), written.digest("hex"));
    t.diagnostic(`peak extra buffer memory: write ${(writePeak / MiB).toFixed(1)} MiB, read ${(readPeak / MiB).toFixed(1)} MiB (chunksize 5 MiB)`);
    // Two 5 MiB parts plus sockets while writing; reading keeps nothing (garbage may lag a GC).
    assert.ok(writePeak < 48 * MiB, `writing held ${writePeak} bytes`);
    assert.ok(readPeak < 128 * MiB, `reading held ${readPeak} bytes`);
  });
});

describe("push and pull through the engine (skopeo)", () => {
  before(() => requireCommands("skopeo"));
  let s3: S3Driver;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let work: string;

  before(async () => {
    s3 = new S3Driver(s3OptionsFromParams(await params()));
    registry = await startRegistry({ driver: withBase(s3), deleteEnabled: true, secret: "berth-s3-test" });
    work = await mkdtemp(join(tmpdir(), "berth-s3-e2e-"));
  });

  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("pushes and pulls a small image", async () => {
    const host = new URL(registry.url).host;
    const image = await makeImageLayout(join(work, "small"), { layers: [1024, 70_000, 300_000], seed: "s3-small" });
    await skopeoCopy(image.ref, `docker://${host}/s3/small:v1`);
    const raw = await skopeoInspect(`docker://${host}/s3/small:v1`, { raw: true });
    assert.equal(`sha256:${createHash("sha256").update(raw).digest("hex")}`, image.manifestDigest);
    await skopeoCopy(`docker://${host}/s3/small:v1`, `oci:${join(work, "pulled")}:v1`);
    const pulled = await skopeoInspect(`oci:${join(work, "pulled")}:v1`, { raw: true });
    assert.equal(pulled, raw);
    // Everything is in the bucket, in distribution's layout; no upload is left over.
    const layerKey = `/docker/registry/v2/blobs/sha256/${image.manifests[0]!.layers[1]!.digest.slice(7, 9)}/${image.manifests[0]!.layers[1]!.digest.slice(7)}/data`;
    assert.equal((await registry.driver.stat(layerKey)).size, image.manifests[0]!.layers[1]!.size);
    // On S3 a directory is only a key prefix: with no upload left, listing _uploads finds nothing.
    await assert.rejects(registry.driver.list("/docker/registry/v2/repositories/s3/small/_uploads"), { kind: "not-found" });
    const multipart = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
    assert.deepEqual(multipart.Uploads ?? [], [], "no unfinished multipart upload in the bucket");
    assert.deepEqual(registry.errors, []);
  });

  it("pushes 50 small layers (64 KiB) and reports the time", async (t) => {
    const host = new URL(registry.url).host;
    const image = await makeImageLayout(join(work, "many"), { layers: Array.from({ length: 50 }, () => 64 * 1024), seed: "s3-many" });
    const counted = countRequests(s3.client);
    const started = performance.now();
    await skopeoCopy(image.ref, `docker://${host}/s3/many:v1`);
    const elapsed = performance.now() - started;
    counted.stop();
    const blobs = 52; // 50 layers, the config, the manifest
    t.diagnostic(`push of 50 x 64 KiB layers: ${(elapsed / 1000).toFixed(2)} s, ${counted.total()} S3 requests (${(counted.total() / blobs).toFixed(1)} per blob): ${counted.summary()}`);
    const pulledDir = join(work, "many-pulled");
    await skopeoCopy(`docker://${host}/s3/many:v1`, `oci:${pulledDir}:v1`);
    assert.equal(await skopeoInspect(`oci:${pulledDir}:v1`, { raw: true }), await skopeoInspect(image.ref, { raw: true }));
    assert.deepEqual(registry.errors, []);
    // Generous: about 1 s per blob would be distribution's figure on this kind of machine.
    assert.ok(elapsed < 30_000, `push took ${elapsed} ms`);
  });
});
