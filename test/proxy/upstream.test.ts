/**
 * The upstream registry client (server/proxy/upstream.ts) on its own, against real registries:
 * Debian's docker-registry anonymous, with htpasswd (Basic), with tokens from Berth's own token
 * server (the Docker Hub flow), and behind TLS with a self-signed certificate. Recording hops in
 * front of them count what reaches each server and stand in for what a healthy registry never
 * does (redirects to storage, refused tokens, stalls).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { UpstreamError, UpstreamRegistry, type UpstreamOptions } from "../../server/proxy/upstream.js";
import { capturingLogger, htpasswdText, type CapturingLogger } from "../auth/harness.js";
import { removeDir, tempDir } from "../gc/harness.js";
import { requireCommands } from "../support/commands.js";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { blobPath, makeImageLayout, OCI_INDEX, OCI_MANIFEST, type ImageLayout } from "../support/images.js";
import { freePort } from "../support/net.js";
import { skopeoCopy } from "../support/skopeo.js";
import { recordingHop, selfSignedCertificate, startTokenServer, type RecordingHop, type TestTokenServer } from "./harness.js";

requireCommands("docker-registry", "skopeo", "openssl");

/** The passwords, and the base64 of `mirror:` that starts a Basic header. */
const secrets = ["mirror-pw", "wrong-pw", "bWlycm9y"];
/** Every bearer token a hop saw, so the log can be checked for them. */
const seenTokens = new Set<string>();

let scratch: string;
let anonymous: DistributionRegistry;
let image: ImageLayout;
let multi: ImageLayout;
let logger: CapturingLogger;
const clients: UpstreamRegistry[] = [];
const stops: (() => Promise<void>)[] = [];

/** A client that the suite closes at the end, logging into `logger`. */
function client(options: Omit<UpstreamOptions, "logger">): UpstreamRegistry {
  const upstream = new UpstreamRegistry({ ...options, logger });
  clients.push(upstream);
  return upstream;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The error a promise rejects with, asserted to be an UpstreamError. */
async function upstreamError(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => assert.fail("expected an UpstreamError"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UpstreamError, `an UpstreamError, not ${String(error)}`);
  return error;
}

/** Pulls the single-platform image's manifest and every blob through `upstream`, byte-exact. */
async function assertPulls(upstream: UpstreamRegistry, repository = "team/app"): Promise<void> {
  const manifest = await upstream.manifest(repository, "1", "GET");
  assert.equal(manifest?.body && sha256(manifest.body), image.manifestDigest);
  const [description] = image.manifests;
  for (const digest of [description!.configDigest, ...description!.layers.map((l) => l.digest)]) {
    const blob = await upstream.blob(repository, digest);
    assert.ok(blob, `blob ${digest}`);
    const bytes = await readAll(blob.body);
    assert.equal(bytes.length, blob.size);
    assert.equal(sha256(bytes), digest);
    assert.deepEqual(bytes, await readFile(blobPath(image.dir, digest)));
  }
}

before(async () => {
  scratch = await tempDir("upstream-client");
  logger = capturingLogger("debug");
  const root = join(scratch, "storage");
  // One storage, pushed to anonymously, read by every upstream below (distribution only reads it).
  anonymous = await startDistribution({ root });
  stops.push(() => anonymous.stop());
  image = await makeImageLayout(join(scratch, "image"), { seed: "upstream-client", layers: [40_000, 3_000] });
  multi = await makeImageLayout(join(scratch, "multi"), {
    seed: "upstream-client-multi",
    platforms: [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64" },
    ],
  });
  await skopeoCopy(image.ref, `docker://${anonymous.host}/team/app:1`);
  await skopeoCopy(image.ref, `docker://${anonymous.host}/team/other:1`);
  await skopeoCopy(multi.ref, `docker://${anonymous.host}/team/app:multi`, { all: true });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const stop of stops.reverse()) await stop();
  await removeDir(scratch);
  assert.ok(logger.lines.some((line) => line.includes("fetched a token")), "the client logged its token fetches");
  assert.ok(seenTokens.size > 0);
  for (const line of logger.lines) for (const secret of [...secrets, ...seenTokens]) assert.ok(!line.includes(secret), `a secret in the log: ${line}`);
});

function noteTokens(hop: RecordingHop): void {
  for (const request of hop.requests) {
    const token = /^Bearer (.+)$/.exec(request.authorization ?? "")?.[1];
    if (token) seenTokens.add(token);
  }
}

