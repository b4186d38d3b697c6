import type { Mirror } from "../proxy/mirrors.js";

/** An upstream of the pull-through cache as the console shows it (server/proxy/mirrors.ts). */
export interface PublicMirror {
  id: string;
  /** "": the whole registry (distribution's `proxy`). */
  prefix: string;
  remoteurl: string;
  /** 0: cached content never expires. */
  ttlMs: number;
}

/**
 * A mirror as the console may show it. The mirror object also holds the upstream client, and
 * with it the upstream's credentials: only these plain fields ever leave the server.
 */
export function publicMirror(mirror: Mirror): PublicMirror {
  return { id: mirror.id, prefix: mirror.prefix, remoteurl: withoutUserinfo(mirror.remoteurl), ttlMs: mirror.ttlMs };
}

/** `https://user:password@host` is a credential too; the URL is kept as written otherwise. */
function withoutUserinfo(remoteurl: string): string {
  const url = new URL(remoteurl);
  if (!url.username && !url.password) return remoteurl;
  url.username = "";
  url.password = "";
  return url.toString();
}
