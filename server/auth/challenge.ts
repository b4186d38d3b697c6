import type { IncomingMessage } from "node:http";
import type { AccessScope } from "../registry/access.js";
import { RegistryError } from "../registry/errors.js";

/** A quoted-string for an auth-param (RFC 7235): backslash-escapes `\` and `"`, as Go's %q does for ASCII. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `repository:team/app:pull,push` — one scope in the docker token spec's syntax. */
export function scopeString(scope: AccessScope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

/** The `scope` parameter of a challenge: every needed scope, space-separated (one quoted value). */
export function scopeParam(scopes: AccessScope[]): string {
  return scopes.map(scopeString).join(" ");
}

/**
 * What distribution puts in the error's `detail`: one entry per action
 * (`{"Type":"repository","Class":"","Name":"team/app","Action":"push"}`).
 */
export function accessDetail(scopes: AccessScope[]): { Type: string; Class: string; Name: string; Action: string }[] {
  return scopes.flatMap((scope) => scope.actions.map((action) => ({ Type: scope.type, Class: "", Name: scope.name, Action: action })));
}

export type BearerError = "invalid_token" | "insufficient_scope";

/** `Bearer realm="...",service="...",scope="...",error="..."` (the parameters distribution sends, in its order). */
export function bearerChallenge(realm: string, service: string, scopes: AccessScope[], error?: BearerError): string {
  let challenge = `Bearer realm=${quote(realm)},service=${quote(service)}`;
  if (scopes.length > 0) challenge += `,scope=${quote(scopeParam(scopes))}`;
  if (error) challenge += `,error=${quote(error)}`;
  return challenge;
}

export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}`;
}

/**
 * A refusal with its challenge: 401, the access records as detail (as distribution sends them),
 * and the `WWW-Authenticate` header. The code is UNAUTHORIZED, or DENIED for a caller who proved
 * who they are but may not do this (`insufficient_scope`): clients then say "denied" instead of
 * asking for a login again, while the 401 + challenge still lets them fetch a wider token.
 */
export function unauthorized(challenge: string, scopes: AccessScope[], message?: string, code: "UNAUTHORIZED" | "DENIED" = "UNAUTHORIZED"): RegistryError {
  return new RegistryError(code, accessDetail(scopes), message, { headers: { "WWW-Authenticate": challenge }, status: 401 });
}

/** The credentials of a `Basic` Authorization header, or undefined when there are none (or they are malformed). */
export function basicCredentials(req: IncomingMessage): { username: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token of a `Bearer` Authorization header. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