describe("an anonymous upstream", () => {
  it("GETs and HEADs manifests by tag and by digest, with digest, media type and size", async () => {
    const upstream = client({ url: anonymous.url });
    for (const [tag, layout, mediaType] of [
      ["1", image, OCI_MANIFEST],
      ["multi", multi, OCI_INDEX],
    ] as const) {
      for (const reference of [tag, layout.manifestDigest]) {
        const got = await upstream.manifest("team/app", reference, "GET");
        assert.ok(got?.body, `GET ${reference}`);
        assert.equal(sha256(got.body), layout.manifestDigest);
        assert.deepEqual(got.body, await readFile(blobPath(layout.dir, layout.manifestDigest)));
        assert.equal(got.digest, layout.manifestDigest);
        assert.equal(got.mediaType, mediaType);
        assert.equal(got.size, layout.manifestSize);
        const head = await upstream.manifest("team/app", reference, "HEAD");
        assert.deepEqual(head, { digest: layout.manifestDigest, mediaType, size: layout.manifestSize });
      }
    }
  });

  it("streams blobs byte-exact with their size", async () => {
    const upstream = client({ url: anonymous.url });
    await assertPulls(upstream);
    const layer = image.manifests[0]!.layers[0]!;
    assert.equal(await upstream.blobSize("team/app", layer.digest), layer.size);
  });

  it("answers undefined for what the upstream does not have", async () => {
    const upstream = client({ url: anonymous.url });
    const missing = `sha256:${"0".repeat(64)}`;
    assert.equal(await upstream.manifest("team/app", "nope", "GET"), undefined);
    assert.equal(await upstream.manifest("team/app", "nope", "HEAD"), undefined);
    assert.equal(await upstream.manifest("team/nothing", "1", "GET"), undefined);
    assert.equal(await upstream.manifest("team/app", missing, "GET"), undefined);
    assert.equal(await upstream.blob("team/app", missing), undefined);
    assert.equal(await upstream.blobSize("team/app", missing), undefined);
  });

  it("reports an error answer with the upstream's status and error code", async () => {
    const hop = await recordingHop(anonymous.url, {
      intercept: (_req, res) => {
        res.writeHead(429, { "Content-Type": "application/json", "Retry-After": "10" });
        res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "pull rate limit" }] }));
        return true;
      },
    });
    stops.push(() => hop.close());
    const error = await upstreamError(client({ url: hop.url }).manifest("team/app", "1", "GET"));
    assert.equal(error.kind, "status");
    assert.equal(error.status, 429);
    assert.equal(error.code, "TOOMANYREQUESTS");
  });

  it("reports answers that break the protocol as protocol errors", async () => {
    const digest = `sha256:${"1".repeat(64)}`;
    const hop = await recordingHop(anonymous.url, {
      intercept: (req, res) => {
        const [, repository] = /^\/v2\/bad\/([a-z]+)\//.exec(req.url ?? "") ?? [];
        if (req.url?.startsWith("/token?")) res.writeHead(200, { "Content-Type": "application/json" }).end("<html>not json</html>");
        else if (repository === "scheme") res.writeHead(307, { Location: "ftp://127.0.0.1/blob" }).end();
        else if (repository === "realm") res.writeHead(401, { "WWW-Authenticate": 'Bearer realm="not a url",service="x"' }).end();
        else if (repository === "token") res.writeHead(401, { "WWW-Authenticate": `Bearer realm="${hop.url}/token",service="x"` }).end();
        else if (repository === "length") res.writeHead(200).end("chunked, no length");
        else return false;
        return true;
      },
    });
    stops.push(() => hop.close());
    for (const repository of ["bad/scheme", "bad/realm", "bad/token", "bad/length"]) {
      const error = await upstreamError(client({ url: hop.url }).blob(repository, digest));
      assert.equal(error.kind, "protocol", `${repository}: ${error.message}`);
    }
  });

  it("fails as unreachable on a closed port, on silence, and when a blob stalls mid-way", async () => {
    const port = await freePort();
    assert.equal((await upstreamError(client({ url: `http://127.0.0.1:${port}` }).manifest("team/app", "1", "HEAD"))).kind, "unreachable");

    const layer = image.manifests[0]!.layers[0]!;
    const stalled: ServerResponse[] = [];
    const hop = await recordingHop(anonymous.url, {
      intercept: (req: IncomingMessage, res) => {
        if (req.url?.includes("/manifests/")) {
          stalled.push(res);
          return true;
        }
        if (!req.url?.endsWith(layer.digest)) return false;
        res.writeHead(200, { "Content-Length": String(layer.size) });
        res.write(Buffer.alloc(100));
        stalled.push(res);
        return true;
      },
    });
    stops.push(() => hop.close());
    const upstream = client({ url: hop.url, timeoutMs: 300 });
    const started = Date.now();
    const silent = await upstreamError(upstream.manifest("team/app", "1", "HEAD"));
    assert.equal(silent.kind, "unreachable");
    assert.ok(Date.now() - started < 5_000, "the timeout ended the request");
    const blob = await upstream.blob("team/app", layer.digest);
    assert.ok(blob);
    const broken = await upstreamError(readAll(blob.body));
    assert.equal(broken.kind, "unreachable");
    for (const res of stalled) res.destroy();
  });
});

