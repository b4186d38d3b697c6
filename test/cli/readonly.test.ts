import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfigWithWarnings } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { eventually } from "../support/eventually.js";
import { requireCommands } from "../support/commands.js";
import { berth } from "../support/berth-cli.js";

describe("berth readonly against running instances (through etcd)", () => {
  before(() => requireCommands("etcd"));
  let dir: string;
  let etcd: RunningEtcd;
  let running: RunningBerth;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-ro-cli-"));
    etcd = await startEtcd();
    file = join(dir, "config.yml");
    await writeFile(
      file,
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:0\n  secret: ro\netcd:\n  endpoints: [${etcd.endpoint}]\n`,
    );
    const { config } = await loadConfigWithWarnings(file, { env: {} });
    running = await serve({ config, registryOnly: true, logger: createLogger({ level: "error", write: () => undefined }) });
  });

  after(async () => {
    await running?.close();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = async () => (await fetch(`${running.url}/v2/ro/app/blobs/uploads/`, { method: "POST" })).status;
  const uploadsAnswer = (status: number) => eventually(async () => assert.equal(await upload(), status), 5_000, `uploads to answer ${status}`);

  it("switches the running server to read-only and back, and reports the mode", async () => {
    assert.equal(await upload(), 202);
    const on = await berth(["readonly", "on", "--reason", "disk swap", file]);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /^read-only \(runtime: cli:.*, "disk swap"\)$/m);
    await uploadsAnswer(405);
    assert.equal((await fetch(`${running.url}/v2/`)).status, 200, "reads keep working");

    const status = await berth(["readonly", "status", file]);
    assert.match(status.stdout, /^read-only/m);
    const off = await berth(["readonly", "off", file]);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(off.stdout.trim(), "writable");
    await uploadsAnswer(202);
  });

  it("says what is missing without etcd", async () => {
    const plain = join(dir, "plain.yml");
    await writeFile(plain, `version: 0.1\nstorage:\n  inmemory: {}\n`);
    const result = await berth(["readonly", "on", plain]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /configures no etcd/);
  });
});
