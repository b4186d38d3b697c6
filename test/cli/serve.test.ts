import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import bcrypt from "bcryptjs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { eventually } from "../support/eventually.js";
import { startBerthProcess } from "../support/berth-cli.js";
import { freePort } from "../support/net.js";
import type { ServerProcess } from "../support/process.js";

const fixtures = fileURLToPath(new URL("../../server/config/fixtures/", import.meta.url));
const quiet = createLogger({ level: "error", write: () => undefined });

describe("serve: http.prefix, http.host, http.debug (health, Prometheus) and the access log", () => {
  let running: RunningBerth;
  let debugPort: number;
  const logLines: string[] = [];

  before(async () => {
    debugPort = await freePort();
    const config = parseConfig({
      version: "0.1",
      storage: { inmemory: {} },
      http: {
        addr: "127.0.0.1:0",
        prefix: "/mirror/",
        host: "https://registry.example.com",
        secret: "x",
        debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: "/metrics" } },
      },
    });
    running = await serve({ config, registryOnly: true, logger: createLogger({ level: "info", format: "json", write: (line) => logLines.push(line) }) });
  });

  after(() => running.close());

  it("serves the API under the prefix only", async () => {
    assert.equal((await fetch(`${running.url}/mirror/v2/`)).status, 200);
    assert.equal((await fetch(`${running.url}/v2/`)).status, 404);
  });

  it("hands out URLs under the public host and prefix", async () => {
    const res = await fetch(`${running.url}/mirror/v2/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(res.status, 202);
    assert.match(res.headers.get("location") ?? "", /^https:\/\/registry\.example\.com\/mirror\/v2\/team\/app\/blobs\/uploads\//);
  });

  it("counts requests, bytes and uploads in Prometheus metrics and logs each request", async () => {
    const blob = Buffer.alloc(100_000, 7);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const receivedBytes = async () => Number(/^berth_http_received_bytes_total (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${debugPort}/metrics`)).text())?.[1]);
    const receivedBefore = await receivedBytes();
    const res = await fetch(`${running.url}/mirror/v2/metrics/app/blobs/uploads/?digest=${digest}`, { method: "POST", body: new Uint8Array(blob) });
    assert.equal(res.status, 201);
    // The request is counted when its connection side is done, which may be just after the answer.
    let text = "";
    await eventually(
      async () => {
        text = await (await fetch(`http://127.0.0.1:${debugPort}/metrics`)).text();
        assert.match(text, /^berth_http_requests_total\{route="uploads",method="POST",status="201"\} 1$/m);
      },
      2_000,
      "the POST in /metrics",
    );
    assert.match(text, /^berth_upload_sessions_completed_total 1$/m);
    // Every POST to the uploads endpoint so far (201 above, 202 in the test before) is timed.
    const posts = [...text.matchAll(/^berth_http_requests_total\{route="uploads",method="POST",status="\d+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.match(text, new RegExp(`^berth_http_request_duration_seconds_count\\{route="uploads",method="POST"\\} ${posts}$`, "m"));
    // Received since: this one request, its body and its headers (whose size is fetch's choice).
    const received = Number(/^berth_http_received_bytes_total (\d+)$/m.exec(text)?.[1]) - receivedBefore;
    assert.ok(received > blob.length && received < blob.length + 1024, `received ${received}`);
    const access = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === "request" && entry.status === 201);
    assert.equal(access?.path, `/v2/metrics/app/blobs/uploads/`);
    assert.equal(access?.method, "POST");
  });

  it("answers health on the debug address", async () => {
    const res = await fetch(`http://127.0.0.1:${debugPort}/debug/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { ok: boolean }).ok, true);
  });
});

describe("serve: TLS with client certificates", () => {
  let running: RunningBerth;
  const cert = readFileSync(join(fixtures, "test-cert.pem"));
  const key = readFileSync(join(fixtures, "test-key.pem"));

  before(async () => {
    const config = parseConfig({
      version: "0.1",
      storage: { inmemory: {} },
      http: {
        addr: "127.0.0.1:0",
        secret: "x",
        tls: { certificate: join(fixtures, "test-cert.pem"), key: join(fixtures, "test-key.pem"), clientcas: [join(fixtures, "test-cert.pem")], minimumtls: "tls1.2" },
      },
    });
    running = await serve({ config, registryOnly: true, logger: quiet });
  });

  after(() => running.close());

  const get = (withClientCert: boolean) =>
    new Promise<number>((resolve, reject) => {
      const req = https.get(
        `${running.url.replace("localhost", "127.0.0.1")}/v2/`,
        { ca: cert, checkServerIdentity: () => undefined, ...(withClientCert ? { cert, key } : {}) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
    });

  it("serves HTTPS to a client with a certificate signed by clientcas", async () => {
    assert.match(running.url, /^https:/);
    assert.equal(await get(true), 200);
  });

  it("refuses a client without a certificate", async () => {
    await assert.rejects(get(false));
  });
});

describe("SIGHUP reloads the configuration live", () => {
  let dir: string;
  let file: string;
  let port: number;
  let berth: ServerProcess;
  const output = () => berth.output();

  const write = (readonly: boolean, extra = "") =>
    writeFile(
      file,
      `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  maintenance:\n    readonly:\n      enabled: ${readonly}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: hup\n${extra}`,
    );
  const startUpload = async () => (await fetch(`http://127.0.0.1:${port}/v2/hup/app/blobs/uploads/`, { method: "POST" })).status;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-hup-"));
    file = join(dir, "config.yml");
    berth = await startBerthProcess({
      config: async (free) => {
        port = free;
        await write(false);
        return file;
      },
    });
  });

  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("switches to read-only without a restart", async () => {
    assert.equal(await startUpload(), 202);
    await write(true);
    berth.child.kill("SIGHUP");
    await eventually(async () => (await startUpload()) === 405, 5_000, () => `read-only after SIGHUP:\n${output()}`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2/`)).status, 200);
  });

  it("keeps the running configuration when the new file is invalid, and says what needs a restart", async () => {
    await writeFile(file, "version: 0.1\nstorage: [\n");
    berth.child.kill("SIGHUP");
    await eventually(() => output().includes("reload failed"), 5_000, () => `"reload failed" in:\n${output()}`);
    assert.equal(berth.child.exitCode, null);
    assert.equal(await startUpload(), 405);

    await write(false, "  prefix: /other/\n");
    berth.child.kill("SIGHUP");
    await eventually(async () => (await startUpload()) === 202, 5_000, () => `writable again:\n${output()}`);
    assert.match(output(), /restartNeeded.*http\.prefix/);
  });

  it("turns registry auth on and off live", async () => {
    const htpasswd = join(dir, "htpasswd");
    await writeFile(htpasswd, `ops:${bcrypt.hashSync("ops-pw", 10)}\n`);
    await write(false, `auth:\n  htpasswd:\n    realm: berth-hup\n    path: ${htpasswd}\n`);
    berth.child.kill("SIGHUP");
    const base = async () => fetch(`http://127.0.0.1:${port}/v2/`);
    await eventually(async () => (await base()).status === 401, 5_000, () => `auth on:\n${output()}`);
    assert.equal((await base()).headers.get("www-authenticate"), 'Basic realm="berth-hup"');
    const authorized = await fetch(`http://127.0.0.1:${port}/v2/`, { headers: { Authorization: `Basic ${Buffer.from("ops:ops-pw").toString("base64")}` } });
    assert.equal(authorized.status, 200);

    await write(false);
    berth.child.kill("SIGHUP");
    await eventually(async () => (await base()).status === 200, 5_000, () => `auth off:\n${output()}`);
  });
});
