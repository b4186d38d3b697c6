import type { IncomingMessage } from "node:http";
import { RegistryError } from "../errors.js";

/** The request's Content-Length, validated; undefined when absent (chunked transfer). */
export function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers["content-length"];
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header)) throw new RegistryError("SIZE_INVALID", { contentLength: header }, "invalid Content-Length");
  return Number(header);
}

/** True when the request carries a body (a length above zero, or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = contentLength(req);
  return length !== undefined ? length > 0 : req.headers["transfer-encoding"] !== undefined;
}

/**
 * Reads a small body (a manifest) whole, refusing it as soon as it passes `limit` bytes,
 * before it is buffered.
 */
export async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new RegistryError("SIZE_INVALID", { limit }, `manifest larger than ${limit} bytes`, { status: 413 });
  const length = contentLength(req);
  if (length !== undefined && length > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Drains an unread body so the connection can be reused after an early answer. */
export function discard(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}
