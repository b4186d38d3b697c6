/**
 * Every error the registry API can answer, declared once with its HTTP status. Handlers throw
 * `RegistryError`; the dispatcher renders it as the spec's JSON body. Clients match on these
 * codes, so the list holds only the OCI distribution-spec's codes and the few more that Docker
 * Registry HTTP API V2 (distribution) defines: TAG_INVALID, MANIFEST_UNVERIFIED, RANGE_INVALID,
 * PAGINATION_NUMBER_INVALID, UNAVAILABLE and UNKNOWN. Never add one of Berth's own.
 */
export const errorCodes = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: "manifest references a manifest or blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  MANIFEST_UNVERIFIED: { status: 400, message: "manifest failed signature verification" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  RANGE_INVALID: { status: 416, message: "invalid content range" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  UNAVAILABLE: { status: 503, message: "service unavailable" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class RegistryError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: unknown,
    message?: string,
    options?: { status?: number; headers?: Record<string, string>; cause?: unknown },
  ) {
    super(message ?? errorCodes[code].message, { cause: options?.cause });
    this.name = "RegistryError";
    this.status = options?.status ?? errorCodes[code].status;
    this.headers = options?.headers ?? {};
  }
  readonly headers: Record<string, string>;

  toJSON(): { errors: { code: string; message: string; detail?: unknown }[] } {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}
