import { z } from "zod";
import { isValidName } from "../../registry/reference.js";
import { absoluteUrl, bool, describeValue, duration, Failure, leaf, nonEmptyStr, str, toText } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

/** `proxy.ttl` when the file has none (distribution's default): cached content unused this long expires. */
export const defaultProxyTtlMs = 7 * 24 * 3_600_000;

/**
 * `proxy`: distribution's pull-through cache, the whole registry mirroring `remoteurl`
 * (server/proxy/README.md). `ttl: 0` keeps cached content until it is evicted by hand.
 */
export const proxySchema = section({
  remoteurl: absoluteUrl(),
  username: optional(str()),
  password: optional(str()),
  ttl: withDefault(duration(), defaultProxyTtlMs),
});

const mirrorTlsSchema = section({
  /** PEM file of the CA (or CAs) that signed the upstream's certificate, besides the system's. */
  ca: optional(nonEmptyStr()),
  /** Skip verifying the upstream's certificate (tests, never production). */
  insecure: withDefault(bool(), false),
});

/**
 * `mirrors` (Berth's own): pull-through caches by namespace next to pushable repositories, e.g.
 * `hub/library/nginx` served from Docker Hub's `library/nginx`.
 */
export const mirrorSchema = section({
  /** The first path component(s) of the repositories this upstream serves, e.g. `hub`. */
  prefix: leaf("a repository name prefix such as hub or mirrors/ghcr", (value) => {
    const text = toText(value);
    if (text !== undefined && isValidName(text)) return text;
    return new Failure(`expected a repository name prefix such as hub or mirrors/ghcr, got ${describeValue(value)}`);
  }),
  remoteurl: absoluteUrl(),
  username: optional(str()),
  password: optional(str()),
  ttl: withDefault(duration(), defaultProxyTtlMs),
  tls: optional(mirrorTlsSchema),
});

export const mirrorsSchema = z
  .array(mirrorSchema, { error: (iss) => `expected a list of mirrors (prefix, remoteurl, ...), got ${describeValue(iss.input)}` })
  .superRefine((mirrors, ctx) => {
    const covers = (a: string, b: string) => a === b || b.startsWith(`${a}/`);
    mirrors.forEach((mirror, j) => {
      const i = mirrors.findIndex((other, k) => k < j && (covers(other.prefix, mirror.prefix) || covers(mirror.prefix, other.prefix)));
      if (i >= 0) ctx.addIssue({ code: "custom", path: [j, "prefix"], message: `overlaps the prefix ${mirrors[i]!.prefix} of mirror ${i}: a repository must have one upstream` });
    });
  });
