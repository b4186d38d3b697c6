/**
 * Plumbing for the pull-through cache tests: Berth's engine in-process with `proxy` or `mirrors`
 * on a filesystem root, and a recording hop in front of a real upstream registry (it counts the
 * requests that reach the upstream and can flip a byte of blob bodies, the way a broken upstream
 * or network would).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { setupAuth } from "../../server/auth/index.js";
import { parseConfig } from "../../server/config/load.js";
import type { Config } from "../../server/config/schema.js";
import { createLogger } from "../../server/log.js";
import { Mirrors } from "../../server/proxy/mirrors.js";
import { capturingLogger, htpasswdText } from "../auth/harness.js";
import { listen, startRegistry, type TestRegistry } from "../support/server.js";

type MirrorConfig = NonNullable<Config["mirrors"]>[number];

/** Berth's engine on `root` with distribution's `proxy` section and/or Berth's `mirrors`. */
export async function startProxyBerth(
  root: string,
  upstreams: { proxy?: { remoteurl: string; username?: string; password?: string; ttl?: number }; mirrors?: (Partial<MirrorConfig> & { prefix: string; remoteurl: string })[] },
): Promise<TestRegistry> {
  const logger = createLogger({ level: process.env.PROXY_LOG === "1" ? "debug" : "error" });
  const week = 7 * 24 * 3_600_000;
  const mirrors = Mirrors.fromConfig(
    {
      proxy: upstreams.proxy ? { ttl: week, ...upstreams.proxy } : undefined,
      mirrors: upstreams.mirrors?.map((m) => ({ ttl: week, ...m })),
    },
    logger,
  );
  return startRegistry({ root, logger, deleteEnabled: true, secret: "proxy-tests", mirrors });
}

export interface HopRequest {
  method: string;
  path: string;
  authorization?: string;
  /** The answer's status, once there is one. */
  status?: number;
}

export interface RecordingHop {
  url: string;
  host: string;
  /** Every request the hop received, passed on or answered by `intercept`. */
  requests: HopRequest[];
  /** Blob GETs that reached the upstream, for one digest. */
  blobFetches(digest: string): number;
  /** From now on, blob bodies arrive with one byte changed. */
  corruptBlobs(on: boolean): void;
  close(): Promise<void>;
}

/**
 * An HTTP hop in front of `upstream` (`http://host:port`) that records what passes; with `tls`
 * (PEM key and certificate) it is an HTTPS endpoint, which is how the TLS options are tested.
 * `intercept` may answer a request itself (a redirect, a refusal, a stall) by returning true.
 */
