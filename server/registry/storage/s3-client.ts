import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { MAX_PART_SIZE, MIN_PART_SIZE, type S3ClientOptions } from "./s3-options.js";

/** DeleteObjects takes at most this many keys per request. */
export const DELETE_BATCH = 1000;

/**
 * An SDK client set up for S3 and the S3-compatible servers the registry meets (radosgw, MinIO,
 * OSS): checksums only where the API requires them (older servers reject the SDK's default CRC32
 * trailers and aws-chunked bodies), and a Content-MD5 on DeleteObjects, which some of them still
 * require.
 */
export function createS3Client(options: S3ClientOptions): S3Client {
  const maxSockets = options.maxSockets ?? 256;
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.userAgent ? { customUserAgent: options.userAgent } : {}),
    useDualstackEndpoint: options.useDualstack ?? false,
    useAccelerateEndpoint: options.accelerate ?? false,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 4,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets, rejectUnauthorized: !options.skipVerify }),
      connectionTimeout: 10_000,
    },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
      if (context.commandName === "DeleteObjectsCommand" && request?.headers && (typeof request.body === "string" || request.body instanceof Uint8Array)) {
        request.headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
      }
      return next(args);
    },
    { step: "build", name: "berthDeleteObjectsContentMd5" },
  );
  return client;
}

/** The S3 error code (`NoSuchKey`, `NotFound`, `InvalidRange`...) of an SDK failure, if any. */
export function s3ErrorCode(error: unknown): string | undefined {
  if (error instanceof S3ServiceException) return error.name;
  const name = (error as { name?: unknown; Code?: unknown } | null)?.Code ?? (error as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : undefined;
}

export function s3Status(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * A missing object. A missing bucket is not: it is a configuration error that must not read as
 * "blob unknown" (HEAD cannot tell the two apart, it has no body; GET and list can).
 */
export function isMissingKey(error: unknown): boolean {
  const code = s3ErrorCode(error);
  if (code === "NoSuchBucket") return false;
  return code === "NoSuchKey" || code === "NotFound" || (s3Status(error) === 404 && code !== "NoSuchUpload");
}

export function isNoSuchUpload(error: unknown): boolean {
  return s3ErrorCode(error) === "NoSuchUpload";
}

/**
 * Splits `size` bytes into copy ranges of about `chunk` bytes, each between S3's minimum and
 * maximum part size (the last one included, so the parts can be followed by more), as
 * `[start, endInclusive]` pairs.
 */
export function partRanges(size: number, chunk: number): Array<[number, number]> {
  if (size <= 0) return [];
  const count = Math.max(1, Math.floor(size / Math.max(chunk, MIN_PART_SIZE)), Math.ceil(size / MAX_PART_SIZE));
  const base = Math.floor(size / count);
  const extra = size - base * count;
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const length = base + (i < extra ? 1 : 0);
    ranges.push([start, start + length - 1]);
    start += length;
  }
  return ranges;
}

/**
 * Runs `tasks` with at most `limit` at a time. After the first failure no further task starts,
 * and it is rethrown once the started ones settled (so nothing still writes to a part after).
 */
export async function runLimited<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const queue = pLimit({ concurrency: Math.max(1, limit), rejectOnClear: true });
  const stopOnFailure = (task: () => Promise<T>) => async () => {
    try {
      return await task();
    } catch (error) {
      queue.clearQueue();
      throw error;
    }
  };
  const settled = await Promise.allSettled(tasks.map((task) => queue(stopOnFailure(task))));
  // The first rejection in task order is a task's own failure: the tasks it kept from starting
  // (rejected with an AbortError) all come after it in the queue.
  return settled.map((result) => {
    if (result.status === "rejected") throw result.reason;
    return result.value;
  });
}
