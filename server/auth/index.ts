import type { IncomingMessage, ServerResponse } from "node:http";
import type { Etcd3 } from "etcd3";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { LoginGuard } from "../login-rate-limit.js";
import type { AccessController } from "../registry/access.js";
import { createAuthState, type AuthState, type AuthStatus } from "./etcd-toggle.js";
import { createTokenServer, isTokenServerPath, type TokenServer } from "./token-server.js";

export { createHtpasswdController } from "./basic.js";
export { createSelfSignedCertificate, parseCertificates, readCertificateBundle, verifyX5c } from "./certs.js";
export {
  basicChallenge,
  basicCredentials,
  bearerChallenge,
  bearerToken,
  scopeParam,
  scopeString,
  unauthorized,
} from "./challenge.js";
export { createAuthState, createEtcdToggle, parseEtcdAuthValue, type AuthState, type AuthStateOptions, type AuthStatus, type EtcdAuthSettings } from "./etcd-toggle.js";
export { AuthSetupError, authMode, createAccessController, type AccessControllerOptions, type AuthMode } from "./factory.js";
export { HtpasswdError, HtpasswdFile } from "./htpasswd.js";
export { parseHtpasswd } from "./htpasswd-entries.js";
export { defaultTokenKeyDir, loadOrCreateSigningKey, loadSigningKey, type SigningKey } from "./keys.js";
export { base32, libtrustKeyId } from "./libtrust.js";
export { allowedActions, defaultRules, grantAccess, parseScope, parseScopes, type AccessPolicy, type AccessRule } from "./rules.js";
export { createSillyController } from "./silly.js";
export { createTokenController, grants, type ResourceActions, type TokenClaims } from "./token.js";
export { createTokenIssuer, createTokenServer, isTokenServerPath, tokenServerPath, type TokenServer } from "./token-server.js";

export interface AuthSetupOptions {
  config: Config;
  logger: Logger;
  /** `tokenserver.keydir` when not configured, e.g. `defaultTokenKeyDir(<filesystem root>)`. */
  defaultKeyDir: string;
  /** A shared etcd client (else one is created from `config.etcd` when configured, and closed by `close()`). */
  etcd?: Etcd3;
  /**
   * Failed-login limits for the token server and htpasswd auth, and who the client is. Pass the
   * same one to every setup (serve.ts does), so a reload does not forget a guesser.
   */
  logins?: LoginGuard;
  /** `http.prefix` without the trailing slash ("" for none): the token endpoint lives below it too. */
  prefix?: string;
  /** etcd safety-net poll (default 5 s) and read deadline (default `etcd.dialtimeout`, else 3 s). */
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

export interface AuthSetup {
  /** For `createRegistry({ access: () => auth.current() })`. */
  current(): AccessController | undefined;
  status(): AuthStatus;
  state: AuthState;
  /** The built-in token server, when `tokenserver.enabled`. */
  tokenServer?: TokenServer;
  /**
   * Serves the token endpoint (`GET /api/v1/authorize/registry/`, with or without the slash)
   * when the token server is enabled and `req.url` is that path; returns false otherwise.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): Promise<void>;
}

/**
 * Everything serve.ts needs for auth, from the configuration: the token server (when enabled),
 * config.yml's access controller, and the etcd switch (when `etcd` is configured).
 */
export async function setupAuth(options: AuthSetupOptions): Promise<AuthSetup> {
  const { config, logger } = options;
  const tokenServer = config.tokenserver?.enabled
    ? await createTokenServer(config.tokenserver, { logger, defaultKeyDir: options.defaultKeyDir, logins: options.logins })
    : undefined;
  const state = await createAuthState({
    config,
    logger,
    etcd: options.etcd,
    tokenServer,
    logins: options.logins,
    pollIntervalMs: options.pollIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const prefix = options.prefix ?? "";
  return {
    current: () => state.current(),
    status: () => state.status(),
    state,
    tokenServer,
    handle(req, res) {
      if (!tokenServer || !isTokenServerPath(req.url ?? "/", prefix)) return false;
      tokenServer.handle(req, res);
      return true;
    },
    close: () => state.close(),
  };
}
