import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/**
 * Who is asking, for the login rate limits: the TCP peer's address, or — only when
 * `http.clientaddressheader` names the header a proxy in front of Berth sets — the last address in
 * that header. The last one is what that proxy added; anything before it is whatever the client
 * sent, so trusting it (or the header without a proxy that sets it) would let a guesser pick a
 * fresh address per attempt. A value that is no IP address counts as absent.
 */
export function clientAddress(req: IncomingMessage, header: string | undefined): string {
  const peer = req.socket.remoteAddress ?? "local";
  if (header === undefined) return peer;
  const value = req.headers[header.toLowerCase()];
  const last = (Array.isArray(value) ? value.join(",") : value)?.split(",").pop()?.trim();
  return last !== undefined && isIP(last) !== 0 ? last : peer;
}
