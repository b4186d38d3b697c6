import { createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { calculateJwkThumbprint, exportJWK, jwtVerify, type JWK, type JWTPayload, type JWSHeaderParameters } from "jose";
import type { Logger } from "../log.js";
import type { AccessController, AccessScope } from "../registry/access.js";
import { verifyX5c } from "./certs.js";
import { bearerChallenge, bearerToken, unauthorized, type BearerError } from "./challenge.js";
import { libtrustKeyId } from "./libtrust.js";

/** One entry of a token's `access` claim (docker token spec). */
export interface ResourceActions {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims extends JWTPayload {
  access: ResourceActions[];
}

/** Asymmetric JWS algorithms jose supports; symmetric ones (HS*) and "none" are never accepted. */
export const defaultSigningAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** distribution's leeway for `exp`, `nbf` and `iat`. */
export const tokenLeewaySeconds = 60;

export interface TokenControllerOptions {
  realm: string;
  service: string;
  issuer: string;
  /** The root certificate bundle: their keys sign tokens (by libtrust `kid`), and `x5c` chains end in them. */
  certificates: X509Certificate[];
  /** Keys of `auth.token.jwks`, trusted by their `kid`. */
  jwks?: JWK[];
  /** `auth.token.signingalgorithms`; default `defaultSigningAlgorithms`. */
  signingAlgorithms?: string[];
  /** `auth.token.autoredirect`: the realm becomes `<scheme>://<Host of the request><autoRedirectPath>`. */
  autoRedirect?: boolean;
  autoRedirectPath?: string;
  logger: Logger;
  /** For tests: the clock used for `exp`/`nbf` and x5c validity. */
  now?: () => Date;
}

export class TokenError extends Error {
  constructor(
    message: string,
    readonly challengeError: BearerError = "invalid_token",
  ) {
    super(message);
    this.name = "TokenError";
  }
}

function isResourceActions(value: unknown): value is ResourceActions {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.type === "string" &&
    typeof entry.name === "string" &&
    Array.isArray(entry.actions) &&
    entry.actions.every((action) => typeof action === "string")
  );
}

/**
 * Does the `access` claim grant every action of every scope? As distribution: entries match on
 * type and name exactly, and an entry listing `*` grants every action on that resource.
 */
export function grants(access: ResourceActions[], scopes: AccessScope[]): AccessScope[] {
  const missing: AccessScope[] = [];
  for (const scope of scopes) {
    const granted = new Set(access.filter((entry) => entry.type === scope.type && entry.name === scope.name).flatMap((entry) => entry.actions));
    const lacking = granted.has("*") ? [] : scope.actions.filter((action) => !granted.has(action));
    if (lacking.length > 0) missing.push({ ...scope, actions: lacking });
  }
  return missing;
}

/**
 * distribution's `token` method (docker token authentication): the request must carry
 * `Authorization: Bearer <JWT>` signed by a key of the root certificate bundle (found by the
 * libtrust `kid`, or an `x5c` chain ending in the bundle, or an embedded `jwk` whose libtrust id
 * is trusted), with `iss` = issuer, `aud` containing the service, `exp`/`nbf` within 60 s of
 * leeway, and an `access` claim covering every action the endpoint needs.
 *
 * Refusals follow distribution: always 401 with the access records as detail and a
 * `Bearer realm,service,scope` challenge, plus `error="invalid_token"` for a bad token or
 * `error="insufficient_scope"` for a good token that lacks an action.
 */
export function createTokenController(options: TokenControllerOptions): AccessController & {
  verify(token: string): Promise<TokenClaims>;
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
} {
  const { logger } = options;
  const byKid = new Map<string, KeyObject>();
  for (const certificate of options.certificates) byKid.set(libtrustKeyId(certificate.publicKey), certificate.publicKey);
  const jwksByKid = new Map<string, KeyObject>();
  for (const jwk of options.jwks ?? []) {
    if (typeof jwk.kid !== "string") continue;
    try {
      jwksByKid.set(jwk.kid, createPublicKey({ key: jwk as never, format: "jwk" }));
    } catch (error) {
      logger.warn("auth.token.jwks: key ignored", { kid: jwk.kid, error: (error as Error).message });
    }
  }
  // Newer distribution also accepts the RFC 7638 thumbprint of a bundle key as kid.
  let thumbprints: Promise<Map<string, KeyObject>> | undefined;
  const byThumbprint = () =>
    (thumbprints ??= (async () => {
      const map = new Map<string, KeyObject>();
      for (const key of byKid.values()) map.set(await calculateJwkThumbprint(await exportJWK(key)), key);
      return map;
    })());
  const algorithms = options.signingAlgorithms?.length ? options.signingAlgorithms : defaultSigningAlgorithms;
  const now = options.now ?? (() => new Date());
  if (byKid.size === 0 && jwksByKid.size === 0) {
    logger.error("token auth has no trusted certificates or keys: every token will be refused");
  }

  async function keyFor(header: JWSHeaderParameters): Promise<KeyObject> {
    if (header.x5c !== undefined) {
      try {
        return verifyX5c(header.x5c, options.certificates, now());
      } catch (error) {
        throw new TokenError((error as Error).message);
      }
    }
    if (typeof header.kid === "string") {
      const key = byKid.get(header.kid) ?? jwksByKid.get(header.kid) ?? (await byThumbprint()).get(header.kid);
      if (key) return key;
      throw new TokenError(`unknown signing key (kid ${header.kid})`);
    }
    if (header.jwk !== undefined) {
      let embedded: KeyObject;
      try {
        embedded = createPublicKey({ key: header.jwk as never, format: "jwk" });
      } catch {
        throw new TokenError("the embedded jwk is not a usable key");
      }
      const key = byKid.get(libtrustKeyId(embedded));
      if (key) return key;
      throw new TokenError("the embedded jwk is not a trusted key");
    }
    throw new TokenError("the token names no signing key (no kid, x5c or jwk)");
  }

  async function verify(token: string): Promise<TokenClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keyFor, {
        issuer: options.issuer,
        audience: options.service,
        clockTolerance: tokenLeewaySeconds,
        algorithms,
        requiredClaims: ["exp"],
        currentDate: now(),
      }));
    } catch (error) {
      if (error instanceof TokenError) throw error;
      throw new TokenError((error as Error).message);
    }
    const access = payload.access ?? [];
    if (!Array.isArray(access) || !access.every(isResourceActions)) throw new TokenError("the access claim is malformed");
    return { ...payload, access };
  }

  function realmFor(req: IncomingMessage): string {
    if (!options.autoRedirect) return options.realm;
    const forwarded = req.headers["x-forwarded-proto"];
    const proto = (typeof forwarded === "string" && forwarded.split(",")[0]?.trim()) || ((req.socket as { encrypted?: boolean }).encrypted ? "https" : "http");
    return `${proto}://${req.headers.host ?? "localhost"}${options.autoRedirectPath || "/auth/token"}`;
  }

  return {
    realm: options.realm,
    service: options.service,
    issuer: options.issuer,
    verify,
    async authorize(req, scopes) {
      const refuse = (error?: BearerError) => ({
        ok: false as const,
        error: unauthorized(
          bearerChallenge(realmFor(req), options.service, scopes, error),
          scopes,
          error === "insufficient_scope" ? "requested access to the resource is denied" : undefined,
          error === "insufficient_scope" ? "DENIED" : "UNAUTHORIZED",
        ),
      });
      const token = bearerToken(req);
      if (token === undefined) return refuse();
      let claims: TokenClaims;
      try {
        claims = await verify(token);
      } catch (error) {
        logger.info("token auth: token refused", { reason: (error as Error).message, url: req.url });
        return refuse("invalid_token");
      }
      const missing = grants(claims.access, scopes);
      if (missing.length > 0) {
        logger.debug("token auth: insufficient scope", { sub: claims.sub, missing: missing.map((s) => `${s.type}:${s.name}:${s.actions.join(",")}`) });
        return refuse("insufficient_scope");
      }
      return claims.sub ? { ok: true, user: claims.sub } : { ok: true };
    },
  };
}