describe("an upstream with Basic auth (distribution + htpasswd)", () => {
  let hop: RecordingHop;

  before(async () => {
    await writeFile(join(scratch, "htpasswd"), htpasswdText({ mirror: "mirror-pw" }));
    const registry = await startDistribution({ root: anonymous.root, auth: ["auth:", "  htpasswd:", "    realm: upstream", `    path: ${JSON.stringify(join(scratch, "htpasswd"))}`] });
    stops.push(() => registry.stop());
    hop = await recordingHop(registry.url);
    stops.push(() => hop.close());
  });

  it("answers the first 401 with the credentials, then sends them up front", async () => {
    hop.requests.length = 0;
    await assertPulls(client({ url: hop.url, username: "mirror", password: "mirror-pw" }));
    const [first, ...rest] = hop.requests;
    assert.deepEqual([first?.status, first?.authorization], [401, undefined]);
    assert.ok(rest.length >= 4);
    for (const request of rest) {
      assert.equal(request.status, 200, `${request.method} ${request.path}`);
      assert.match(request.authorization ?? "", /^Basic /);
    }
  });

  it("fails with an auth error for a wrong password or none, naming no secret", async () => {
    for (const options of [{ username: "mirror", password: "wrong-pw" }, {}]) {
      const error = await upstreamError(client({ url: hop.url, ...options }).manifest("team/app", "1", "GET"));
      assert.equal(error.kind, "auth");
      assert.equal(error.status, 401);
      assert.doesNotMatch(error.message, /wrong-pw|bWlycm9y/);
    }
  });

  it("sends the credentials across a redirect on its own origin only", async () => {
    const layer = image.manifests[0]!.layers[0]!;
    // Storage elsewhere (another origin) serving the same blobs without asking for credentials.
    const storage = await recordingHop(anonymous.url);
    stops.push(() => storage.close());
    const redirecting = await recordingHop(hop.url, {
      intercept: (req, res) => {
        if (req.method !== "GET" || !req.url?.includes("/blobs/") || req.url.includes("?")) return false;
        // The config blob goes round its own origin first (auth still needed there), layers straight to storage.
        res.writeHead(307, { Location: req.url.endsWith(layer.digest) ? `${storage.url}${req.url}?signed=1` : `${req.url}?again=1` }).end();
        return true;
      },
    });
    stops.push(() => redirecting.close());
    await assertPulls(client({ url: redirecting.url, username: "mirror", password: "mirror-pw" }));
    assert.deepEqual(
      storage.requests.map((r) => [r.path, r.authorization]),
      [[`/v2/team/app/blobs/${layer.digest}?signed=1`, undefined]],
      "the storage got no credentials",
    );
    const again = redirecting.requests.find((r) => r.path.endsWith("?again=1"));
    assert.equal(again?.status, 200);
    assert.match(again?.authorization ?? "", /^Basic /);
  });
});

