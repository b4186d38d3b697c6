import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SignJWT } from "jose";
import type { TokenServerConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import { checkLogin, defaultLoginLimits, type LoginGuard } from "../login-rate-limit.js";
import type { ErrorCode } from "../registry/errors.js";
import { basicChallenge, basicCredentials } from "./challenge.js";
import { HtpasswdFile } from "./htpasswd.js";
import { loadOrCreateSigningKey, loadSigningKey, type SigningKey } from "./keys.js";
import { grantAccess, parseScopes, type AccessPolicy, type RequestedScope } from "./rules.js";
import type { ResourceActions } from "./token.js";

/** Where LAIN's console answers, and so where Berth does: `GET /api/v1/authorize/registry/`. */
export const tokenServerPath = "/api/v1/authorize/registry";

/** Is `url` (path + query) the token endpoint, with or without the trailing slash (below `prefix`)? */
export function isTokenServerPath(url: string, prefix = ""): boolean {
  const path = url.split("?", 1)[0] ?? "";
  const base = `${prefix.replace(/\/$/, "")}${tokenServerPath}`;
  return path === base || path === `${base}/`;
}

const basicRealm = "Berth token server";

export interface IssuedToken {
  token: string;
  /** Seconds. */
  expiresIn: number;
  issuedAt: Date;
  access: ResourceActions[];
}

export interface TokenIssuerOptions {
  issuer: string;
  /** The only audience tokens are issued for; absent: whatever service the client names. */
  service?: string;
  /** htpasswd users; absent: nobody can log in (anonymous only). */
  users?: HtpasswdFile;
  policy: AccessPolicy;
  expirationMs: number;
  signing: SigningKey;
  logger: Logger;
  now?: () => Date;
  /** Failed logins allowed per client and user name, and per client; default `defaultLoginLimits` by TCP peer. */
  logins?: LoginGuard;
}

export interface TokenServer {
  /** Plain Node handler for the token endpoint (GET with Basic credentials, POST oauth2 password grant). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Signs a token for `account` (undefined: anonymous) with the scopes the rules allow. */
  issue(account: string | undefined, service: string, scopes: RequestedScope[]): Promise<IssuedToken>;
  readonly signing: SigningKey;
  readonly issuer: string;
  readonly service: string | undefined;
}

/**
 * A refused token request. `code` is what GET clients (docker, containerd) read in the registry's
 * `{errors}` body, so it is one of the registry spec's codes; `oauth` is the RFC 6749 `error`
 * answered to POST clients when its status does not already say it (see oauthError).
 */
class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly oauth?: string,
  ) {
    super(message);
  }
}

const maxBody = 64 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new HttpProblem(400, "UNSUPPORTED", "expected an application/x-www-form-urlencoded body");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new HttpProblem(413, "SIZE_INVALID", "request body too large");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The oauth2 `error` of a problem (RFC 6749 §5.2 has none for rate limits; the name says it). */
function oauthError(problem: HttpProblem): string {
  if (problem.oauth) return problem.oauth;
  if (problem.status === 401) return "invalid_grant";
  if (problem.status === 429) return "too_many_requests";
  return "invalid_request";
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    Pragma: "no-cache",
    ...headers,
  });
  res.end(text);
}

/**
 * The token endpoint of the docker token authentication spec, as LAIN's console served it:
 *
 * - `GET ?service=&scope=&scope=&account=` with optional HTTP Basic credentials (checked against
 *   the htpasswd users). Wrong credentials → 401 with a Basic challenge. No credentials → an
 *   anonymous token, holding what the rules give anonymous requests (by default nothing), so
 *   clients get the registry's "insufficient_scope" rather than a login prompt loop — as Docker
 *   Hub and docker/distribution's token servers do.
 * - `POST` form `grant_type=password&username=&password=&service=&scope=` (oauth2, RFC 6749
 *   §4.3); `refresh_token` grants are not supported (no refresh tokens are issued).
 *
 * - Repeated wrong passwords from one client → 429 with `Retry-After`, before the password is
 *   even checked (`defaultLoginLimits`).
 *
 * The token's `access` claim is the intersection of the requested scopes with the rules;
 * a scope the account cannot have is left out, never an error.
 */
