import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";
import { isNoSuchUpload, partRanges, runLimited } from "./s3-client.js";

// S3's multipart upload API, as the driver and its writers use it.

/** One object of one bucket, through one client. */
export interface ObjectRef {
  client: S3Client;
  bucket: string;
  key: string;
}

export interface UploadInfo {
  uploadId: string;
  initiated: number;
}

/** `CopySource` is `bucket/key`, URL-encoded (keys here only hold URL-safe characters and `/`). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Copies the first `size` bytes of `source` server-side into the upload `uploadId` of `ref.key`,
 * as parts of `chunkSize` numbered from `firstPart`, `concurrency` at once.
 */
export async function copyParts(
  ref: ObjectRef,
  uploadId: string,
  copy: { source: string; size: number; chunkSize: number; concurrency: number; firstPart: number },
): Promise<CompletedPart[]> {
  const { client, bucket, key } = ref;
  return runLimited(
    copy.concurrency,
    partRanges(copy.size, copy.chunkSize).map(([start, end], index) => async () => {
      const result = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: copy.firstPart + index,
          CopySource: copySource(bucket, copy.source),
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      return { PartNumber: copy.firstPart + index, ETag: result.CopyPartResult?.ETag };
    }),
  );
}

/** In-progress multipart uploads of exactly `ctx.key`, or with `prefix`, of every key starting with it. */
export async function listUploads(
  ctx: ObjectRef,
  prefix?: string,
): Promise<Array<UploadInfo & { key: string }>> {
  const exact = prefix === undefined;
  const listPrefix = prefix ?? ctx.key;
  const found: Array<UploadInfo & { key: string }> = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await ctx.client.send(
      new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: listPrefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const upload of page.Uploads ?? []) {
      if (!upload.UploadId || upload.Key === undefined) continue;
      if (exact && upload.Key !== ctx.key) continue;
      found.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated?.getTime() ?? 0 });
    }
    if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return found;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

export async function listParts(ctx: ObjectRef, uploadId: string): Promise<Array<{ PartNumber: number; ETag: string | undefined; size: number }>> {
  const parts: Array<{ PartNumber: number; ETag: string | undefined; size: number }> = [];
  let marker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await ctx.client.send(new ListPartsCommand({ Bucket: ctx.bucket, Key: ctx.key, UploadId: uploadId, PartNumberMarker: marker }));
    } catch (error) {
      // Completed or aborted meanwhile: nothing left to continue.
      if (isNoSuchUpload(error)) return [];
      throw error;
    }
    for (const part of page.Parts ?? []) {
      if (part.PartNumber !== undefined) parts.push({ PartNumber: part.PartNumber, ETag: part.ETag, size: part.Size ?? 0 });
    }
    if (!page.IsTruncated || page.NextPartNumberMarker === undefined) break;
    marker = page.NextPartNumberMarker;
  }
  return parts.sort((a, b) => a.PartNumber - b.PartNumber);
}

/** Returns the object's ETag. */
export async function completeUpload(ctx: ObjectRef, uploadId: string, parts: CompletedPart[]): Promise<string | undefined> {
  const sorted = parts
    .map(({ PartNumber, ETag }) => ({ PartNumber, ETag }))
    .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  const completed = await ctx.client.send(
    new CompleteMultipartUploadCommand({ Bucket: ctx.bucket, Key: ctx.key, UploadId: uploadId, MultipartUpload: { Parts: sorted } }),
  );
  return completed.ETag;
}

export async function abortUpload(ctx: ObjectRef, uploadId: string, key = ctx.key): Promise<void> {
  try {
    await ctx.client.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId }));
  } catch (error) {
    if (!isNoSuchUpload(error)) throw error;
  }
}
