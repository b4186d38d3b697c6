import { parseSize } from "../../config/units.js";
import type { S3Client } from "@aws-sdk/client-s3";

/**
 * The s3 and oss drivers' options, read from their parameters under `storage:` in config.yml
 * (typed by the config schema, or raw strings when a caller passes them through). Nothing here
 * loads the AWS SDK, so a configuration is checked without paying for it.
 */

/** S3's limits on multipart uploads (the same on AWS, radosgw and OSS's S3 API). */
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * GiB;
export const MAX_PARTS = 10_000;

const DEFAULT_CHUNK_SIZE = 10 * MiB;

/** How `createS3Client` (s3-client.ts) connects. */
export interface S3ClientOptions {
  region: string;
  /** Full URL (`https://s3.example.com`); absent: AWS's endpoint for the region. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Absent: the SDK's default chain (environment, shared config, web identity, ECS/EC2 metadata). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  skipVerify?: boolean;
  userAgent?: string;
  useDualstack?: boolean;
  accelerate?: boolean;
  /** Sockets per endpoint; uploads, reads and copies of many concurrent requests share them. */
  maxSockets?: number;
}

export interface S3DriverOptions extends S3ClientOptions {
  /** Driver name reported in errors (`s3`, `oss`). */
  name?: string;
  bucket: string;
  /** Key prefix everything lives under ("" or "/" for the bucket's root). */
  rootDirectory?: string;
  /** Part size of uploads, at least 5 MiB. Default 10 MiB. */
  chunkSize?: number;
  /** Objects larger than this are moved with a parallel multipart copy. Default 32 MiB. */
  multipartCopyThresholdSize?: number;
  multipartCopyChunkSize?: number;
  multipartCopyMaxConcurrency?: number;
  /** Largest object a single CopyObject may copy (5 GiB on S3, 1 GiB on OSS). */
  maxSingleCopySize?: number;
  encrypt?: boolean;
  /** KMS key for server-side encryption (implies `encrypt`). */
  keyId?: string;
  /** Storage class sent with every write; undefined sends none. */
  storageClass?: string;
  /** Canned ACL sent with every write; undefined sends none (buckets with ACLs disabled reject most). */
  objectAcl?: string;
  /** Validity of redirect URLs, in seconds. Default 20 minutes. */
  redirectExpirySeconds?: number;
  /**
   * Endpoint that redirect URLs are signed for, when clients reach the store under another name
   * than the registry does (OSS's internal endpoint). Default: the endpoint.
   */
  redirectEndpoint?: string;
  /** An existing client (tests count requests); otherwise one is built from the options. */
  client?: S3Client;
}

export type DriverParams = Record<string, unknown>;

export function stringParam(params: DriverParams, key: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new Error(`storage parameter ${key} must be a string`);
}

export function requiredParam(driver: string, params: DriverParams, key: string): string {
  const value = stringParam(params, key);
  if (value === undefined) throw new Error(`storage.${driver}.${key} is required`);
  return value;
}

export function boolParam(params: DriverParams, key: string, fallback: boolean): boolean {
  const value = params[key];
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === "true";
  throw new Error(`storage parameter ${key} must be true or false`);
}

export function sizeParam(params: DriverParams, key: string): number | undefined {
  const value = params[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "number" && typeof value !== "string") throw new Error(`storage parameter ${key} must be a size in bytes`);
  return parseSize(value);
}

function intParam(params: DriverParams, key: string): number | undefined {
  const value = params[key];
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`storage parameter ${key} must be a positive whole number`);
  return n;
}

/** `host[:port]` or a full URL; the scheme follows `secure` when missing. */
export function endpointURL(endpoint: string, secure: boolean): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${secure ? "https" : "http"}://${endpoint}`;
}

/**
 * distribution's s3 parameters: accesskey, secretkey, region, regionendpoint, forcepathstyle,
 * bucket, encrypt, keyid, secure, skipverify, v4auth, chunksize, multipartcopychunksize,
 * multipartcopymaxconcurrency, multipartcopythresholdsize, rootdirectory, storageclass,
 * useragent, usedualstack, accelerate, objectacl (loglevel is accepted and ignored).
 */
export function s3OptionsFromParams(params: DriverParams): S3DriverOptions {
  const accessKey = stringParam(params, "accesskey");
  const secretKey = stringParam(params, "secretkey");
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new Error("storage.s3: accesskey and secretkey go together (leave both out to use the default credential chain)");
  }
  const region = requiredParam("s3", params, "region");
  const secure = boolParam(params, "secure", true);
  const regionEndpoint = stringParam(params, "regionendpoint");
  // S3-compatible servers rarely have wildcard DNS for virtual-hosted buckets; AWS wants them.
  const forcePathStyle = boolParam(params, "forcepathstyle", regionEndpoint !== undefined);
  const endpoint = regionEndpoint !== undefined ? endpointURL(regionEndpoint, secure) : secure ? undefined : `http://s3.${region}.amazonaws.com`;
  // Checked, but AWS signature version 2 is gone from S3 and from the SDK: requests are always signed with v4.
  boolParam(params, "v4auth", true);
  const storageClass = stringParam(params, "storageclass") ?? "STANDARD";
  return {
    name: "s3",
    bucket: requiredParam("s3", params, "bucket"),
    region,
    endpoint,
    forcePathStyle,
    ...(accessKey !== undefined && secretKey !== undefined
      ? { credentials: { accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: stringParam(params, "sessiontoken") } }
      : {}),
    encrypt: boolParam(params, "encrypt", false),
    keyId: stringParam(params, "keyid"),
    skipVerify: boolParam(params, "skipverify", false),
    chunkSize: sizeParam(params, "chunksize"),
    multipartCopyChunkSize: sizeParam(params, "multipartcopychunksize"),
    multipartCopyMaxConcurrency: intParam(params, "multipartcopymaxconcurrency"),
    multipartCopyThresholdSize: sizeParam(params, "multipartcopythresholdsize"),
    rootDirectory: stringParam(params, "rootdirectory"),
    storageClass: storageClass.toUpperCase() === "NONE" ? undefined : storageClass,
    objectAcl: stringParam(params, "objectacl"),
    userAgent: stringParam(params, "useragent"),
    useDualstack: boolParam(params, "usedualstack", false),
    accelerate: boolParam(params, "accelerate", false),
  };
}

/** The part size of uploads; throws when S3 would refuse it. */
export function validatedChunkSize(options: S3DriverOptions): number {
  const size = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (size < MIN_PART_SIZE || size > MAX_PART_SIZE) {
    throw new Error(`${options.name ?? "s3"}: chunksize must be between ${MIN_PART_SIZE} and ${MAX_PART_SIZE} bytes (got ${size})`);
  }
  return size;
}
