import { readFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { z } from "zod";
import type { Logger } from "../log.js";
import { manifestMediaTypes, manifestSizeLimit } from "../registry/media-types.js";
import { parseChallenges, type Challenge } from "./challenge.js";

export type UpstreamErrorKind = "unreachable" | "auth" | "status" | "protocol";

/**
 * A request to the upstream that failed; `status` is the upstream's answer, when there was one,
 * and `code` the first error code of its body (`TOOMANYREQUESTS`, `DENIED`, ...), when it sent one.
 */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export interface UpstreamOptions {
  url: string;
  username?: string;
  password?: string;
  /**
   * `ca`: a PEM file, read once here. Both apply to every host this upstream sends the client to:
   * its token server and the storage it redirects blobs to are part of the same deployment.
   */
  tls?: { ca?: string; insecure?: boolean };
  /** Without a byte (headers or body) for this long, a request fails. Default 30 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface UpstreamManifest {
  /** `Docker-Content-Digest`, when the upstream sent it. */
  digest?: string;
  mediaType?: string;
  /** The body's length: `Content-Length` for a HEAD (when sent). */
  size?: number;
  /** GET only. */
  body?: Buffer;
}

interface Token {
  token: string;
  expires: number;
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
const errorBody = z.object({ errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() })).optional() });

/**
 * A client of one upstream registry, for the pull-through cache: manifests and blobs by
 * repository, with the auth the upstream asks for (anonymous; Basic; Bearer tokens from its
 * token server, the Docker Hub flow, cached per scope until they expire). Credentials and tokens
 * never reach logs or errors.
 */
export class UpstreamRegistry {
  private readonly base: URL;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;
  /** What the upstream asked for on its last 401; until then requests go without credentials. */
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<Token>>();

  constructor(private readonly options: UpstreamOptions) {
    this.base = new URL(options.url.replace(/\/+$/, ""));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      // A CA of one's own is trusted besides the system's, not instead of them.
      ca: options.tls?.ca ? [...rootCertificates, readCa(options.tls.ca)] : undefined,
      rejectUnauthorized: options.tls?.insecure !== true,
    });
  }

  /** A manifest by tag or digest; undefined when the upstream does not have it. */
  async manifest(repository: string, reference: string, method: "HEAD" | "GET"): Promise<UpstreamManifest | undefined> {
    const res = await this.request(method, `/v2/${repository}/manifests/${reference}`, repository, { Accept: manifestMediaTypes.join(", ") });
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    const digest = header(res, "docker-content-digest");
    const mediaType = header(res, "content-type")?.split(";")[0]?.trim();
    if (method === "HEAD") return drained(res, { digest, mediaType, size: contentLength(res) });
    const body = await readCapped(res, manifestSizeLimit);
    return { digest, mediaType, size: body.length, body };
  }

  /** The size of a blob; undefined when the upstream does not have it. */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    const res = await this.request("HEAD", `/v2/${repository}/blobs/${digest}`, repository);
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    const size = contentLength(res);
    if (size === undefined) throw drained(res, new UpstreamError("protocol", "the upstream answered a blob HEAD without a valid Content-Length"));
    return drained(res, size);
  }

  /**
   * A blob as a stream, with its size; undefined when the upstream does not have it. The body
   * fails (an `error` event, which the caller must handle) with an UpstreamError when the upstream
   * stalls for the timeout, or with the socket's error when it hangs up; the bytes are not verified.
   */
  async blob(repository: string, digest: string): Promise<{ size: number; body: Readable } | undefined> {
    const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, repository);
    if (res.statusCode === 404) return drained(res, undefined);
    if (res.statusCode !== 200) throw await failure(res);
    const size = contentLength(res);
    if (size === undefined) throw drained(res, new UpstreamError("protocol", "the upstream sent a blob without a valid Content-Length"));
    return { size, body: res };
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
      const page = await readJson(res, tagList, manifestSizeLimit, "tag list");
      tags.push(...(page.tags ?? []));
      path = next ? this.ownPath(next) : undefined;
    }
    return tags;
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** A link the upstream sent as a path below its base URL; undefined when it points elsewhere (which would take the credentials along). */
  private ownPath(link: string): string | undefined {
    const url = parseUrl(link, this.base);
    if (!url) return undefined;
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
      const credentials = await this.authorization(scope);
      const authorization: Record<string, string> = credentials ? { Authorization: credentials.header } : {};
      let url = new URL(`${this.base.pathname.replace(/\/$/, "")}${path}`, this.base);
      let res = await this.send(method, url, { ...headers, ...authorization });
      for (let hops = 0; res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location; hops++) {
        res.resume();
        if (hops === maxRedirects) throw new UpstreamError("protocol", `more than ${maxRedirects} redirects for ${path}`, res.statusCode);
        const next = parseUrl(res.headers.location, url);
        if (!next) throw new UpstreamError("protocol", `the upstream redirected ${path} to an invalid URL`, res.statusCode);
        url = next;
        res = await this.send(method, url, { ...headers, ...(url.origin === this.base.origin ? authorization : {}) });
      }
      if (res.statusCode !== 401) return res;
      const challenge = parseChallenges(header(res, "www-authenticate") ?? "").find((c) => c.scheme === "bearer" || c.scheme === "basic");
      const refusal = await failure(res);
      const refused = !credentials ? "anonymous access" : credentials.token ? "the token from its token server" : "the credentials";
      // Basic credentials refused once are refused again; a token may just have been revoked or outlived.
      if (attempt > 0 || !challenge || (credentials && !credentials.token && challenge.scheme === "basic")) {
        throw new UpstreamError("auth", `the upstream refused ${refused} (401) for ${repository}`, 401, refusal.code);
      }
      if (challenge.scheme === "basic" && !this.options.username) throw new UpstreamError("auth", "the upstream asks for a username and password (Basic) and none is configured", 401, refusal.code);
      if (this.challenge?.scheme !== challenge.scheme) this.options.logger?.debug("the upstream asks for credentials", { upstream: this.base.origin, scheme: challenge.scheme, realm: challenge.params.realm });
      this.challenge = challenge;
      // Only the token this request was refused with goes: one that concurrent requests fetched meanwhile stays shared.
      if (credentials?.token && this.tokens.get(scope) === credentials.token) this.tokens.delete(scope);
    }
  }

  /** The Authorization header for `scope`, and the token it came from (Bearer); undefined before any 401. */
  private async authorization(scope: string): Promise<{ header: string; token?: Promise<Token> } | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") return { header: basic(this.options.username ?? "", this.options.password ?? "") };
    const cached = this.tokens.get(scope);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expires > Date.now()) return { header: `Bearer ${token.token}`, token: cached };
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
    return { header: `Bearer ${(await pending).token}`, token: pending };
  }

  /** A token from the upstream's token server (the docker token spec), Basic credentials when configured. */
  private async fetchToken(challenge: Challenge, scope: string): Promise<Token> {
    const url = parseUrl(challenge.params.realm ?? "");
    if (!url) throw new UpstreamError("protocol", "the upstream's Bearer challenge names no valid realm");
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", scope);
    const { username, password } = this.options;
    const res = await this.send("GET", url, username ? { Authorization: basic(username, password ?? "") } : {});
    if (res.statusCode === 401 || res.statusCode === 403) {
      const refusal = await failure(res);
      throw new UpstreamError("auth", `the upstream's token server refused ${username ? "the credentials" : "an anonymous token"} (${res.statusCode})`, res.statusCode, refusal.code);
    }
    if (res.statusCode !== 200) throw await failure(res);
    const answer = await readJson(res, tokenAnswer, 1024 * 1024, "token server's answer");
    const token = answer.token ?? answer.access_token;
    if (!token) throw new UpstreamError("protocol", "the upstream's token server answered without a token");
    const issued = answer.issued_at ? Date.parse(answer.issued_at) : NaN;
    const from = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    const lifetimeMs = (answer.expires_in ?? defaultTokenSeconds) * 1000;
    this.options.logger?.debug("fetched a token from the upstream's token server", { upstream: this.base.origin, scope, lifetimeSeconds: lifetimeMs / 1000 });
    return { token, expires: from + lifetimeMs - Math.min(tokenMarginMs, lifetimeMs / 2) };
  }

  private send(method: string, url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === "https:";
      let req: http.ClientRequest;
      try {
        req = (secure ? https : http).request(url, {
          method,
          headers: { "User-Agent": "berth-pull-through", ...headers },
          agent: secure ? this.httpsAgent : this.httpAgent,
          timeout: this.timeoutMs,
        });
      } catch (error) {
        // A URL or header value from the upstream that Node refuses to send (another scheme, a control character).
        reject(new UpstreamError("protocol", `cannot send a request to ${url.origin}: ${(error as Error).message}`));
        return;
      }
      let response: IncomingMessage | undefined;
      req.on("response", (res: IncomingMessage) => {
        response = res;
        resolve(res);
      });
      // Also while a body streams: an upstream that stalls mid-blob fails the reader with this error instead of hanging it.
      req.on("timeout", () => {
        const error = new UpstreamError("unreachable", `${url.origin} sent nothing for ${this.timeoutMs} ms`);
        response?.destroy(error);
        req.destroy(error);
      });
      req.on("error", (error) => reject(error instanceof UpstreamError ? error : new UpstreamError("unreachable", `${url.origin}: ${error.message}`)));
      req.end();
    });
  }
}

