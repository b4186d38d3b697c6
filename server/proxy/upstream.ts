import { readFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { z } from "zod";
import type { Logger } from "../log.js";
import { manifestMediaTypes } from "../registry/media-types.js";
import { manifestSizeLimit } from "../registry/http/manifest-handlers.js";
import { parseChallenges, type Challenge } from "./challenge.js";

export type UpstreamErrorKind = "unreachable" | "auth" | "status" | "protocol";

/** A request to the upstream that failed; `status` is the upstream's answer, when there was one. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export interface UpstreamOptions {
  url: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; insecure?: boolean };
  /** Without an answer (headers) for this long, a request fails. Default 30 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface UpstreamManifest {
  /** `Docker-Content-Digest`, when the upstream sent it. */
  digest?: string;
  mediaType?: string;
  /** GET only. */
  body?: Buffer;
}

const tokenAnswer = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().positive().optional(),
  issued_at: z.string().optional(),
});

/** The token spec's default lifetime when the answer gives none. */
const defaultTokenSeconds = 60;
/** A token is renewed this long (at most half its lifetime) before it runs out, so none expires in flight. */
const tokenMarginMs = 10_000;
const maxRedirects = 5;
const maxTagPages = 100;
const tagList = z.object({ tags: z.array(z.string()).nullable().optional() });

/**
 * A client of one upstream registry, for the pull-through cache: manifests and blobs by
 * repository, with the auth the upstream asks for (anonymous; Basic; Bearer tokens from its
 * token server, the Docker Hub flow, cached per scope until they expire). Credentials and tokens
 * never reach logs or errors.
 */
export class UpstreamRegistry {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  /** What the upstream asked for on its last 401; until then requests go without credentials. */
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<{ token: string; expires: number }>>();

  constructor(private readonly options: UpstreamOptions) {
    this.base = new URL(options.url.replace(/\/+$/, ""));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.agent =
      this.base.protocol === "https:"
        ? new https.Agent({
            keepAlive: true,
            // A CA of one's own is trusted besides the system's, not instead of them.
            ca: options.tls?.ca ? [...rootCertificates, readFileSync(options.tls.ca, "utf8")] : undefined,
            rejectUnauthorized: options.tls?.insecure !== true,
          })
        : new http.Agent({ keepAlive: true });
  }

  /** A manifest by tag or digest; undefined when the upstream does not have it. */
  async manifest(repository: string, reference: string, method: "HEAD" | "GET"): Promise<UpstreamManifest | undefined> {
    const res = await this.request(method, `/v2/${repository}/manifests/${reference}`, repository, { Accept: manifestMediaTypes.join(", ") });
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    const digest = header(res, "docker-content-digest");
    const mediaType = header(res, "content-type")?.split(";")[0]?.trim();
    if (method === "HEAD") return drained(res, { digest, mediaType });
    return { digest, mediaType, body: await readCapped(res, manifestSizeLimit) };
  }

