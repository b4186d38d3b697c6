import type { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { JWK } from "jose";
import type { AuthConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { LoginGuard } from "../login-rate-limit.js";
import type { AccessController } from "../registry/access.js";
import { createHtpasswdController } from "./basic.js";
import { parseJwks } from "./jwks.js";
import { readCertificateBundle } from "./certs.js";
import { createSillyController } from "./silly.js";
import { createTokenController } from "./token.js";

export type AuthMode = "none" | "silly" | "htpasswd" | "token";

/** Which method `auth` configures (the first known one; the config checks allow only one). */
export function authMode(auth: AuthConfig | undefined): AuthMode {
  if (auth?.silly) return "silly";
  if (auth?.htpasswd) return "htpasswd";
  if (auth?.token) return "token";
  return "none";
}

export class AuthSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuthSetupError";
  }
}

function readJwks(path: string): JWK[] {
  try {
    return parseJwks(readFileSync(path, "utf8"));
  } catch (error) {
    throw new AuthSetupError(`auth.token.jwks: ${path} is not a usable JSON Web Key Set (${(error as Error).message})`, { cause: error });
  }
}

export interface AccessControllerOptions {
  logger: Logger;
  /**
   * Trusted when `auth.token` names neither `rootcertbundle` nor `jwks`: the built-in token
   * server's certificate (`TokenServer.signing.chain`).
   */
  defaultCertificates?: X509Certificate[];
  /** The login limits of htpasswd auth (shared with the token server, kept across reloads). */
  logins?: LoginGuard;
}

/**
 * The access controller `auth` in config.yml asks for, or undefined without `auth` (everyone may
 * do everything, as distribution). Reads the files it needs now (htpasswd, certificate bundle,
 * JWKS) and throws `AuthSetupError` / `HtpasswdError` with a clear message when one is unusable.
 */
export function createAccessController(auth: AuthConfig | undefined, options: AccessControllerOptions): AccessController | undefined {
  const { logger } = options;
  const mode = authMode(auth);
  if (mode === "silly") {
    const silly = auth!.silly!;
    logger.warn("auth.silly is for development only: any Authorization header is accepted");
    return createSillyController({ realm: silly.realm, service: silly.service });
  }
  if (mode === "htpasswd") {
    const htpasswd = auth!.htpasswd!;
    return createHtpasswdController({ realm: htpasswd.realm, path: htpasswd.path, logger, logins: options.logins });
  }
  if (mode === "token") {
    const token = auth!.token!;
    let certificates: X509Certificate[] = [];
    if (token.rootcertbundle !== undefined) {
      try {
        certificates = readCertificateBundle(token.rootcertbundle);
      } catch (error) {
        throw new AuthSetupError(`auth.token.rootcertbundle: ${(error as Error).message}`, { cause: error });
      }
    } else if (token.jwks === undefined) {
      certificates = options.defaultCertificates ?? [];
      if (certificates.length === 0) {
        throw new AuthSetupError("auth.token needs rootcertbundle (or jwks), or tokenserver.enabled so Berth trusts its own token server");
      }
    }
    return createTokenController({
      realm: token.realm,
      service: token.service,
      issuer: token.issuer,
      certificates,
      jwks: token.jwks !== undefined ? readJwks(token.jwks) : undefined,
      signingAlgorithms: token.signingalgorithms,
      autoRedirect: token.autoredirect,
      autoRedirectPath: token.autoredirectpath,
      logger,
    });
  }
  return undefined;
}
