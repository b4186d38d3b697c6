/**
 * The error codes a registry may answer, written out from the specifications rather than taken
 * from server/registry/errors.ts, so a code Berth invents fails the tests that check against them.
 */

/** OCI distribution-spec v1.1.1, "Error Codes": the `code` field MUST be one of these. */
export const ociErrorCodes = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
] as const;

/**
 * Docker Registry HTTP API V2 (distribution's errcode registry) adds these; the OCI spec names
 * TAG_INVALID and MANIFEST_UNVERIFIED as legacy codes clients may meet.
 */
export const dockerRegistryErrorCodes = ["TAG_INVALID", "MANIFEST_UNVERIFIED", "RANGE_INVALID", "PAGINATION_NUMBER_INVALID", "UNAVAILABLE", "UNKNOWN"] as const;

export const specErrorCodes: ReadonlySet<string> = new Set([...ociErrorCodes, ...dockerRegistryErrorCodes]);
