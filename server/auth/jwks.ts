import type { JWK } from "jose";

export class JwksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwksError";
  }
}

/**
 * The keys of a JSON Web Key Set (`auth.token.jwks`). The error never quotes the text — V8's
 * JSON.parse messages do (`Unexpected token 'r', "root:x:0:0"... is not valid JSON`), and the
 * path may point at any file.
 */
export function parseJwks(text: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JwksError("not valid JSON");
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new JwksError('no "keys" list');
  return keys as JWK[];
}
