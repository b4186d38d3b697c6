/**
 * The azure driver against Azurite (a real Blob Storage API, started here on a free port): the
 * shared driver suite, distribution's parameters, and resumed block uploads.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { azureOptionsFromParams } from "../../server/registry/storage/azure-options.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { driverSuite } from "../../server/registry/storage/testsuite.js";
import { startAzurite, type RunningAzurite } from "../support/azurite.js";
import { startBerthProcess } from "../support/berth-cli.js";
import { pushAndPull, pushAndPullVia } from "../support/push-pull.js";
import { write } from "../s3/helpers.js";

let server: Promise<RunningAzurite> | undefined;
const azurite = () => (server ??= startAzurite());

after(async () => {
  if (server) await (await server).stop();
});

async function params(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const a = await azurite();
  return {
    accountname: a.accountName,
    accountkey: a.accountKey,
    container: await a.createContainer(),
    serviceurl: a.serviceURL,
    rootdirectory: "/registry",
    ...overrides,
  };
}

describe("azure parameters", () => {
  const base = { accountname: "acct", accountkey: "a2V5", container: "registry" };

  it("derives the service URL from the account and realm", () => {
    assert.equal(azureOptionsFromParams(base).serviceURL, "https://acct.blob.core.windows.net");
    assert.equal(azureOptionsFromParams({ ...base, realm: "core.chinacloudapi.cn" }).serviceURL, "https://acct.blob.core.chinacloudapi.cn");
    assert.equal(azureOptionsFromParams({ ...base, serviceurl: "http://127.0.0.1:10000/acct/" }).serviceURL, "http://127.0.0.1:10000/acct");
    assert.equal(azureOptionsFromParams({ ...base, rootdirectory: "/a/b/" }).prefix, "a/b/");
  });

  it("rejects missing parameters and credential types other than the account key", () => {
    assert.throws(() => azureOptionsFromParams({ ...base, accountkey: "" }), /storage\.azure\.accountkey is required/);
    assert.throws(() => azureOptionsFromParams({ ...base, container: undefined }), /container/);
    assert.doesNotThrow(() => azureOptionsFromParams({ ...base, credentials: { type: "shared_key" } }));
    assert.throws(() => azureOptionsFromParams({ ...base, credentials: { type: "client_secret" } }), /client_secret.*not supported/);
  });
});

driverSuite("azure", async () => ({ driver: createDriver("azure", await params()), cleanup: async () => {} }));

describe("azure writers", () => {
  it("resume a blob written in one request, and keep what earlier writers committed", async () => {
    const driver = createDriver("azure", await params());
    await driver.putContent("/upload", "whole, ");
    const first = await driver.writer("/upload", true);
    assert.equal(first.size, 7);
    await write(first, "block one, ");
    await first.commit();
    const second = await driver.writer("/upload", true);
    assert.equal(second.size, 18);
    await write(second, "block two");
    await second.commit();
    assert.equal((await driver.getContent("/upload")).toString(), "whole, block one, block two");
  });

  it("redirect to a signed URL that serves the blob", async () => {
    const driver = createDriver("azure", await params());
    await driver.putContent("/obj", "signed");
    const url = await driver.redirectURL("/obj", "GET");
    assert.ok(url);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "signed");
  });
});

describe("push and pull through the engine on azure (skopeo)", () => {
  it("pushes and pulls an image whose big layer spans several blocks", async () => {
    await pushAndPull(createDriver("azure", await params()), "azure/image", 9 * 1024 * 1024);
  });
});

describe("berth serve on azure", () => {
  it("takes the accountkey from REGISTRY_STORAGE_AZURE_ACCOUNTKEY and serves a push and pull", async () => {
    const { accountkey: secret, ...inFile } = await params();
    const dir = await mkdtemp(join(tmpdir(), "berth-azure-serve-"));
    const server = await startBerthProcess({
      name: "berth on azure",
      env: { REGISTRY_STORAGE_AZURE_ACCOUNTKEY: String(secret) },
      config: async (port) => {
        const file = join(dir, "config.yml");
        const parameters = Object.entries(inFile).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}\n`).join("");
        await writeFile(file, `version: 0.1\nstorage:\n  azure:\n${parameters}http:\n  addr: 127.0.0.1:${port}\n  secret: serve-test\n`);
        return file;
      },
    });
    try {
      await pushAndPullVia(server.host, createDriver("azure", { ...inFile, accountkey: secret }), "azure/served", 5 * 1024 * 1024);
      assert.doesNotMatch(server.output(), new RegExp(String(secret)));
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
