import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

const hostPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;

/**
 * The scheme and host a client reached Berth at, for the absolute URLs distribution hands out
 * when neither `http.host` nor `http.relativeurls` is set: the RFC 7239 `Forwarded` header when
 * present, else `X-Forwarded-Proto` and the first `X-Forwarded-Host`, else the connection's
 * scheme and the `Host` header. A value that is not a plain scheme or host is ignored, so no
 * header can put anything else into a Location. Undefined when no host is known at all.
 */
export function requestOrigin(req: IncomingMessage): string | undefined {
  let scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  let host = req.headers.host;
  const forwarded = single(req.headers.forwarded);
  if (forwarded !== undefined) {
    const fields = forwardedFields(forwarded);
    scheme = fields.get("proto") ?? scheme;
    host = fields.get("host") ?? host;
  } else {
    scheme = single(req.headers["x-forwarded-proto"])?.trim() || scheme;
    host = single(req.headers["x-forwarded-host"])?.split(",")[0]?.trim() || host;
  }
  scheme = scheme.toLowerCase();
  if (scheme !== "http" && scheme !== "https") scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  if (host === undefined || !hostPattern.test(host)) host = req.headers.host;
  if (host === undefined || !hostPattern.test(host)) return undefined;
  return `${scheme}://${host}`;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The first element of a `Forwarded` header (the proxy nearest the client), names lower-cased. */
function forwardedFields(header: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const pair of (header.split(",")[0] ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at < 0) continue;
    const value = pair.slice(at + 1).trim().replace(/^"(.*)"$/, "$1");
    fields.set(pair.slice(0, at).trim().toLowerCase(), value);
  }
  return fields;
}
