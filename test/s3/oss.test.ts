/**
 * The oss driver (Aliyun OSS through its S3-compatible API), tested with distribution's `oss`
 * parameters against radosgw standing in for OSS: `endpoint` points at it. One cluster for this
 * whole file. Without Ceph the tests that need it fail naming the packages to install.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { withBase } from "../../server/registry/storage/base.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { ossOptionsFromParams } from "../../server/registry/storage/oss.js";
import { S3Driver } from "../../server/registry/storage/s3.js";
import { driverSuite } from "../../server/registry/storage/testsuite.js";
import { cephPerFile, write } from "./helpers.js";

const MiB = 1024 * 1024;
const ceph = cephPerFile();

async function params(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const c = await ceph();
  return {
    accesskeyid: c.accessKey,
    accesskeysecret: c.secretKey,
    region: "oss-cn-beijing",
    endpoint: c.endpoint,
    internal: false,
    bucket: await c.createBucket(),
    encrypt: false,
    secure: false,
    rootdirectory: "/registry",
    ...overrides,
  };
}

describe("oss parameters", () => {
  const base = { accesskeyid: "id", accesskeysecret: "secret", region: "oss-cn-beijing", bucket: "berth-bucket" };

  it("derives the public endpoint from the region, honouring secure", () => {
    assert.equal(ossOptionsFromParams(base).endpoint, "https://oss-cn-beijing.aliyuncs.com");
    assert.equal(ossOptionsFromParams({ ...base, secure: false }).endpoint, "http://oss-cn-beijing.aliyuncs.com");
    assert.equal(ossOptionsFromParams({ ...base, region: "cn-hangzhou" }).endpoint, "https://oss-cn-hangzhou.aliyuncs.com");
    assert.equal(ossOptionsFromParams(base).forcePathStyle, false, "OSS serves virtual-hosted buckets only");
  });

  it("uses the internal endpoint for traffic and the public one for redirects", () => {
    const internal = ossOptionsFromParams({ ...base, internal: true });
    assert.equal(internal.endpoint, "https://oss-cn-beijing-internal.aliyuncs.com");
    assert.equal(internal.redirectEndpoint, "https://oss-cn-beijing.aliyuncs.com");
    const named = ossOptionsFromParams({ ...base, internal: "vpc100-oss-cn-beijing.aliyuncs.com", endpoint: "oss.example.com", secure: "false" });
    assert.equal(named.endpoint, "http://vpc100-oss-cn-beijing.aliyuncs.com");
    assert.equal(named.redirectEndpoint, "http://oss.example.com");
    assert.equal(ossOptionsFromParams({ ...base, internal: "false" }).endpoint, "https://oss-cn-beijing.aliyuncs.com");
  });

  it("maps credentials, chunk size, encryption and root directory", () => {
    const options = ossOptionsFromParams({ ...base, chunksize: "8MiB", encrypt: true, encryptionkeyid: "kms-1", rootdirectory: "/registry/" });
    assert.deepEqual(options.credentials, { accessKeyId: "id", secretAccessKey: "secret" });
    assert.equal(options.chunkSize, 8 * MiB);
    assert.equal(options.encrypt, true);
    assert.equal(options.keyId, "kms-1");
    assert.equal(new S3Driver(options).prefix, "registry/");
    assert.equal(new S3Driver(options).name, "oss");
  });

  it("rejects missing required parameters and chunk sizes below 5 MiB", () => {
    assert.throws(() => ossOptionsFromParams({ ...base, accesskeyid: undefined }), /accesskeyid/);
    assert.throws(() => ossOptionsFromParams({ ...base, bucket: "" }), /bucket/);
    assert.throws(() => createDriver("oss", { ...base, chunksize: 1024 }), /chunksize/);
  });

  it("signs redirect URLs for the public endpoint, virtual-hosted", async () => {
    const driver = createDriver("oss", { ...base, internal: true });
    const url = new URL((await driver.redirectURL("/docker/registry/v2/blobs/sha256/ab/abc/data", "GET"))!);
    assert.equal(url.host, "berth-bucket.oss-cn-beijing.aliyuncs.com");
    assert.equal(url.pathname, "/docker/registry/v2/blobs/sha256/ab/abc/data");
    assert.ok(url.searchParams.get("X-Amz-Signature"));
  });
});

driverSuite("oss (radosgw through the oss parameters)", async () => ({ driver: createDriver("oss", await params()), cleanup: async () => {} }));

describe("oss driver against radosgw", () => {
  let driver: StorageDriver;

  before(async () => {
    driver = withBase(new S3Driver(ossOptionsFromParams(await params({ chunksize: 5 * MiB }))));
  });

  it("writes in parts of chunksize and continues across writers", async () => {
    const data = randomBytes(11 * MiB + 3);
    const first = await driver.writer("/oss/upload/data", false);
    await write(first, data.subarray(0, 7 * MiB));
    await first.commit();
    const second = await driver.writer("/oss/upload/data", true);
    assert.equal(second.size, 7 * MiB);
    await write(second, data.subarray(7 * MiB));
    await second.commit();
    await driver.move("/oss/upload/data", "/oss/blobs/data");
    assert.ok((await driver.getContent("/oss/blobs/data")).equals(data));
    await assert.rejects(driver.stat("/oss/upload/data"));
  });

  it("gives redirect URLs that plain fetch can use", async () => {
    const content = randomBytes(10_000);
    await driver.putContent("/oss/redirect", content);
    const response = await fetch((await driver.redirectURL("/oss/redirect", "GET"))!);
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(content));
  });
});
