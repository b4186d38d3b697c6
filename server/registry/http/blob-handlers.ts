import type { BlobInfo } from "../blobs.js";
import { RegistryError } from "../errors.js";
import { parseDigest } from "../reference.js";
import type { RequestContext } from "./context.js";
import { apiVersionHeader, sendEmpty } from "./respond.js";

/** GET and HEAD of a blob, with single `Range` requests for resumable pulls. */
export async function getBlob(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const { req, res, services } = ctx;
  const digest = parseDigest(reference);
  const headers = {
    ...apiVersionHeader,
    "Docker-Content-Digest": digest.value,
    ETag: `"${digest.value}"`,
    "Accept-Ranges": "bytes",
    "Cache-Control": "max-age=31536000",
  };
  const mirrored = services.proxy?.match(name);
  let blob: BlobInfo;
  if (mirrored) {
    const answer = await services.proxy!.blob(mirrored, name, digest, res, { headOnly: ctx.headOnly, range: req.headers.range !== undefined, headers });
    if (answer.kind === "sent") return;
    if (answer.kind === "remote") {
      res.writeHead(200, { ...headers, "Content-Type": "application/octet-stream", "Content-Length": answer.size });
      res.end();
      return;
    }
    blob = answer.blob;
  } else {
    blob = await services.blobs.stat(name, digest);
  }
  if (services.redirect) {
    const url = await services.blobs.redirectURL(digest, ctx.headOnly ? "HEAD" : "GET");
    if (url) {
      res.writeHead(307, { ...headers, Location: url, "Content-Length": 0 });
      res.end();
      return;
    }
  }
  const range = parseRange(req.headers.range, blob.size);
  if (range === "unsatisfiable") {
    throw new RegistryError("RANGE_INVALID", { range: req.headers.range, size: blob.size }, "requested range not satisfiable", {
      headers: { "Content-Range": `bytes */${blob.size}` },
    });
  }
  const [start, end] = range ?? [0, blob.size];
  res.writeHead(range ? 206 : 200, {
    ...headers,
    "Content-Type": "application/octet-stream",
    "Content-Length": end - start,
    ...(range ? { "Content-Range": `bytes ${start}-${end - 1}/${blob.size}` } : {}),
  });
  if (ctx.headOnly || end === start) {
    res.end();
    return;
  }
  await services.blobs.send(digest, res, start, end);
  res.end();
}

export async function deleteBlob(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const digest = parseDigest(reference);
  if (!ctx.services.deleteEnabled()) throw deletesDisabled();
  await ctx.services.blobs.unlink(name, digest);
  sendEmpty(ctx.res, 202, { "Docker-Content-Digest": digest.value });
}

export function deletesDisabled(): RegistryError {
  return new RegistryError("UNSUPPORTED", undefined, "deletes are disabled on this registry (storage.delete.enabled)");
}

/**
 * A single `bytes=start-end` or `bytes=-suffix` range as [start, end) within `size`;
 * undefined for no (or an ignorable multi-) range, "unsatisfiable" for one outside the blob.
 * On an empty blob a non-zero suffix is satisfiable and means the whole blob (RFC 9110 14.1.1),
 * which no Content-Range can describe: undefined, so the empty blob is served with a 200.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return size === 0 ? undefined : [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  const last = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || last < start) return "unsatisfiable";
  return [start, last + 1];
}
