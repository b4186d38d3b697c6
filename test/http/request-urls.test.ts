import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { createRegistry } from "../../server/registry/handler.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { serve, type RunningBerth } from "../../server/serve.js";

const quiet = createLogger({ level: "error", write: () => undefined });

/** The Location of an upload started with `headers`, sent with node:http so Host can be set. */
function uploadLocation(base: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/v2/team/app/blobs/uploads/`, { method: "POST", headers }, (res) => {
      res.resume();
      assert.equal(res.statusCode, 202);
      resolve(res.headers.location ?? "");
    });
    req.on("error", reject);
    req.end();
  });
}

// Without http.host, distribution hands out absolute URLs built from the request, unless
// http.relativeurls is set.
describe("Location URLs from the request", () => {
  let server: http.Server;
  const r = { base: "" };
  before(async () => {
    const registry = createRegistry({ driver: createDriver("inmemory"), logger: quiet, secret: "s", requestUrls: true });
    server = http.createServer((req, res) => registry.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    r.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("are absolute on the Host the client used", async () => {
    assert.match(await uploadLocation(r.base), new RegExp(`^${r.base}/v2/team/app/blobs/uploads/[0-9a-f-]{36}\\?_state=`));
    assert.match(await uploadLocation(r.base, { Host: "registry.test:8443" }), /^http:\/\/registry\.test:8443\/v2\/team\/app\//);
  });

  it("follow X-Forwarded-Proto and the first X-Forwarded-Host, and Forwarded before them", async () => {
    const xf = await uploadLocation(r.base, { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.test, inner.test" });
    assert.match(xf, /^https:\/\/public\.test\/v2\/team\/app\//);
    const forwarded = await uploadLocation(r.base, { Forwarded: 'proto=https;host="rfc.test:444", host=second.test', "X-Forwarded-Host": "ignored.test" });
    assert.match(forwarded, /^https:\/\/rfc\.test:444\/v2\/team\/app\//);
  });

  it("ignore forwarded values that are no scheme or host", async () => {
    const location = await uploadLocation(r.base, { Host: "real.test", "X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.test/path?x" });
    assert.match(location, /^http:\/\/real\.test\/v2\/team\/app\//);
  });
});

describe("serve: http.relativeurls", () => {
  const started: RunningBerth[] = [];
  const start = async (http: Record<string, unknown>) => {
    const config = parseConfig({ version: "0.1", storage: { inmemory: {} }, http: { addr: "127.0.0.1:0", secret: "x", ...http } });
    const running = await serve({ config, registryOnly: true, logger: quiet });
    started.push(running);
    return running;
  };
  after(() => Promise.all(started.map((running) => running.close())));

  it("absolute Locations by default, relative ones with relativeurls: true (under the prefix both)", async () => {
    const absolute = await start({ prefix: "/p/" });
    const location = await uploadLocation(`${absolute.url}/p`);
    assert.ok(location.startsWith(`${absolute.url}/p/v2/team/app/blobs/uploads/`), location);
    const relative = await start({ prefix: "/p/", relativeurls: true });
    assert.match(await uploadLocation(`${relative.url}/p`), /^\/p\/v2\/team\/app\/blobs\/uploads\//);
  });
});
