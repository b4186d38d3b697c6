/**
 * HTTP/2 on TLS (`http.http2.disabled` unset): curl negotiates h2 through ALPN, HTTP/1.1 clients
 * and skopeo keep working on the same port, and `disabled: true` serves HTTP/1.1 only.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { makeImageLayout } from "../support/images.js";
import { skopeoCopy, skopeoInspect } from "../support/skopeo.js";

const fixtures = fileURLToPath(new URL("../../server/config/fixtures/", import.meta.url));
const quiet = createLogger({ level: "error", write: () => undefined });
const run = promisify(execFile);

async function start(http2: { disabled?: boolean } | undefined): Promise<RunningBerth> {
  const config = parseConfig({
    version: "0.1",
    storage: { inmemory: {} },
    http: {
      addr: "127.0.0.1:0",
      tls: { certificate: join(fixtures, "test-cert.pem"), key: join(fixtures, "test-key.pem") },
      ...(http2 ? { http2 } : {}),
    },
  });
  return serve({ config, registryOnly: true, logger: quiet });
}

/** The HTTP version curl used and the status, as `2 200`. */
async function curl(url: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", ...args, url]);
  return stdout;
}

describe("HTTP/2 on TLS", () => {
  let running: RunningBerth;
  let dir: string;
  before(async () => {
    running = await start(undefined);
    dir = await mkdtemp(join(tmpdir(), "berth-h2-"));
  });
  after(async () => {
    await running.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers curl --http2 over h2 and curl --http1.1 over HTTP/1.1 on the same port", async () => {
    const warnings: Error[] = [];
    const warned = (warning: Error) => warnings.push(warning);
    process.on("warning", warned);
    try {
      assert.equal(await curl(`${running.url}/v2/`, "--http2"), "2 200");
      assert.equal(await curl(`${running.url}/v2/`, "--http1.1"), "1.1 200");
      assert.equal(await curl(`${running.url}/v2/nothing/manifests/latest`, "--http2"), "2 404");
      // A refused upload's body is not read: HTTP/2 resets the stream, with no Connection header.
      assert.match(await curl(`${running.url}/v2/nothing/blobs/uploads/nothing`, "--http2", "-X", "PUT", "--data-binary", "x".repeat(100_000)), /^2 4\d\d$/);
    } finally {
      process.off("warning", warned);
    }
    assert.deepEqual(warnings.map(String), [], "no connection-specific header reached HTTP/2");
  });

  it("pushes and pulls an image with skopeo over TLS, and serves its blobs over h2", async () => {
    const image = await makeImageLayout(join(dir, "image"), { layers: [200_000, 3_000] });
    const host = new URL(running.url).host;
    await skopeoCopy(image.ref, `docker://${host}/h2/app:v1`);
    const inspected = await skopeoInspect(`docker://${host}/h2/app:v1`);
    assert.equal(inspected.Digest, image.manifestDigest);
    await skopeoCopy(`docker://${host}/h2/app:v1`, `oci:${join(dir, "pulled")}:v1`);
    const layer = image.manifests[0]!.layers[0]!;
    const { stdout } = await run("curl", ["-sk", "--http2", "-w", "%{http_version}", "-o", join(dir, "layer"), `${running.url}/v2/h2/app/blobs/${layer.digest}`]);
    assert.equal(stdout, "2");
    const { stdout: sum } = await run("sha256sum", [join(dir, "layer")]);
    assert.equal(`sha256:${sum.split(" ")[0]}`, layer.digest);
  });

  it("serves HTTP/1.1 only with http.http2.disabled", async () => {
    const h1 = await start({ disabled: true });
    try {
      assert.equal(await curl(`${h1.url}/v2/`, "--http2"), "1.1 200");
    } finally {
      await h1.close();
    }
  });
});