/** The CA file's PEM text; a file that cannot be read stops the configuration, naming it. */
function readCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the upstream's tls.ca ${path}: ${(error as Error).message}`);
  }
}

/** `new URL` without the throw: URLs here come from the upstream's headers. */
function parseUrl(text: string, base?: URL): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(res: IncomingMessage): number | undefined {
  const value = header(res, "content-length");
  const length = Number(value);
  return value !== undefined && /^\d+$/.test(value) && Number.isSafeInteger(length) ? length : undefined;
}

function drained<T>(res: IncomingMessage, value: T): T {
  res.resume();
  return value;
}

/** The upstream's error answer, with its spec error code when it sent one. */
async function failure(res: IncomingMessage): Promise<UpstreamError> {
  const status = res.statusCode ?? 0;
  const first = await readJson(res, errorBody, 64 * 1024, "error")
    .then((body) => body.errors?.[0])
    // Not a registry error body: the status says enough.
    .catch(() => undefined);
  const detail = first?.code ? `: ${first.code}${first.message ? ` (${first.message})` : ""}` : "";
  return new UpstreamError("status", `the upstream answered ${status}${detail}`, status, first?.code);
}

/** A JSON answer checked against `schema`; anything else is a protocol error. */
async function readJson<T>(res: IncomingMessage, schema: z.ZodType<T>, limit: number, what: string): Promise<T> {
  const text = (await readCapped(res, limit)).toString("utf8");
  let parsed: z.ZodSafeParseResult<T> | undefined;
  try {
    parsed = schema.safeParse(JSON.parse(text));
  } catch {
    // Not JSON at all: the same protocol error as JSON of the wrong shape.
  }
  if (!parsed?.success) throw new UpstreamError("protocol", `the upstream's ${what} is not what the protocol says`);
  return parsed.data;
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
