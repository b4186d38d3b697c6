import { GiB, boolParam, endpointURL, requiredParam, sizeParam, stringParam, type DriverParams, type S3DriverOptions } from "./s3-options.js";

/**
 * Aliyun OSS through its S3-compatible API, with distribution's `oss` parameters: accesskeyid,
 * accesskeysecret, region (`oss-cn-beijing`), endpoint, internal, bucket, encrypt,
 * encryptionkeyid, secure, chunksize, rootdirectory.
 *
 * Endpoints: `internal: true` talks to `<region>-internal.aliyuncs.com` (traffic inside Aliyun,
 * free of charge); `internal: <host>` (LAIN's configurations write an endpoint there) talks to
 * that host; otherwise `endpoint`, else `<region>.aliyuncs.com`. Redirect URLs are always signed
 * for the public endpoint (`endpoint`, else `<region>.aliyuncs.com`): clients are outside.
 * OSS only serves virtual-hosted bucket names; `forcepathstyle: true` (not a distribution
 * parameter) is for S3-compatible stand-ins in tests.
 */
export function ossOptionsFromParams(params: DriverParams): S3DriverOptions {
  const rawRegion = requiredParam("oss", params, "region");
  const region = rawRegion.startsWith("oss-") ? rawRegion : `oss-${rawRegion}`;
  const secure = boolParam(params, "secure", true);
  const internal = params.internal;
  const internalHost =
    typeof internal === "string" && !/^(true|false)$/i.test(internal.trim()) && internal.trim() !== ""
      ? internal.trim()
      : boolParam({ internal }, "internal", false)
        ? `${region}-internal.aliyuncs.com`
        : undefined;
  const publicEndpoint = endpointURL(stringParam(params, "endpoint") ?? `${region}.aliyuncs.com`, secure);
  const endpoint = internalHost !== undefined ? endpointURL(internalHost, secure) : publicEndpoint;
  const keyId = stringParam(params, "encryptionkeyid");
  return {
    name: "oss",
    bucket: requiredParam("oss", params, "bucket"),
    region,
    endpoint,
    redirectEndpoint: publicEndpoint,
    forcePathStyle: boolParam(params, "forcepathstyle", false),
    credentials: {
      accessKeyId: requiredParam("oss", params, "accesskeyid"),
      secretAccessKey: requiredParam("oss", params, "accesskeysecret"),
    },
    encrypt: boolParam(params, "encrypt", false),
    keyId,
    chunkSize: sizeParam(params, "chunksize"),
    rootDirectory: stringParam(params, "rootdirectory"),
    // OSS copies at most 1 GiB with one CopyObject; bigger objects go through UploadPartCopy.
    maxSingleCopySize: 1 * GiB,
    multipartCopyThresholdSize: 32 * 1024 * 1024,
  };
}
