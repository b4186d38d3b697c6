import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { abortUpload, copyParts, copySource } from "./s3-multipart.js";
import type { ObjectParams } from "./s3-writer.js";

// The object operations the S3 driver composes: paged listings, batched deletes, server-side copies.

export interface BucketRef {
  client: S3Client;
  bucket: string;
}

/** How objects are copied server-side: one CopyObject up to `threshold`, else UploadPartCopy parts. */
export interface CopyContext extends BucketRef {
  objectParams: ObjectParams;
  threshold: number;
  chunkSize: number;
  concurrency: number;
}

/** ListObjectsV2 pages of `prefix`, following continuation tokens. */
export async function* listPages(ref: BucketRef, prefix: string, delimiter: string | undefined, startAfter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
  let token: string | undefined;
  do {
    const page = await ref.client.send(
      new ListObjectsV2Command({
        Bucket: ref.bucket,
        Prefix: prefix,
        Delimiter: delimiter,
        ContinuationToken: token,
        StartAfter: token === undefined ? startAfter : undefined,
      }),
    );
    yield page;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Deletes `keys` (at most DELETE_BATCH): one DeleteObject for a single key, else one DeleteObjects. */
export async function deleteKeys(ref: BucketRef, keys: string[]): Promise<void> {
  // DeleteObjects answers with XML, which waits for a delayed ACK where Nagle is on; DeleteObject does not.
  if (keys.length === 1) {
    await ref.client.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: keys[0] }));
    return;
  }
  const result = await ref.client.send(
    new DeleteObjectsCommand({ Bucket: ref.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
  );
  const failed = (result.Errors ?? []).filter((error) => error.Code !== "NoSuchKey");
  if (failed.length > 0) {
    const first = failed[0]!;
    throw new Error(`DeleteObjects failed for ${failed.length} keys, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ""}`);
  }
}

/** A server-side copy of `from` (of `size` bytes) to `to`. */
export async function copyObject(ref: CopyContext, from: string, to: string, size: number): Promise<void> {
  if (size <= ref.threshold) {
    await ref.client.send(new CopyObjectCommand({ Bucket: ref.bucket, Key: to, CopySource: copySource(ref.bucket, from), ...ref.objectParams }));
    return;
  }
  const created = await ref.client.send(new CreateMultipartUploadCommand({ Bucket: ref.bucket, Key: to, ...ref.objectParams }));
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`CreateMultipartUpload for ${to} returned no upload id`);
  try {
    const parts = await copyParts({ client: ref.client, bucket: ref.bucket, key: to }, uploadId, {
      source: from,
      size,
      chunkSize: ref.chunkSize,
      concurrency: ref.concurrency,
      firstPart: 1,
    });
    await ref.client.send(
      new CompleteMultipartUploadCommand({ Bucket: ref.bucket, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
    );
  } catch (error) {
    await abortUpload({ client: ref.client, bucket: ref.bucket, key: to }, uploadId).catch(() => undefined);
    throw error;
  }
}
