import type { AccessController } from "../registry/access.js";
import { bearerChallenge, unauthorized } from "./challenge.js";

export interface SillyOptions {
  realm: string;
  service: string;
}

/**
 * distribution's `silly` method, for development only: any request carrying an Authorization
 * header (whatever it says) passes; others get 401 with a Bearer challenge naming realm, service
 * and the scopes the request needs.
 */
export function createSillyController(options: SillyOptions): AccessController {
  return {
    async authorize(req, scopes) {
      const header = req.headers.authorization;
      if (typeof header === "string" && header !== "") return { ok: true, user: "silly" };
      return { ok: false, error: unauthorized(bearerChallenge(options.realm, options.service, scopes), scopes) };
    },
  };
}
