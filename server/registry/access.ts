import type { IncomingMessage } from "node:http";
import type { RegistryError } from "./errors.js";

/** One resource a request needs, in the docker token spec's terms (`repository:team/app:pull,push`). */
export interface AccessScope {
  type: "repository" | "registry";
  /** A repository name, or "catalog" for `registry`. */
  name: string;
  actions: string[];
}

export type AccessDecision = { ok: true; user?: string } | { ok: false; error: RegistryError };

/**
 * Decides whether a request may do what it asks (silly, htpasswd, token — see server/auth/).
 * `scopes` is empty for `GET /v2/`, which only asks "who are you?". A refusal carries the
 * error to answer, with its `WWW-Authenticate` challenge.
 */
export interface AccessController {
  authorize(req: IncomingMessage, scopes: AccessScope[]): Promise<AccessDecision>;
}

/** The scopes each endpoint needs. */
export function scopesFor(
  route: { kind: string; name?: string },
  method: string,
  query: URLSearchParams,
): AccessScope[] {
  if (route.kind === "base") return [];
  if (route.kind === "catalog") return [{ type: "registry", name: "catalog", actions: ["*"] }];
  const name = route.name as string;
  if (method === "DELETE" && (route.kind === "manifest" || route.kind === "blob")) {
    return [{ type: "repository", name, actions: ["delete"] }];
  }
  if (method === "GET" || method === "HEAD") return [{ type: "repository", name, actions: ["pull"] }];
  const scopes: AccessScope[] = [{ type: "repository", name, actions: ["pull", "push"] }];
  const from = query.get("from");
  if (route.kind === "uploads" && query.has("mount") && from && from !== name) {
    scopes.push({ type: "repository", name: from, actions: ["pull"] });
  }
  return scopes;
}
