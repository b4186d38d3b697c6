import type { Logger } from "../log.js";
import { checkLogin, defaultLoginLimits, type LoginGuard } from "../login-rate-limit.js";
import type { AccessController } from "../registry/access.js";
import { RegistryError } from "../registry/errors.js";
import { basicChallenge, basicCredentials, unauthorized } from "./challenge.js";
import { HtpasswdFile } from "./htpasswd.js";

export interface HtpasswdControllerOptions {
  realm: string;
  /** The htpasswd file (bcrypt entries only). */
  path: string;
  logger: Logger;
  /** Failed logins allowed per client and user name, and per client; default `defaultLoginLimits` by TCP peer. */
  logins?: LoginGuard;
}

/**
 * distribution's `htpasswd` method: HTTP Basic against a bcrypt htpasswd file, re-read when it
 * changes. An authenticated user may do everything; anyone else gets 401 with
 * `WWW-Authenticate: Basic realm="<realm>"`. Repeated wrong passwords from one client get 429
 * `TOOMANYREQUESTS` with `Retry-After`, without the password being checked (distribution has no
 * such limit; each guess would cost a bcrypt comparison). Throws `HtpasswdError` when the file
 * cannot be used.
 */
export function createHtpasswdController(options: HtpasswdControllerOptions): AccessController & { file: HtpasswdFile } {
  const file = new HtpasswdFile(options.path, options.logger);
  const challenge = basicChallenge(options.realm);
  const logins = options.logins ?? { limits: defaultLoginLimits() };
  return {
    file,
    async authorize(req, scopes) {
      const credentials = basicCredentials(req);
      if (!credentials) return { ok: false, error: unauthorized(challenge, scopes) };
      const { username, password } = credentials;
      const outcome = await checkLogin(logins, req, username, () => file.verify(username, password));
      if (outcome.kind === "ok") return { ok: true, user: username };
      const fields = { user: username, address: outcome.address, url: req.url };
      if (outcome.kind === "limited") {
        options.logger.warn("htpasswd: login refused after repeated failures", fields);
        const wait = String(outcome.retryAfter);
        return { ok: false, error: new RegistryError("TOOMANYREQUESTS", undefined, `too many failed logins; try again in ${wait} s`, { headers: { "Retry-After": wait } }) };
      }
      options.logger.info("htpasswd: authentication failed", fields);
      return { ok: false, error: unauthorized(challenge, scopes) };
    },
  };
}
