import type { Logger } from "../log.js";
import type { AccessController } from "../registry/access.js";
import { basicChallenge, basicCredentials, unauthorized } from "./challenge.js";
import { HtpasswdFile } from "./htpasswd.js";

export interface HtpasswdControllerOptions {
  realm: string;
  /** The htpasswd file (bcrypt entries only). */
  path: string;
  logger: Logger;
}

/**
 * distribution's `htpasswd` method: HTTP Basic against a bcrypt htpasswd file, re-read when it
 * changes. An authenticated user may do everything; anyone else gets 401 with
 * `WWW-Authenticate: Basic realm="<realm>"`. Throws `HtpasswdError` when the file cannot be used.
 */
export function createHtpasswdController(options: HtpasswdControllerOptions): AccessController & { file: HtpasswdFile } {
  const file = new HtpasswdFile(options.path, options.logger);
  const challenge = basicChallenge(options.realm);
  return {
    file,
    async authorize(req, scopes) {
      const credentials = basicCredentials(req);
      if (credentials && (await file.verify(credentials.username, credentials.password))) {
        return { ok: true, user: credentials.username };
      }
      if (credentials) options.logger.info("htpasswd: authentication failed", { user: credentials.username, url: req.url });
      return { ok: false, error: unauthorized(challenge, scopes) };
    },
  };
}
