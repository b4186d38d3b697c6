import { boolParam, requiredParam, sizeParam, stringParam, type DriverParams } from "./s3-options.js";

const MiB = 1024 * 1024;
/** distribution's default segment size. */
const DEFAULT_CHUNK_SIZE = 20 * MiB;

/** The swift driver's options, read from distribution's `swift` parameters. */
export interface SwiftDriverOptions {
  authURL: string;
  username: string;
  password: string;
  container: string;
  /** 1 (TempAuth-style: radosgw, Swift's tempauth) or 3 (Keystone v3). */
  authVersion: 1 | 3;
  /** Keystone v3 scope and catalog choice. */
  tenant?: string;
  tenantId?: string;
  domain?: string;
  domainId?: string;
  tenantDomain?: string;
  tenantDomainId?: string;
  region?: string;
  endpointType: "public" | "internal" | "admin";
  /** "" or "a/b", before `files/` and `segments/` in every object name. */
  prefix: string;
  insecureSkipVerify: boolean;
  chunkSize: number;
}

/**
 * username, password, authurl, container (required); authversion (default: 3 when the URL
 * ends in /v3, else 1); tenant, tenantid, domain, domainid, tenantdomain, tenantdomainid,
 * region, endpointtype (Keystone v3); prefix (or rootdirectory); insecureskipverify; chunksize.
 * Keystone v2 is refused: it is retired in every supported OpenStack release.
 */
export function swiftOptionsFromParams(params: DriverParams): SwiftDriverOptions {
  const authURL = requiredParam("swift", params, "authurl").replace(/\/+$/, "");
  const version = stringParam(params, "authversion") ?? (/\/v3$/.test(authURL) ? "3" : /\/v2(\.0)?$/.test(authURL) ? "2" : "1");
  if (version !== "1" && version !== "3") {
    throw new Error(`storage.swift.authversion ${version} is not supported: use 1 (TempAuth, radosgw) or 3 (Keystone v3)`);
  }
  const endpointType = stringParam(params, "endpointtype") ?? "public";
  if (endpointType !== "public" && endpointType !== "internal" && endpointType !== "admin") {
    throw new Error(`storage.swift.endpointtype must be public, internal or admin (got ${JSON.stringify(endpointType)})`);
  }
  const chunkSize = sizeParam(params, "chunksize") ?? DEFAULT_CHUNK_SIZE;
  if (chunkSize < 1 * MiB) throw new Error(`storage.swift.chunksize must be at least 1 MiB (got ${chunkSize})`);
  return {
    authURL,
    username: requiredParam("swift", params, "username"),
    password: requiredParam("swift", params, "password"),
    container: requiredParam("swift", params, "container"),
    authVersion: version === "3" ? 3 : 1,
    tenant: stringParam(params, "tenant"),
    tenantId: stringParam(params, "tenantid"),
    domain: stringParam(params, "domain"),
    domainId: stringParam(params, "domainid"),
    tenantDomain: stringParam(params, "tenantdomain"),
    tenantDomainId: stringParam(params, "tenantdomainid"),
    region: stringParam(params, "region"),
    endpointType,
    prefix: (stringParam(params, "prefix") ?? stringParam(params, "rootdirectory") ?? "").replace(/^\/+|\/+$/g, ""),
    insecureSkipVerify: boolParam(params, "insecureskipverify", false),
    chunkSize,
  };
}