export async function recordingHop(
  upstream: string,
  options: { tls?: { key: string; cert: string }; intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean } = {},
): Promise<RecordingHop> {
  const target = new URL(upstream);
  const requests: HopRequest[] = [];
  let corrupt = false;
  const hop = await listen((req, res) => {
    const seen: HopRequest = { method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization };
    requests.push(seen);
    res.once("finish", () => (seen.status = res.statusCode));
    if (options.intercept?.(req, res)) return;
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const isBlob = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "") && answer.statusCode === 200;
        let flipped = !(corrupt && isBlob);
        answer.on("data", (chunk: Buffer) => {
          if (!flipped && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = (chunk[0] as number) ^ 0xff;
            flipped = true;
          }
          if (!res.write(chunk)) {
            answer.pause();
            res.once("drain", () => answer.resume());
          }
        });
        answer.on("end", () => res.end());
        answer.on("error", () => res.destroy());
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  }, { tls: options.tls });
  return {
    url: hop.url,
    host: hop.host,
    requests,
    blobFetches: (digest) => requests.filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`)).length,
    corruptBlobs: (on) => {
      corrupt = on;
    },
    close: hop.close,
  };
}

export interface TestTokenServer {
  /** The token endpoint, for distribution's `auth.token.realm`. */
  realm: string;
  /** The token endpoint's path, for a hop in front of `url`. */
  realmPath: string;
  url: string;
  /** distribution's `auth` lines that trust this server's tokens, with `realm` (default: this server's). */
  distributionAuth(realm?: string): string[];
  /** Path and query of every token request so far. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Berth's own token server alone on a port (service `upstream`), for a distribution that takes its
 * tokens: the Docker Hub flow against a real registry. Users pull; `admins` may also push. Tokens
 * last `expiration` (e.g. "3s").
 */
export async function startTokenServer(
  dir: string,
  options: { users: Record<string, string>; admins?: string[]; expiration: string },
): Promise<TestTokenServer> {
  await mkdir(dir, { recursive: true });
  const usersFile = join(dir, "token-users.htpasswd");
  await writeFile(usersFile, htpasswdText(options.users));
  const requests: string[] = [];
  const realmPath = "/api/v1/authorize/registry/";
  // The token server needs its realm, which needs the port: until it is set up, nothing is served.
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false;
  const server = await listen((req, res) => {
    if (req.url?.startsWith(realmPath)) requests.push(req.url);
    if (!handle(req, res)) res.writeHead(404).end();
  });
  const realm = `${server.url}${realmPath}`;
  const keydir = join(dir, "token-keys");
  const rootcertbundle = join(keydir, "cert.pem");
  const auth = await setupAuth({
    config: parseConfig({
      version: "0.1",
      storage: "inmemory",
      auth: { token: { realm, service: "upstream", issuer: "auth server", rootcertbundle } },
      tokenserver: { enabled: true, service: "upstream", users: usersFile, admins: options.admins, keydir, expiration: options.expiration },
    }),
    logger: capturingLogger("error"),
    defaultKeyDir: join(dir, "unused"),
  });
  handle = (req, res) => auth.handle(req, res);
  return {
    realm,
    realmPath,
    url: server.url,
    distributionAuth: (realmUrl = realm) => ["auth:", "  token:", `    realm: ${realmUrl}`, "    service: upstream", '    issuer: "auth server"', `    rootcertbundle: ${JSON.stringify(rootcertbundle)}`],
    requests,
    close: async () => {
      await auth.close();
      await server.close();
    },
  };
}

/** A self-signed certificate for 127.0.0.1: PEM key and certificate, and the certificate's file (the CA to trust). */
export async function selfSignedCertificate(dir: string): Promise<{ key: string; cert: string; certPath: string }> {
  const keyPath = join(dir, "tls-key.pem");
  const certPath = join(dir, "tls-cert.pem");
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=upstream", "-addext", "subjectAltName=IP:127.0.0.1"]);
  return { key: await readFile(keyPath, "utf8"), cert: await readFile(certPath, "utf8"), certPath };
}

/** Uploads a blob to a registry the two-step way (POST, then PUT with the bytes), as distribution requires. */
export async function uploadBlob(base: string, repository: string, bytes: Buffer, digest: string): Promise<void> {
  const started = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  await started.arrayBuffer();
  const location = new URL(started.headers.get("location") ?? "", base);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(bytes) });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`upload of ${digest} to ${base}/${repository}: ${put.status}`);
}

/** A file of `size` bytes of a fixed pattern (not compressible to nothing, cheap to make), with its digest. */
export async function patternFile(path: string, size: number): Promise<{ path: string; digest: string }> {
  const chunk = Buffer.alloc(1024 * 1024);
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let offset = 0; offset < size; offset += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4096) chunk.writeUInt32BE((offset + i) >>> 0, i);
    const part = chunk.subarray(0, Math.min(chunk.length, size - offset));
    hash.update(part);
    if (!out.write(part)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return { path, digest: `sha256:${hash.digest("hex")}` };
}

/** Uploads a file as a blob (POST, then curl streaming the file in one PUT). */
export async function uploadFile(base: string, repository: string, path: string, digest: string): Promise<void> {
  const started = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  await started.arrayBuffer();
  const location = new URL(started.headers.get("location") ?? "", base);
  location.searchParams.set("digest", digest);
  const { stdout } = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", path, "-H", "Content-Type: application/octet-stream", location.href]);
  if (stdout.trim() !== "201") throw new Error(`upload of ${digest} to ${base}/${repository}: ${stdout}`);
}

/** GETs a URL with curl and returns the sha256 of the body (`sha256:...`); fails on an HTTP error or a short body. */
export async function curlSha256(url: string): Promise<string> {
  const { stdout } = await run("bash", ["-c", 'set -o pipefail; curl -sf "$1" | sha256sum', "bash", url]);
  return `sha256:${stdout.split(" ")[0]}`;
}

function run(command: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 1024 * 1024 }, (error, stdout) => (error ? reject(error) : resolve({ stdout })));
  });
}
