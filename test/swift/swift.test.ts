/**
 * The swift driver against radosgw's Swift API (the one-node Ceph of test/support/ceph.ts, with a
 * Swift subuser, TempAuth-style v1 authentication): the shared driver suite, distribution's
 * parameters, and segmented uploads resumed across writers.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createDriver } from "../../server/registry/storage/factory.js";
import { withBase } from "../../server/registry/storage/base.js";
import { SwiftDriver } from "../../server/registry/storage/swift.js";
import { swiftOptionsFromParams } from "../../server/registry/storage/swift-options.js";
import { driverSuite } from "../../server/registry/storage/testsuite.js";
import { startBerthProcess } from "../support/berth-cli.js";
import { pushAndPull, pushAndPullVia } from "../support/push-pull.js";
import { cephPerFile, write } from "../s3/helpers.js";

const MiB = 1024 * 1024;
const ceph = cephPerFile();

async function params(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const swift = await (await ceph()).swift();
  return {
    authurl: swift.authURL,
    username: swift.user,
    password: swift.key,
    container: `berth-${randomBytes(6).toString("hex")}`,
    prefix: "/registry",
    chunksize: "1MiB",
    ...overrides,
  };
}

describe("swift parameters", () => {
  const base = { authurl: "https://keystone.example/v3", username: "u", password: "p", container: "registry" };

  it("picks the auth version from the URL unless authversion says, and refuses Keystone v2", () => {
    assert.equal(swiftOptionsFromParams(base).authVersion, 3);
    assert.equal(swiftOptionsFromParams({ ...base, authurl: "https://rgw.example/auth/v1.0" }).authVersion, 1);
    assert.equal(swiftOptionsFromParams({ ...base, authversion: 1 }).authVersion, 1);
    assert.throws(() => swiftOptionsFromParams({ ...base, authurl: "https://keystone.example/v2.0" }), /authversion 2 is not supported/);
  });

  it("maps prefix (or rootdirectory), chunk size and TLS verification", () => {
    const options = swiftOptionsFromParams({ ...base, rootdirectory: "/a/b/", chunksize: "8MiB", insecureskipverify: "true" });
    assert.deepEqual([options.prefix, options.chunkSize, options.insecureSkipVerify], ["a/b", 8 * MiB, true]);
    assert.equal(swiftOptionsFromParams(base).chunkSize, 20 * MiB);
    assert.throws(() => swiftOptionsFromParams({ ...base, chunksize: 1024 }), /chunksize must be at least 1 MiB/);
    assert.throws(() => swiftOptionsFromParams({ ...base, password: "" }), /storage\.swift\.password is required/);
  });
});

driverSuite("swift", async () => ({ driver: createDriver("swift", await params()), cleanup: async () => {} }));

describe("swift segmented writers", () => {
  it("resume across writers, drop what an abandoned writer uploaded, and serve ranges across segments", async () => {
    const driver = createDriver("swift", await params());
    const first = await driver.writer("/upload", false);
    const one = Buffer.alloc(MiB + 100, 1);
    await write(first, one);
    await first.commit();

    // A writer that breaks off (a dropped request) after a full segment leaves nothing behind.
    const broken = await driver.writer("/upload", true);
    await write(broken, Buffer.alloc(MiB, 9));
    await write(broken, Buffer.alloc(10, 9));
    broken.destroy();
    await new Promise((resolve) => broken.once("close", resolve));

    const second = await driver.writer("/upload", true);
    assert.equal(second.size, MiB + 100);
    const two = Buffer.alloc(MiB, 2);
    await write(second, two);
    await second.commit();
    const whole = Buffer.concat([one, two]);
    assert.equal((await driver.stat("/upload")).size, whole.length);
    assert.ok((await driver.getContent("/upload")).equals(whole));
    const chunks: Buffer[] = [];
    for await (const chunk of await driver.reader("/upload", MiB - 5, MiB + 200)) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(whole.subarray(MiB - 5, MiB + 200)));
  });

  it("continue an upload distribution started (a manifest without Berth's segment count)", async () => {
    const options = swiftOptionsFromParams(await params({ prefix: "" }));
    const swift = new SwiftDriver(options);
    const put = async (name: string, headers: Record<string, string>, body?: string) => {
      const response = await swift.object("PUT", name, headers, body === undefined ? undefined : Buffer.from(body));
      response.body.resume();
      return response.status;
    };
    for (const [index, body] of ["dist-0;", "dist-1;"].entries()) assert.equal(await put(`segments/abc/${String(index).padStart(16, "0")}`, {}, body), 201);
    assert.equal(await put("files/upload", { "X-Object-Manifest": `${options.container}/segments/abc/` }), 201);
    const driver = withBase(swift);
    const writer = await driver.writer("/upload", true);
    assert.equal(writer.size, 14);
    await write(writer, "berth");
    await writer.commit();
    assert.equal((await driver.getContent("/upload")).toString(), "dist-0;dist-1;berth");
  });

  it("continue an object written in one request", async () => {
    const driver = createDriver("swift", await params());
    await driver.putContent("/obj", "plain, ");
    const writer = await driver.writer("/obj", true);
    assert.equal(writer.size, 7);
    await write(writer, "segmented");
    await writer.commit();
    assert.equal((await driver.getContent("/obj")).toString(), "plain, segmented");
  });
});

describe("push and pull through the engine on swift (skopeo)", () => {
  it("pushes and pulls an image whose big layer spans several segments", async () => {
    await pushAndPull(createDriver("swift", await params()), "swift/image", 3 * MiB);
  });
});

describe("berth serve on swift", () => {
  it("takes the password from REGISTRY_STORAGE_SWIFT_PASSWORD and serves a push and pull", async () => {
    const { password: secret, ...inFile } = await params();
    const dir = await mkdtemp(join(tmpdir(), "berth-swift-serve-"));
    const server = await startBerthProcess({
      name: "berth on swift",
      env: { REGISTRY_STORAGE_SWIFT_PASSWORD: String(secret) },
      config: async (port) => {
        const file = join(dir, "config.yml");
        const parameters = Object.entries(inFile).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}\n`).join("");
        await writeFile(file, `version: 0.1\nstorage:\n  swift:\n${parameters}http:\n  addr: 127.0.0.1:${port}\n  secret: serve-test\n`);
        return file;
      },
    });
    try {
      await pushAndPullVia(server.host, createDriver("swift", { ...inFile, password: secret }), "swift/served", 3 * MiB);
      assert.doesNotMatch(server.output(), new RegExp(String(secret)));
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