describe("an upstream with token auth (distribution + Berth's token server)", () => {
  let tokens: TestTokenServer;
  let hop: RecordingHop;
  let refuseTokens = 0;

  before(async () => {
    // Tokens of 3 s: renewed after at most half of that, so the test sees a renewal soon.
    tokens = await startTokenServer(scratch, { users: { mirror: "mirror-pw" }, expiration: "3s" });
    stops.push(() => tokens.close());
    const registry = await startDistribution({ root: anonymous.root, auth: tokens.distributionAuth() });
    stops.push(() => registry.stop());
    hop = await recordingHop(registry.url, {
      intercept: (req, res) => {
        if (refuseTokens === 0 || !req.headers.authorization?.startsWith("Bearer ")) return false;
        // What a registry says to a token it no longer accepts (revoked, or its key rotated).
        refuseTokens -= 1;
        res.writeHead(401, { "WWW-Authenticate": `Bearer realm="${tokens.realm}",service="upstream",scope="repository:team/app:pull",error="invalid_token"` }).end();
        return true;
      },
    });
    stops.push(() => {
      noteTokens(hop);
      return hop.close();
    });
  });

  it("fetches one token per repository, with the service and the pull scope, and pulls with it", async () => {
    const upstream = client({ url: hop.url, username: "mirror", password: "mirror-pw" });
    const before = tokens.requests.length;
    hop.requests.length = 0;
    await assertPulls(upstream);
    await assertPulls(upstream, "team/other");
    const asked = tokens.requests.slice(before).map((path) => new URL(path, tokens.url).searchParams);
    assert.deepEqual(
      asked.map((query) => [query.get("service"), query.get("scope")]),
      [
        ["upstream", "repository:team/app:pull"],
        ["upstream", "repository:team/other:pull"],
      ],
    );
    assert.deepEqual(
      hop.requests.filter((r) => r.status === 401).map((r) => r.authorization),
      [undefined],
      "one 401 taught the client the challenge; after that every request carried a token",
    );
  });

  it("shares one token fetch among concurrent first requests", async () => {
    const upstream = client({ url: hop.url, username: "mirror", password: "mirror-pw" });
    const before = tokens.requests.length;
    const digests = [image.manifests[0]!.configDigest, ...image.manifests[0]!.layers.map((l) => l.digest)];
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => upstream.manifest("team/app", "1", "HEAD")),
      ...digests.map((digest) => upstream.blobSize("team/app", digest)),
    ]);
    assert.ok(answers.every((answer) => answer !== undefined));
    assert.equal(tokens.requests.length - before, 1);
  });

  it("renews a token before it expires", async () => {
    const upstream = client({ url: hop.url, username: "mirror", password: "mirror-pw" });
    const before = tokens.requests.length;
    await upstream.manifest("team/app", "1", "HEAD");
    await upstream.manifest("team/app", "1", "HEAD");
    assert.equal(tokens.requests.length - before, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    hop.requests.length = 0;
    await upstream.manifest("team/app", "1", "HEAD");
    assert.equal(tokens.requests.length - before, 2, "a new token once half the 3 s had passed");
    assert.deepEqual(
      hop.requests.map((r) => r.status),
      [200],
      "the new token was sent up front, not after a 401",
    );
  });

  it("replaces a token the upstream refuses once, and never loops", async () => {
    const upstream = client({ url: hop.url, username: "mirror", password: "mirror-pw" });
    await upstream.manifest("team/app", "1", "HEAD");
    let before = tokens.requests.length;
    refuseTokens = 1;
    assert.ok(await upstream.manifest("team/app", "1", "GET"));
    assert.equal(tokens.requests.length - before, 1, "a new token after the refusal");

    before = tokens.requests.length;
    hop.requests.length = 0;
    refuseTokens = 100;
    const error = await upstreamError(upstream.manifest("team/app", "1", "GET"));
    refuseTokens = 0;
    assert.equal(error.kind, "auth");
    assert.equal(hop.requests.length, 2, "the request and one retry with a new token");
    assert.equal(tokens.requests.length - before, 1);
  });

  it("fails with an auth error when the token server refuses the password, or gives nothing anonymously", async () => {
    const wrong = await upstreamError(client({ url: hop.url, username: "mirror", password: "wrong-pw" }).manifest("team/app", "1", "GET"));
    assert.equal(wrong.kind, "auth");
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(wrong.message, /wrong-pw/);
    const anonymousError = await upstreamError(client({ url: hop.url }).manifest("team/app", "1", "GET"));
    assert.equal(anonymousError.kind, "auth");
  });
});

describe("an upstream behind TLS with a self-signed certificate", () => {
  let hop: RecordingHop;
  let ca: string;
  let tokenHop: RecordingHop;

  before(async () => {
    const certificate = await selfSignedCertificate(scratch);
    ca = certificate.certPath;
    hop = await recordingHop(anonymous.url, { tls: certificate });
    stops.push(() => hop.close());
    // A registry whose token server is another HTTPS host with a certificate of the same CA.
    const tokens = await startTokenServer(join(scratch, "tls-tokens"), { users: { mirror: "mirror-pw" }, expiration: "1m" });
    stops.push(() => tokens.close());
    const realm = await recordingHop(tokens.url, { tls: certificate });
    stops.push(() => realm.close());
    const registry = await startDistribution({ root: anonymous.root, auth: tokens.distributionAuth(`${realm.url}${tokens.realmPath}`) });
    stops.push(() => registry.stop());
    tokenHop = await recordingHop(registry.url, { tls: certificate });
    stops.push(() => {
      noteTokens(tokenHop);
      return tokenHop.close();
    });
  });

  it("trusts the upstream through tls.ca and with tls.insecure, also at its token server", async () => {
    for (const tls of [{ ca }, { insecure: true }]) {
      await assertPulls(client({ url: hop.url, tls }));
      await assertPulls(client({ url: tokenHop.url, tls, username: "mirror", password: "mirror-pw" }));
    }
  });

  it("refuses a certificate it cannot verify", async () => {
    const error = await upstreamError(client({ url: hop.url }).manifest("team/app", "1", "HEAD"));
    assert.equal(error.kind, "unreachable");
    assert.match(error.message, /certificate/i);
  });
});
