import { RegistryError } from "../registry/errors.js";

/** A repository, tag or manifest the console asked about does not exist. */
export class IndexNotFoundError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IndexNotFoundError";
  }
}

/** A query the index cannot answer as asked (a cursor from another sort, say). */
export class IndexQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IndexQueryError";
  }
}

const badRequestCodes = new Set(["NAME_INVALID", "TAG_INVALID", "DIGEST_INVALID"]);
const notFoundCodes = new Set(["NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"]);

/**
 * How an error from the index should be reported to the console, independent of the API layer:
 * "not-found", "bad-request", or "internal" for everything else.
 */
export function classifyIndexError(error: unknown): "not-found" | "bad-request" | "internal" {
  if (error instanceof IndexNotFoundError) return "not-found";
  if (error instanceof IndexQueryError) return "bad-request";
  if (error instanceof RegistryError) {
    if (notFoundCodes.has(error.code)) return "not-found";
    if (badRequestCodes.has(error.code)) return "bad-request";
  }
  return "internal";
}
