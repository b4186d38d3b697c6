/**
 * `http.draintimeout` through the real `berth serve` process: SIGTERM while a layer upload is
 * still sending lets that upload finish with 201, refuses new connections, and exits in time.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startBerthProcess } from "../support/berth-cli.js";
import type { ServerProcess } from "../support/process.js";

describe("http.draintimeout: graceful shutdown of berth serve", () => {
  let dir: string | undefined;
  let berth: ServerProcess | undefined;
  after(async () => {
    await berth?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("finishes a chunked upload in flight at SIGTERM with 201, refuses new connections, exits within the timeout", async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-drain-"));
    const root = join(dir, "storage");
    berth = await startBerthProcess({
      config: async (port) => {
        const file = join(dir!, "config.yml");
        await writeFile(file, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:${port}\n  draintimeout: 20s\n`);
        return file;
      },
    });
    const started = await fetch(`${berth.url}/v2/drain/blobs/uploads/`, { method: "POST" });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get("location")!, berth.url);
    const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const digest = `sha256:${createHash("sha256").update(Buffer.concat(chunks)).digest("hex")}`;
    location.searchParams.set("digest", digest);

    // A monolithic PUT whose body arrives slowly, chunked: in flight when the signal comes.
    const upload = http.request(location, { method: "PUT", headers: { "Content-Type": "application/octet-stream" } });
    const answered = new Promise<number>((resolve, reject) => {
      upload.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      upload.on("error", reject);
    });
    upload.write(chunks[0]);
    await sleep(300);
    const exited = new Promise<number>((resolve) => berth!.child.once("exit", () => resolve(performance.now())));
    const signalled = performance.now();
    berth.child.kill("SIGTERM");
    await sleep(500);

    await assert.rejects(fetch(`${berth.url}/v2/`), (error: Error) => /ECONNREFUSED/.test(String((error.cause as Error)?.message ?? error)));
    for (const chunk of chunks.slice(1)) {
      upload.write(chunk);
      await sleep(100);
    }
    upload.end();
    assert.equal(await answered, 201, berth.output());
    const exitMs = (await exited) - signalled;
    assert.ok(exitMs < 20_000, `exited ${Math.round(exitMs)} ms after SIGTERM`);
    assert.ok(exitMs >= 1_000, `exited only after the upload finished (${Math.round(exitMs)} ms)`);
  });
});