  /** The size of a blob; undefined when the upstream does not have it. */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    const res = await this.request("HEAD", `/v2/${repository}/blobs/${digest}`, repository);
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    return drained(res, contentLength(res));
  }

  /** A blob as a stream, with its size; undefined when the upstream does not have it. */
  async blob(repository: string, digest: string): Promise<{ size: number; body: Readable } | undefined> {
    const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, repository);
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    return { size: contentLength(res), body: res };
  }

  /**
   * Every tag of a repository, following the upstream's pages (`Link: <...>; rel="next"`, up to
   * `maxTagPages`); undefined when the upstream does not know the repository.
   */
  async tags(repository: string): Promise<string[] | undefined> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; path && page < maxTagPages; page++) {
      const res = await this.request("GET", path, repository);
      if (res.statusCode === 404) return drained(res, undefined);
      if (res.statusCode !== 200) throw await failure(res);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, "link") ?? "")?.[1];
      const parsed = tagList.safeParse(JSON.parse((await readCapped(res, manifestSizeLimit)).toString("utf8")) as unknown);
      if (!parsed.success) throw new UpstreamError("protocol", "the upstream's tag list is not a tag list");
      tags.push(...(parsed.data.tags ?? []));
      path = next ? this.ownPath(next) : undefined;
    }
    return tags;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /** A link the upstream sent as a path below its base URL; undefined when it points elsewhere (which would take the credentials along). */
  private ownPath(link: string): string | undefined {
    const url = new URL(link, this.base);
    const basePath = this.base.pathname.replace(/\/$/, "");
    if (url.origin !== this.base.origin || !url.pathname.startsWith(`${basePath}/v2/`)) return undefined;
    return url.pathname.slice(basePath.length) + url.search;
  }

  /**
   * Sends a request with the credentials the upstream asked for, learning them from a 401 once
   * (a second 401 is an auth failure), and follows redirects (blob storage): the Authorization
   * header goes to the upstream's own origin only.
   */
  private async request(method: string, path: string, repository: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const scope = `repository:${repository}:pull`;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(scope);
      let url = new URL(`${this.base.pathname.replace(/\/$/, "")}${path}`, this.base);
      let res = await this.send(method, url, { ...headers, ...(authorization ? { Authorization: authorization } : {}) });
      for (let hops = 0; res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location; hops++) {
        if (hops === maxRedirects) throw new UpstreamError("protocol", `more than ${maxRedirects} redirects for ${path}`, res.statusCode);
        res.resume();
        const next = new URL(res.headers.location, url);
        const sameOrigin = next.origin === this.base.origin;
        url = next;
        res = await this.send(method, url, { ...headers, ...(authorization && sameOrigin ? { Authorization: authorization } : {}) });
      }
      if (res.statusCode !== 401) return res;
      const challenge = parseChallenges(header(res, "www-authenticate") ?? "").find((c) => c.scheme === "bearer" || c.scheme === "basic");
      res.resume();
      if (attempt > 0 || !challenge) throw new UpstreamError("auth", `the upstream refused ${authorization ? "the credentials" : "anonymous access"} (401) for ${repository}`, 401);
      if (challenge.scheme === "basic" && !this.options.username) throw new UpstreamError("auth", "the upstream asks for a username and password (Basic) and none is configured", 401);
      this.challenge = challenge;
      this.tokens.delete(scope);
    }
  }

  private async authorization(scope: string): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") return basic(this.options.username ?? "", this.options.password ?? "");
    const cached = this.tokens.get(scope);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expires > Date.now()) return `Bearer ${token.token}`;
      if (this.tokens.get(scope) === cached) this.tokens.delete(scope);
    }
    // Requests that find no valid token share one fetch.
    let pending = this.tokens.get(scope);
    if (!pending) {
      const fetching = this.fetchToken(challenge, scope);
      this.tokens.set(scope, fetching);
      fetching.catch(() => {
        if (this.tokens.get(scope) === fetching) this.tokens.delete(scope);
      });
      pending = fetching;
    }
    return `Bearer ${(await pending).token}`;
  }

  /** A token from the upstream's token server (the docker token spec), Basic credentials when configured. */
  private async fetchToken(challenge: Challenge, scope: string): Promise<{ token: string; expires: number }> {
    const realm = challenge.params.realm;
    if (!realm) throw new UpstreamError("protocol", "the upstream's Bearer challenge names no realm");
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", scope);
    const { username, password } = this.options;
    const res = await this.send("GET", url, username ? { Authorization: basic(username, password ?? "") } : {});
    if (res.statusCode === 401 || res.statusCode === 403) {
      res.resume();
      throw new UpstreamError("auth", `the upstream's token server refused ${username ? "the credentials" : "an anonymous token"} (${res.statusCode})`, res.statusCode);
    }
    if (res.statusCode !== 200) throw await failure(res);
    const parsed = tokenAnswer.safeParse(JSON.parse((await readCapped(res, 1024 * 1024)).toString("utf8")) as unknown);
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!parsed.success || !token) throw new UpstreamError("protocol", "the upstream's token server answered without a token");
    const issued = parsed.data.issued_at ? Date.parse(parsed.data.issued_at) : NaN;
    const from = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    const lifetimeMs = (parsed.data.expires_in ?? defaultTokenSeconds) * 1000;
    return { token, expires: from + lifetimeMs - Math.min(tokenMarginMs, lifetimeMs / 2) };
  }

  private send(method: string, url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const lib = url.protocol === "https:" ? https : http;
      const req = lib.request(url, { method, headers: { "User-Agent": "berth-pull-through", ...headers }, agent: url.origin === this.base.origin ? this.agent : undefined, timeout: this.timeoutMs });
      req.on("response", resolve);
      // Also while a body streams: an upstream that stalls mid-blob fails the fill instead of hanging it.
      req.on("timeout", () => req.destroy(new UpstreamError("unreachable", `${url.origin} sent nothing for ${this.timeoutMs} ms`)));
      req.on("error", (error) => reject(error instanceof UpstreamError ? error : new UpstreamError("unreachable", `${url.origin}: ${error.message}`)));
      req.end();
    });
  }
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(res: IncomingMessage): number {
  const length = Number(header(res, "content-length"));
  if (!Number.isSafeInteger(length) || length < 0) {
    res.resume();
    throw new UpstreamError("protocol", "the upstream sent a blob without a valid Content-Length");
  }
  return length;
}

function drained<T>(res: IncomingMessage, value: T): T {
  res.resume();
  return value;
}

/** The upstream's error answer, with its spec error code when it sent one. */
async function failure(res: IncomingMessage): Promise<UpstreamError> {
  const status = res.statusCode ?? 0;
  const body = await readCapped(res, 64 * 1024).catch(() => Buffer.alloc(0));
  let detail = "";
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { errors?: { code?: string; message?: string }[] };
    const first = parsed.errors?.[0];
    if (first?.code) detail = `: ${first.code}${first.message ? ` (${first.message})` : ""}`;
  } catch {
    // Not a registry error body; the status says enough.
  }
  return new UpstreamError("status", `the upstream answered ${status}${detail}`, status);
}

/** A response body up to `limit` bytes; more is a protocol error (a manifest larger than any registry accepts). */
async function readCapped(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        res.destroy();
        throw new UpstreamError("protocol", `the upstream's answer exceeds ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    throw error instanceof UpstreamError ? error : new UpstreamError("unreachable", `the upstream's answer broke off: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}
