import type { UploadToken } from "../upload-state.js";
import type { Upload, UploadLease } from "../uploads.js";
import { RegistryError } from "../errors.js";
import { parseDigest, parseName } from "../reference.js";
import { contentLength, discard, hasBody } from "./body.js";
import type { RequestContext } from "./context.js";
import { sendEmpty, type Headers } from "./respond.js";

/**
 * POST /v2/<name>/blobs/uploads/: a cross-repository mount, a monolithic upload (`?digest=`
 * with the body), or a new upload session.
 */
export async function startUpload(ctx: RequestContext, name: string): Promise<void> {
  const { req, res, query, services } = ctx;
  const mount = query.get("mount");
  const from = query.get("from");
  const digestParam = query.get("digest");
  if (mount !== null) {
    const digest = parseDigest(mount);
    if (from !== null) {
      const source = parseName(from);
      // A blob a running garbage collection means to delete is not mounted: the client uploads it.
      const mountable = (await services.blobs.isLinked(source, digest)) && !(await services.blobs.hidden(digest));
      if (mountable && (await services.blobs.reserve(digest)) !== undefined) {
        await services.blobs.link(name, digest);
        discard(req);
        return sendEmpty(res, 201, blobCreatedHeaders(ctx, name, digest.value));
      }
    }
  }
  if (digestParam !== null && mount === null) {
    const digest = parseDigest(digestParam);
    const upload = await services.uploads.start(name);
    try {
      const written = await services.uploads.append(upload, req, contentLength(req));
      await services.uploads.finish(written, digest);
    } catch (error) {
      await services.uploads.cancel(name, upload.id);
      throw error;
    }
    return sendEmpty(res, 201, blobCreatedHeaders(ctx, name, digest.value));
  }
  discard(req);
  const upload = await services.uploads.start(name);
  sendEmpty(res, 202, uploadHeaders(ctx, upload));
}

/**
 * PATCH: append a chunk or a streamed body. A Content-Range must start where the upload ends
 * (416 otherwise, with nothing appended and the upload as it was).
 */
export async function appendUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  const { req, res, services } = ctx;
  const length = contentLength(req);
  const range = req.headers["content-range"];
  const written = await withUpload(ctx, name, id, async (upload, lease) => {
    if (range !== undefined) {
      const match = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(range.trim());
      const start = Number(match?.[1]);
      const end = Number(match?.[2]);
      const outOfOrder = !match || start !== upload.offset || end < start || (length !== undefined && end - start + 1 !== length);
      if (outOfOrder) {
        throw new RegistryError(
          "BLOB_UPLOAD_INVALID",
          { contentRange: range, expectedStart: upload.offset },
          `chunk must start at byte ${upload.offset}`,
          { status: 416, headers: stringHeaders(uploadHeaders(ctx, upload)) },
        );
      }
    }
    return services.uploads.append(upload, req, length, lease);
  });
  sendEmpty(res, 202, uploadHeaders(ctx, written));
}

/** PUT ?digest=: the last chunk (optional) and the upload's completion. */
export async function finishUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  const { req, res, query, services } = ctx;
  const digestParam = query.get("digest");
  if (digestParam === null) {
    throw new RegistryError("DIGEST_INVALID", undefined, "the digest query parameter is required to complete an upload");
  }
  const digest = parseDigest(digestParam);
  await withUpload(ctx, name, id, async (upload, lease) => {
    const complete = hasBody(req) ? await services.uploads.append(upload, req, contentLength(req), lease) : upload;
    discard(req);
    await services.uploads.finish(complete, digest);
  });
  sendEmpty(res, 201, blobCreatedHeaders(ctx, name, digest.value));
}

export async function uploadStatus(ctx: RequestContext, name: string, id: string): Promise<void> {
  const upload = await loadUpload(ctx, name, id);
  sendEmpty(ctx.res, 204, uploadHeaders(ctx, upload));
}

export async function cancelUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  await withUpload(ctx, name, id, (upload) => ctx.services.uploads.cancel(name, upload.id));
  sendEmpty(ctx.res, 204);
}

/** The signed state of the URL, when present and valid; an invalid one is reported after an unknown upload. */
function verifiedState(ctx: RequestContext, name: string, id: string): { token?: UploadToken; invalid?: unknown } {
  const state = ctx.query.get("_state");
  try {
    return { token: state !== null ? ctx.services.signer.verify(state, name, id) : undefined };
  } catch (error) {
    return { invalid: error };
  }
}

/** The upload as storage has it, after checking the signed state of the URL. */
async function loadUpload(ctx: RequestContext, name: string, id: string): Promise<Upload> {
  const { token, invalid } = verifiedState(ctx, name, id);
  const upload = await ctx.services.uploads.get(name, id, token?.startedAt);
  if (invalid !== undefined) throw invalid;
  return upload;
}

/** Runs `work` as the upload's only writer on any instance (uploads.ts), after the state check. */
async function withUpload<T>(ctx: RequestContext, name: string, id: string, work: (upload: Upload, lease: UploadLease) => Promise<T>): Promise<T> {
  const { token, invalid } = verifiedState(ctx, name, id);
  if (invalid !== undefined) {
    await ctx.services.uploads.get(name, id);
    throw invalid;
  }
  return ctx.services.uploads.exclusive(name, id, token?.startedAt, work);
}

function uploadHeaders(ctx: RequestContext, upload: Upload): Headers {
  const state = ctx.services.signer.sign({ name: upload.name, id: upload.id, offset: upload.offset, startedAt: upload.startedAt });
  return {
    Location: ctx.services.url(`/v2/${upload.name}/blobs/uploads/${upload.id}?_state=${state}`, ctx.req),
    Range: `0-${Math.max(upload.offset - 1, 0)}`,
    "Docker-Upload-UUID": upload.id,
  };
}

function blobCreatedHeaders(ctx: RequestContext, name: string, digest: string): Headers {
  return { Location: ctx.services.url(`/v2/${name}/blobs/${digest}`, ctx.req), "Docker-Content-Digest": digest };
}

function stringHeaders(headers: Headers): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, String(value)]));
}
