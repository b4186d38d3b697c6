import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import { UpstreamRegistry } from "./upstream.js";

/** One upstream and the repositories it serves. */
export interface Mirror {
  /** Stable name for metrics and the console: the prefix, or "proxy" for distribution's section. */
  id: string;
  /** Repositories under `prefix/` mirror the upstream; "" (distribution's `proxy`): every one. */
  prefix: string;
  remoteurl: string;
  /** Cached content not pulled for this long expires; 0: never. */
  ttlMs: number;
  upstream: UpstreamRegistry;
}

export interface MirrorMatch {
  mirror: Mirror;
  /** The repository's name upstream: without the mirror's prefix. */
  remote: string;
}

/**
 * The configured upstreams: distribution's `proxy` (the whole registry is a cache) and Berth's
 * `mirrors` (namespaces next to pushable repositories). A repository under a mirror's prefix
 * belongs to that mirror; with `proxy` too, every other repository belongs to the proxy.
 */
export class Mirrors {
  private constructor(readonly list: Mirror[]) {}

  static fromConfig(config: Pick<Config, "proxy" | "mirrors">, logger: Logger): Mirrors | undefined {
    const mirrors: Mirror[] = (config.mirrors ?? []).map((m) => ({
      id: m.prefix,
      prefix: m.prefix,
      remoteurl: m.remoteurl,
      ttlMs: m.ttl,
      upstream: new UpstreamRegistry({ url: m.remoteurl, username: m.username, password: m.password, tls: m.tls, logger }),
    }));
    const proxy = config.proxy;
    if (proxy) {
      mirrors.push({
        id: "proxy",
        prefix: "",
        remoteurl: proxy.remoteurl,
        ttlMs: proxy.ttl,
        upstream: new UpstreamRegistry({ url: proxy.remoteurl, username: proxy.username, password: proxy.password, logger }),
      });
    }
    return mirrors.length > 0 ? new Mirrors(mirrors) : undefined;
  }

  match(name: string): MirrorMatch | undefined {
    for (const mirror of this.list) {
      if (mirror.prefix === "") return { mirror, remote: name };
      if (name.startsWith(`${mirror.prefix}/`)) return { mirror, remote: name.slice(mirror.prefix.length + 1) };
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.list.map((mirror) => mirror.upstream.close()));
  }
}