export function createTokenIssuer(options: TokenIssuerOptions): TokenServer {
  const { signing, logger } = options;
  const now = options.now ?? (() => new Date());
  const x5c = signing.chain.map((certificate) => certificate.raw.toString("base64"));

  async function issue(account: string | undefined, service: string, scopes: RequestedScope[]): Promise<IssuedToken> {
    const access = grantAccess(options.policy, account, scopes);
    const issuedAt = now();
    const iat = Math.floor(issuedAt.getTime() / 1000);
    const expiresIn = Math.max(1, Math.round(options.expirationMs / 1000));
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: signing.algorithm, typ: "JWT", kid: signing.kid, x5c })
      .setIssuer(options.issuer)
      .setSubject(account ?? "")
      .setAudience(service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + expiresIn)
      .setJti(randomBytes(16).toString("hex"))
      .sign(signing.privateKey);
    return { token, expiresIn, issuedAt, access };
  }

  function audience(requested: string | null): string {
    if (options.service !== undefined) {
      if (requested && requested !== options.service) {
        throw new HttpProblem(400, "UNSUPPORTED", `unknown service ${JSON.stringify(requested)}: this token server issues tokens for ${JSON.stringify(options.service)}`);
      }
      return options.service;
    }
    if (!requested) throw new HttpProblem(400, "UNSUPPORTED", "the service parameter is required");
    return requested;
  }

  const logins = options.logins ?? { limits: defaultLoginLimits() };

  /** Checks the password unless this client failed too often lately (`checkLogin`). */
  async function authenticate(req: IncomingMessage, username: string, password: string): Promise<string> {
    const users = options.users;
    const outcome = await checkLogin(logins, req, username, async () => users !== undefined && (await users.verify(username, password)));
    const { address } = outcome;
    if (outcome.kind === "ok") return username;
    if (outcome.kind === "limited") {
      logger.warn("token server: login refused after repeated failures", { user: username, address });
      throw new HttpProblem(429, "TOOMANYREQUESTS", `too many failed logins; try again in ${outcome.retryAfter} s`, { "Retry-After": String(outcome.retryAfter) });
    }
    logger.info("token server: authentication failed", { user: username, address });
    throw new HttpProblem(401, "UNAUTHORIZED", "authentication required: wrong user name or password", {
      "WWW-Authenticate": basicChallenge(basicRealm),
    });
  }

  async function handleGet(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const service = audience(query.get("service"));
    let account: string | undefined;
    if (req.headers.authorization !== undefined) {
      const credentials = basicCredentials(req);
      if (!credentials) {
        throw new HttpProblem(401, "UNAUTHORIZED", "authentication required: use HTTP Basic credentials", { "WWW-Authenticate": basicChallenge(basicRealm) });
      }
      account = await authenticate(req, credentials.username, credentials.password);
    }
    const issued = await issue(account, service, parseScopes(query.getAll("scope")));
    logger.debug("token server: token issued", { account: account ?? "(anonymous)", service, access: issued.access });
    send(res, 200, { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt.toISOString() });
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const grant = form.get("grant_type");
    if (grant !== "password") {
      throw new HttpProblem(400, "UNSUPPORTED", `grant_type ${JSON.stringify(grant ?? "")} is not supported; use "password"`, {}, "unsupported_grant_type");
    }
    const username = form.get("username") ?? "";
    const service = audience(form.get("service"));
    const account = await authenticate(req, username, form.get("password") ?? "");
    const issued = await issue(account, service, parseScopes(form.getAll("scope")));
    send(res, 200, {
      token: issued.token,
      access_token: issued.token,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
      scope: issued.access.map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(",")}`).join(" "),
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://token.invalid");
    const method = req.method ?? "GET";
    const work =
      method === "GET"
        ? handleGet(req, res, url.searchParams)
        : method === "POST"
          ? handlePost(req, res)
          : Promise.reject(new HttpProblem(405, "UNSUPPORTED", `${method} is not supported here`, { Allow: "GET, POST" }));
    work.catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpProblem) {
        // oauth2 clients (POST) read {error, error_description}; GET clients read the registry's {errors}.
        const body =
          method === "POST"
            ? { error: oauthError(error), error_description: error.message }
            : { errors: [{ code: error.code, message: error.message }] };
        send(res, error.status, body, error.headers);
        return;
      }
      logger.error("token server: request failed", { error: (error as Error).message });
      send(res, 500, { errors: [{ code: "UNKNOWN", message: "unknown error" }] });
    });
  }

  return { handle, issue, signing, issuer: options.issuer, service: options.service };
}

export interface TokenServerSetup {
  logger: Logger;
  logins?: LoginGuard;
  /** `tokenserver.keydir` when not configured: `<storage root or ./data>/berth/token` (see `defaultTokenKeyDir`). */
  defaultKeyDir: string;
  now?: () => Date;
}

/**
 * The token server from `tokenserver` in config.yml: loads the users file, and the configured key
 * and certificate, or the ones in `keydir` (created on first start).
 */
export async function createTokenServer(config: TokenServerConfig, setup: TokenServerSetup): Promise<TokenServer> {
  const { logger } = setup;
  const signing =
    config.key !== undefined && config.certificate !== undefined
      ? await loadSigningKey(config.key, config.certificate)
      : await loadOrCreateSigningKey(config.keydir ?? setup.defaultKeyDir, logger);
  const users = config.users !== undefined ? new HtpasswdFile(config.users, logger) : undefined;
  if (!users) logger.warn("token server: no users file (tokenserver.users): only anonymous tokens can be issued");
  for (const admin of config.admins) {
    if (users && !users.names().includes(admin)) logger.warn("token server: admin is not in the users file", { user: admin, users: config.users });
  }
  logger.info("token server ready", { path: `${tokenServerPath}/`, issuer: config.issuer, kid: signing.kid, certificate: signing.certificatePath });
  return createTokenIssuer({
    issuer: config.issuer,
    service: config.service,
    users,
    policy: { admins: config.admins, groups: config.groups, rules: config.rules },
    expirationMs: config.expiration,
    signing,
    logger,
    now: setup.now,
    logins: setup.logins,
  });
}
