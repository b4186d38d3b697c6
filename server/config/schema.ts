import { Cron } from "croner";
import { z } from "zod";
import { DsnError, parseMysqlDsn } from "../index/dsn.js";
import { isValidName } from "../registry/reference.js";
import { GiB, MiB, parseDuration, parseSize } from "./units.js";

/**
 * distribution's `config.yml`, version 0.1, as one typed zod schema, plus Berth's own sections.
 *
 * Parsing rules (documented in README.md next to this file):
 * - Every section of distribution's reference is typed; unknown keys pass through untouched (and
 *   are reported as warnings by `validateConfigText`), so a file written for Docker's registry
 *   loads unchanged.
 * - Scalars are coerced the way distribution ends up reading them, which matters for values that
 *   come from `REGISTRY_*` environment variables: booleans accept true/false/yes/no/on/off/1/0
 *   (any case), numbers and sizes accept numeric strings, strings accept numbers and booleans
 *   (`secret: 12345`).
 * - Durations (`300s`, `24h0m0s`) become milliseconds; a bare number is nanoseconds, as in Go.
 * - An empty value (`key:` with nothing after it) counts as absent for optional keys, except for
 *   storage drivers and auth methods where `inmemory:` means "this driver, no parameters".
 * - `storage: inmemory` and `auth: silly` (a bare name) mean a driver/method without parameters.
 *
 * Berth's own keys (not part of distribution):
 * - `etcd`: where LAIN keeps cluster settings; Berth reads the token auth settings from `authkey`.
 *   `{ endpoints: [url...], prefix?, authkey = "/lain/config/auth/registry", username?, password?,
 *   dialtimeout? }`.
 * - `console`: the admin console served next to `/v2/`. `{ enabled = true, statedir, indexmaxage?,
 *   index: { backend = sqlite | mysql, dsn? }, allowedpaths? }`.
 * - `gc`: garbage collection. `{ grace = 10m, hold = 2m, schedule? }`, used by `berth garbage-collect`, the console
 *   and (`schedule`, a cron expression) `berth serve`'s scheduled runs.
 * - `tokenserver`: Berth's built-in docker token server. `{ enabled = false, issuer = "auth server",
 *   service?, users? (htpasswd), admins = [], groups?, key?, certificate?, keydir?, expiration = 5m,
 *   rules? }` (server/auth/README.md).
 */

// ---------------------------------------------------------------------------------------------
// Introspection notes: the env override mapper and the unknown-key check walk this schema.

export interface SchemaNote {
  /**
   * A map in distribution (`Parameters`): environment variables may create keys the schema does
   * not know, exactly as distribution does for storage drivers and auth methods.
   */
  open?: boolean;
  /** Unknown keys here are reported elsewhere (as problems), not as "unknown key" warnings. */
  skipUnknownKeyWarnings?: boolean;
  /** A bare string `x` stands for `{ x: {} }` (`storage: inmemory`). */
  scalarAsKey?: boolean;
  /** distribution matches env names against Go field names; these differ from the YAML keys. */
  envAliases?: Record<string, string>;
  /** A duration leaf: parsed to milliseconds, printed back as a Go duration. */
  duration?: boolean;
}

const notes = new WeakMap<object, SchemaNote>();

function note<T extends z.ZodType>(schema: T, value: SchemaNote): T {
  notes.set(schema, value);
  return schema;
}

export function schemaNote(schema: unknown): SchemaNote | undefined {
  return typeof schema === "object" && schema !== null ? notes.get(schema) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Scalars

class Failure {
  constructor(readonly message: string) {}
}

export function describeValue(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
    case "number":
      return `the number ${value}`;
    case "boolean":
      return `the boolean ${value}`;
    case "object":
      return "a mapping";
    default:
      return typeof value;
  }
}

/** A leaf: `convert` turns the raw YAML value into T or explains why it cannot. */
function leaf<T>(what: string, convert: (value: unknown) => T | Failure) {
  return z.unknown().transform((value, ctx): T => {
    const result =
      value === undefined
        ? new Failure("is required")
        : value === null
          ? new Failure(`is empty; expected ${what}`)
          : convert(value);
    if (result instanceof Failure) {
      ctx.issues.push({ code: "custom", message: result.message, input: value });
      return z.NEVER;
    }
    return result;
  });
}

const boolWords = new Map<string, boolean>([
  ["true", true],
  ["t", true],
  ["yes", true],
  ["y", true],
  ["on", true],
  ["1", true],
  ["false", false],
  ["f", false],
  ["no", false],
  ["n", false],
  ["off", false],
  ["0", false],
]);

export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return boolWords.get(value.trim().toLowerCase());
  return undefined;
}

export const bool = () =>
  leaf("a boolean (true or false)", (value) => toBoolean(value) ?? new Failure(`expected a boolean (true or false), got ${describeValue(value)}`));

export function toText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export const str = () =>
  leaf("a string", (value) => toText(value) ?? new Failure(`expected a string, got ${describeValue(value)}`));

const nonEmptyStr = () =>
  leaf("a string", (value) => {
    const text = toText(value);
    if (text === undefined) return new Failure(`expected a string, got ${describeValue(value)}`);
    return text === "" ? new Failure("must not be empty") : text;
  });

interface Range {
  min?: number;
  max?: number;
}

function checkRange(n: number, range: Range, unit = ""): number | Failure {
  if (range.min !== undefined && n < range.min) return new Failure(`must be at least ${range.min}${unit} (got ${n}${unit})`);
  if (range.max !== undefined && n > range.max) return new Failure(`must be at most ${range.max}${unit} (got ${n}${unit})`);
  return n;
}

export const int = (range: Range = {}) =>
  leaf("a whole number", (value) => {
    const n = typeof value === "number" ? value : typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n)) return new Failure(`expected a whole number, got ${describeValue(value)}`);
    return checkRange(n, range);
  });

/** Bytes: a number, a numeric string, or a number with a unit (see `parseSize`). */
export const size = (range: Range = {}) =>
  leaf("a size in bytes", (value) => {
    if (typeof value !== "number" && typeof value !== "string") {
      return new Failure(`expected a size in bytes, got ${describeValue(value)}`);
    }
    try {
      return checkRange(parseSize(value), range, " bytes");
    } catch (error) {
      return new Failure((error as Error).message);
    }
  });

/** Milliseconds, from a Go duration string; a bare number is nanoseconds (Go's time.Duration). */
export const duration = (range: Range = { min: 0 }) =>
  note(leaf('a duration such as "300s" or "24h0m0s"', (value) => {
    let ms: number;
    if (typeof value === "number") ms = value / 1e6;
    else if (typeof value === "string") {
      try {
        ms = parseDuration(value);
      } catch (error) {
        return new Failure((error as Error).message);
      }
    } else return new Failure(`expected a duration such as "300s" or "24h0m0s", got ${describeValue(value)}`);
    if (range.min !== undefined && ms < range.min) return new Failure(`must not be negative (got ${JSON.stringify(value)})`);
    return ms;
  }), { duration: true });

/** One of `values`, case-insensitive; `aliases` map other accepted spellings onto them. */
function oneOf<const T extends string>(values: readonly T[], aliases: Record<string, T> = {}) {
  const list = values.join(", ");
  return leaf(`one of ${list}`, (value): T | Failure => {
    const text = toText(value);
    const key = text?.trim().toLowerCase();
    const found = values.find((v) => v.toLowerCase() === key) ?? (key !== undefined && Object.hasOwn(aliases, key) ? aliases[key] : undefined);
    return found ?? new Failure(`expected one of ${list}, got ${describeValue(value)}`);
  });
}

/** An absolute URL (`https://registry.example.com`). */
export const absoluteUrl = (protocols: readonly string[] = ["http:", "https:"]) =>
  leaf("an absolute URL", (value) => {
    const text = toText(value);
    if (text === undefined) return new Failure(`expected an absolute URL, got ${describeValue(value)}`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return new Failure(`must be an absolute URL such as "https://registry.example.com" (got ${JSON.stringify(text)})`);
    }
    if (!protocols.includes(url.protocol)) {
      return new Failure(`must be an ${protocols.map((p) => p.slice(0, -1)).join(" or ")} URL (got ${JSON.stringify(text)})`);
    }
    return text;
  });

/** A list of strings; a single string is accepted as a one-item list. */
const strList = () =>
  z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(str(), { error: (iss) => `expected a list of strings, got ${describeValue(iss.input)}` }));

/** HTTP headers as distribution writes them: `Name: [value, ...]` (a single string is accepted). */
const headers = () =>
  note(
    z.record(
      z.string(),
      z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(str(), { error: (iss) => `expected a list of header values, got ${describeValue(iss.input)}` })),
      { error: (iss) => `expected a mapping of header names to lists of values, got ${describeValue(iss.input)}` },
    ),
    { open: true },
  );

const anyMap = () =>
  note(z.record(z.string(), z.unknown(), { error: (iss) => `expected a mapping, got ${describeValue(iss.input)}` }), { open: true });

// ---------------------------------------------------------------------------------------------
// Structure helpers

function section<S extends z.core.$ZodLooseShape>(shape: S, options: SchemaNote = {}) {
  return note(z.looseObject(shape, { error: (iss) => `expected a mapping, got ${describeValue(iss.input)}` }), options);
}

/** Absent or empty (`key:`) → undefined. */
function optional<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.optional());
}

/** Absent → undefined; empty (`s3:`) → `{}` so the section's own required keys are reported. */
function optionalParams<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => (value === null ? {} : value), schema.optional());
}

/** Absent or empty → the section with all its defaults. */
function always<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => value ?? {}, schema);
}

function withDefault<S extends z.ZodType>(schema: S, value: z.output<S>) {
  return z.preprocess((v) => (v === null ? undefined : v), schema.default(value as never));
}

/** `name` → `{ name: {} }` (a driver or auth method written without parameters). */
function scalarAsKey(value: unknown): unknown {
  if (typeof value === "string" && value.trim() !== "") return { [value.trim()]: {} };
  return value ?? {};
}

// ---------------------------------------------------------------------------------------------
// log

export type LogLevel = "error" | "warn" | "info" | "debug";

/**
 * distribution accepts error, warn, info, debug. Logrus' other names are mapped (and reported as a
 * warning): panic and fatal → error, trace → debug, warning → warn.
 */
export const logLevelAliases: Record<string, LogLevel> = { panic: "error", fatal: "error", trace: "debug", warning: "warn" };
const logLevel = () => oneOf(["error", "warn", "info", "debug"] as const, logLevelAliases);

const logHook = section({
  disabled: optional(bool()),
  type: optional(str()),
  levels: optional(strList()),
  options: optional(anyMap()),
}, { envAliases: { MAILOPTIONS: "options" } });

export const logSchema = section({
  level: withDefault(logLevel(), "info"),
  formatter: withDefault(oneOf(["text", "json", "logstash"] as const), "text"),
  fields: optional(anyMap()),
  accesslog: optional(section({ disabled: optional(bool()) })),
  hooks: optional(z.array(logHook)),
  reportcaller: optional(bool()),
});

// ---------------------------------------------------------------------------------------------
// storage

const filesystemDriver = section(
  {
    rootdirectory: withDefault(nonEmptyStr(), "/var/lib/registry"),
    maxthreads: optional(int({ min: 1 })),
  },
  { open: true },
);

const s3Driver = section(
  {
    accesskey: optional(str()),
    secretkey: optional(str()),
    region: nonEmptyStr(),
    regionendpoint: optional(str()),
    forcepathstyle: optional(bool()),
    bucket: nonEmptyStr(),
    encrypt: optional(bool()),
    keyid: optional(str()),
    secure: optional(bool()),
    skipverify: optional(bool()),
    v4auth: optional(bool()),
    chunksize: optional(size({ min: 5 * MiB, max: 5 * GiB })),
    multipartcopychunksize: optional(size({ min: 5 * MiB, max: 5 * GiB })),
    multipartcopymaxconcurrency: optional(int({ min: 1 })),
    multipartcopythresholdsize: optional(size({ min: 0, max: 5 * GiB })),
    rootdirectory: optional(str()),
    storageclass: optional(str()),
    useragent: optional(str()),
    usedualstack: optional(bool()),
    accelerate: optional(bool()),
    objectacl: optional(str()),
    loglevel: optional(str()),
  },
  { open: true },
);

/** `internal` is a boolean in distribution's driver, but LAIN's examples put an endpoint there. */
const boolOrText = () =>
  leaf("a boolean or a string", (value) => toBoolean(value) ?? toText(value) ?? new Failure(`expected a boolean or a string, got ${describeValue(value)}`));

const ossDriver = section(
  {
    accesskeyid: nonEmptyStr(),
    accesskeysecret: nonEmptyStr(),
    region: nonEmptyStr(),
    endpoint: optional(str()),
    internal: optional(boolOrText()),
    bucket: nonEmptyStr(),
    encrypt: optional(bool()),
    encryptionkeyid: optional(str()),
    secure: optional(bool()),
    chunksize: optional(size({ min: 5 * MiB })),
    rootdirectory: optional(str()),
  },
  { open: true },
);

/** Drivers Berth has a typed schema for. */
export const typedStorageDrivers = ["filesystem", "inmemory", "s3", "oss"] as const;
/** Drivers distribution has (or had) that Berth accepts in a file but does not implement. */
export const untypedStorageDrivers = ["azure", "gcs", "swift", "rados"] as const;
export const knownStorageDrivers: readonly string[] = [...typedStorageDrivers, ...untypedStorageDrivers];

export const storageSchema = z.preprocess(
    scalarAsKey,
    section(
      {
        filesystem: optionalParams(filesystemDriver),
        inmemory: optionalParams(anyMap()),
        s3: optionalParams(s3Driver),
        oss: optionalParams(ossDriver),
        azure: optionalParams(anyMap()),
        gcs: optionalParams(anyMap()),
        swift: optionalParams(anyMap()),
        rados: optionalParams(anyMap()),
        delete: optional(section({ enabled: optional(bool()) }, { open: true })),
        cache: optional(
          section(
            {
              blobdescriptor: optional(oneOf(["inmemory", "redis"] as const)),
              blobdescriptorsize: optional(int({ min: 1 })),
              layerinfo: optional(oneOf(["inmemory", "redis"] as const)),
            },
            { open: true },
          ),
        ),
        maintenance: optional(
          section(
            {
              uploadpurging: optional(
                section(
                  { enabled: optional(bool()), age: optional(duration()), interval: optional(duration()), dryrun: optional(bool()) },
                  { open: true },
                ),
              ),
              readonly: optional(section({ enabled: optional(bool()) }, { open: true })),
            },
            { open: true },
          ),
        ),
        redirect: optional(section({ disable: optional(bool()) }, { open: true })),
        tag: optional(section({ concurrencylimit: optional(int({ min: 1 })) }, { open: true })),
      },
      { open: true, skipUnknownKeyWarnings: true, scalarAsKey: true },
    ),
);

/** Keys of `storage` that configure something other than the driver. */
export const storageOptionKeys = new Set(["delete", "maintenance", "redirect", "cache", "tag"]);

// ---------------------------------------------------------------------------------------------
// auth

export const knownAuthMethods = ["silly", "htpasswd", "token"] as const;

export const authSchema = z.preprocess(
  scalarAsKey,
  section(
    {
      silly: optionalParams(section({ realm: nonEmptyStr(), service: nonEmptyStr() }, { open: true })),
      htpasswd: optionalParams(section({ realm: nonEmptyStr(), path: nonEmptyStr() }, { open: true })),
      token: optionalParams(
        section(
          {
            realm: nonEmptyStr(),
            service: nonEmptyStr(),
            issuer: nonEmptyStr(),
            rootcertbundle: optional(nonEmptyStr()),
            autoredirect: optional(bool()),
            autoredirectpath: optional(str()),
            jwks: optional(nonEmptyStr()),
            signingalgorithms: optional(strList()),
          },
          { open: true },
        ),
      ),
    },
    { open: true, skipUnknownKeyWarnings: true, scalarAsKey: true },
  ),
);

// ---------------------------------------------------------------------------------------------
// http

export const tlsVersions = ["tls1.0", "tls1.1", "tls1.2", "tls1.3"] as const;

export const httpSchema = section({
  addr: withDefault(str(), ":5000"),
  net: withDefault(oneOf(["tcp", "tcp4", "tcp6", "unix"] as const), "tcp"),
  prefix: optional(
    str().refine((prefix) => prefix.startsWith("/") && prefix.endsWith("/"), {
      error: 'must start and end with "/" (e.g. "/my/nested/registry/")',
    }),
  ),
  host: optional(absoluteUrl()),
  secret: optional(str()),
  relativeurls: optional(bool()),
  /**
   * Berth's own: the header a proxy in front of Berth sets to the client's address
   * (`X-Forwarded-For`, `X-Real-IP`), for the login rate limits. Absent: the TCP peer's address
   * (a client could write any header itself).
   */
  clientaddressheader: optional(
    nonEmptyStr().refine((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name), { error: "must be an HTTP header name such as X-Forwarded-For" }),
  ),
  draintimeout: optional(duration()),
  tls: optional(
    section(
      {
        certificate: optional(nonEmptyStr()),
        key: optional(nonEmptyStr()),
        clientcas: optional(strList()),
        minimumtls: optional(oneOf(tlsVersions)),
        ciphersuites: optional(strList()),
        letsencrypt: optional(
          section({
            cachefile: optional(nonEmptyStr()),
            email: optional(nonEmptyStr()),
            hosts: optional(strList()),
            directoryurl: optional(absoluteUrl()),
          }),
        ),
      },
      { envAliases: { CLIENTCAS: "clientcas" } },
    ),
  ),
  headers: optional(headers()),
  debug: optional(
    section({
      addr: optional(str()),
      prometheus: optional(section({ enabled: optional(bool()), path: optional(str()) })),
    }),
  ),
  http2: optional(section({ disabled: optional(bool()) })),
  h2c: optional(section({ enabled: optional(bool()) })),
});

// ---------------------------------------------------------------------------------------------
// the rest of distribution's sections

const notificationEndpoint = section({
  name: nonEmptyStr(),
  disabled: optional(bool()),
  url: absoluteUrl(),
  headers: optional(headers()),
  timeout: optional(duration()),
  threshold: optional(int({ min: 0 })),
  backoff: optional(duration()),
  ignoredmediatypes: optional(strList()),
  ignore: optional(section({ mediatypes: optional(strList()), actions: optional(strList()) })),
});

export const notificationsSchema = section(
  {
    events: optional(section({ includereferences: optional(bool()) })),
    endpoints: optional(z.array(notificationEndpoint, { error: (iss) => `expected a list of endpoints, got ${describeValue(iss.input)}` })),
  },
  { envAliases: { EVENTCONFIG: "events" } },
);

export const redisSchema = section({
  addr: optional(str()),
  addrs: optional(strList()),
  username: optional(str()),
  password: optional(str()),
  db: optional(int({ min: 0 })),
  dialtimeout: optional(duration()),
  readtimeout: optional(duration()),
  writetimeout: optional(duration()),
  tls: optional(section({ enabled: optional(bool()) })),
  pool: optional(section({ maxidle: optional(int({ min: 0 })), maxactive: optional(int({ min: 0 })), idletimeout: optional(duration()) })),
});

const checkTiming = { interval: optional(duration()), threshold: optional(int({ min: 0 })) };

export const healthSchema = section(
  {
    storagedriver: optional(section({ enabled: optional(bool()), ...checkTiming })),
    file: optional(z.array(section({ file: nonEmptyStr(), ...checkTiming }))),
    http: optional(
      z.array(
        section({ uri: absoluteUrl(), headers: optional(headers()), statuscode: optional(int({ min: 100, max: 599 })), timeout: optional(duration()), ...checkTiming }),
      ),
    ),
    tcp: optional(z.array(section({ addr: nonEmptyStr(), timeout: optional(duration()), ...checkTiming }))),
  },
  { envAliases: { FILECHECKERS: "file", HTTPCHECKERS: "http", TCPCHECKERS: "tcp" } },
);

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

export const compatibilitySchema = section({
  schema1: optional(
    section(
      {
        signingkeyfile: optional(str()),
        enabled: optional(bool()),
        /** distribution 2.4–2.6 (LAIN's examples); ignored by later versions. */
        disablesignaturestore: optional(bool()),
      },
      { envAliases: { TRUSTKEY: "signingkeyfile" } },
    ),
  ),
});

export const validationSchema = section({
  enabled: optional(bool()),
  disabled: optional(bool()),
  manifests: optional(section({ urls: optional(section({ allow: optional(strList()), deny: optional(strList()) })) })),
});

const middlewareList = () =>
  optional(
    z.array(section({ name: nonEmptyStr(), disabled: optional(bool()), options: optional(anyMap()) }), {
      error: (iss) => `expected a list of middlewares, got ${describeValue(iss.input)}`,
    }),
  );

export const middlewareSchema = section({ registry: middlewareList(), repository: middlewareList(), storage: middlewareList() }, { open: true });

export const reportingSchema = section({
  bugsnag: optional(section({ apikey: optional(str()), releasestage: optional(str()), endpoint: optional(str()) })),
  newrelic: optional(section({ licensekey: optional(str()), name: optional(str()), verbose: optional(bool()) })),
});

export const catalogSchema = section({ maxentries: optional(int()) });

export const policySchema = section({ repository: optional(section({ classes: optional(strList()) })) });

// ---------------------------------------------------------------------------------------------
// Berth's own sections

/** `etcd.endpoints` as a list, a single URL, or a comma-separated string (handy in env vars). */
const etcdEndpoints = z.preprocess(
  (value) => (typeof value === "string" ? value.split(",").map((s) => s.trim()).filter((s) => s !== "") : value),
  z
    .array(absoluteUrl(), { error: (iss) => (iss.input === undefined ? "is required" : `expected a list of URLs, got ${describeValue(iss.input)}`) })
    .min(1, { error: "needs at least one endpoint URL (e.g. http://127.0.0.1:2379)" }),
);

export const defaultEtcdAuthKey = "/lain/config/auth/registry";

export const etcdSchema = section({
  endpoints: etcdEndpoints,
  prefix: optional(str()),
  authkey: withDefault(nonEmptyStr(), defaultEtcdAuthKey),
  username: optional(str()),
  password: optional(str()),
  dialtimeout: optional(duration()),
});

export const indexBackends = ["sqlite", "mysql"] as const;

/**
 * `console.index`: where the metadata index lives. `sqlite` (default) is a file in
 * `console.statedir`, one per instance; `mysql` is a MySQL/MariaDB database that several
 * instances share, at `dsn` (secret: it holds the password). See server/index/README.md.
 */
export const consoleIndexSchema = section({
  backend: withDefault(oneOf(indexBackends, { mariadb: "mysql" }), "sqlite"),
  dsn: optional(
    leaf("a MySQL DSN", (value) => {
      const text = toText(value);
      if (text === undefined) return new Failure(`expected a string, got ${describeValue(value)}`);
      try {
        parseMysqlDsn(text);
      } catch (error) {
        // The message never echoes the DSN: it holds the password.
        if (error instanceof DsnError) return new Failure(`is not a MySQL DSN: ${error.message}`);
        throw error;
      }
      return text;
    }),
  ),
}).superRefine((index, ctx) => {
  if (index.backend === "mysql" && index.dsn === undefined) {
    ctx.addIssue({ code: "custom", path: ["dsn"], message: "is required with backend: mysql (mysql://user:password@host:3306/database)" });
  }
});

export const consoleSchema = section({
  enabled: withDefault(bool(), true),
  /** Local state of this instance (the console's metadata index), never on the storage driver. */
  statedir: withDefault(nonEmptyStr(), "./data/berth-state"),
  /** Rebuild the metadata index from storage when its last rebuild is older than this. */
  indexmaxage: optional(duration()),
  index: always(consoleIndexSchema),
  /**
   * Directories a configuration saved or validated in the console may name (server/config/paths.ts);
   * absent: the config file's directory, the storage root and `statedir`.
   */
  allowedpaths: optional(strList()),
});

/**
 * `tokenserver`: Berth as its own docker token server (the LAIN console's role), answering
 * `GET /api/v1/authorize/registry/`. See server/auth/README.md.
 */
export const tokenServerActions = ["pull", "push", "delete", "catalog", "*"] as const;

const tokenServerRule = section({
  /** User names; "*" is every authenticated user. */
  users: optional(strList()),
  /** Names of `tokenserver.groups`. */
  groups: optional(strList()),
  /** Also applies to requests without credentials (and so to everyone). */
  anonymous: optional(bool()),
  /** Glob patterns: `*` within one path component, `**` across components, `?` one character. */
  repositories: withDefault(strList(), ["**"]),
  actions: z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(oneOf(tokenServerActions), { error: (iss) => `expected a list of actions (${tokenServerActions.join(", ")}), got ${describeValue(iss.input)}` }),
  ),
});

export const tokenServerSchema = section({
  enabled: withDefault(bool(), false),
  issuer: withDefault(nonEmptyStr(), "auth server"),
  service: optional(nonEmptyStr()),
  /** htpasswd file (bcrypt entries only). */
  users: optional(nonEmptyStr()),
  admins: withDefault(strList(), []),
  groups: optional(
    note(
      z.record(z.string(), strList(), { error: (iss) => `expected a mapping of group names to lists of users, got ${describeValue(iss.input)}` }),
      { open: true },
    ),
  ),
  /** PEM private key and certificate; both absent: generated once into `keydir`. */
  key: optional(nonEmptyStr()),
  certificate: optional(nonEmptyStr()),
  keydir: optional(nonEmptyStr()),
  expiration: withDefault(duration(), 5 * 60_000),
  /** Absent: every authenticated user may pull everything. Admins may always do everything. */
  rules: optional(z.array(tokenServerRule, { error: (iss) => `expected a list of rules, got ${describeValue(iss.input)}` })),
});

/** `gc.hold` when the file has none: a push's HEADs and its manifest are rarely minutes apart. */
export const defaultGcHoldMs = 2 * 60_000;

/** `gc.grace` when the file has none: uploads and pushes of the last minutes outlive a collection. */
export const defaultGcGraceMs = 10 * 60_000;

const cronFields = "minute hour day-of-month month day-of-week";

/**
 * A 5-field cron expression (or a croner nickname such as `@daily`), checked at load: a typo in a
 * schedule would otherwise only show as collections that never happen.
 */
function cronExpression() {
  return leaf(`a cron expression (${cronFields}) such as "0 3 * * *"`, (value) => {
    const text = toText(value)?.trim();
    if (text === undefined) return new Failure(`expected a cron expression (${cronFields}) such as "0 3 * * *", got ${describeValue(value)}`);
    if (text === "") return new Failure("must not be empty; leave gc.schedule out for no scheduled runs");
    const fields = text.split(/\s+/).length;
    if (!text.startsWith("@") && fields !== 5) {
      return new Failure(`expected a cron expression of 5 fields (${cronFields}) such as "0 3 * * *", got ${fields} in ${JSON.stringify(text)}`);
    }
    let next: Date | null;
    try {
      next = new Cron(text, { mode: "5-part" }).nextRun();
    } catch (error) {
      return new Failure(`${JSON.stringify(text)} is not a valid cron expression (${cronFields}): ${(error as Error).message.replace(/^CronPattern: /, "")}`);
    }
    return next ? text : new Failure(`${JSON.stringify(text)} matches no date to come, so nothing would ever run`);
  });
}

/**
 * `gc`: garbage collection, one setting for `berth garbage-collect` (whose `--grace` overrides it)
 * and the console (where a run may override it). `grace`: unreferenced blobs (and, deleting
 * untagged manifests, revisions) modified less than this long ago are kept: a push writes its
 * blobs before the manifest that references them.
 */
export const gcSchema = section({
  grace: withDefault(duration(), defaultGcGraceMs),
  /**
   * Online collection: how long pushes that checked a blob before the run published it as
   * garbage have to push the manifest that uses it (server/gc/README.md).
   */
  hold: withDefault(duration(), defaultGcHoldMs),
  /**
   * When `berth serve` collects by itself: a 5-field cron expression in the process's time zone
   * (server/gc/schedule.ts). Absent: only when asked.
   */
  schedule: optional(cronExpression()),
});

// ---------------------------------------------------------------------------------------------

const version = leaf('"0.1"', (value) => {
  const text = toText(value);
  if (text === "0.1") return "0.1" as const;
  return new Failure(`unsupported version ${JSON.stringify(text ?? value)}: Berth reads distribution's configuration version 0.1`);
});

export const configSchema = section({
  version,
  log: always(logSchema),
  /** Deprecated by distribution in favour of `log.level`; still accepted. */
  loglevel: optional(logLevel()),
  storage: storageSchema,
  auth: optional(authSchema),
  middleware: optional(middlewareSchema),
  reporting: optional(reportingSchema),
  http: always(httpSchema),
  notifications: optional(notificationsSchema),
  redis: optional(redisSchema),
  health: optional(healthSchema),
  proxy: optional(proxySchema),
  mirrors: optional(mirrorsSchema),
  compatibility: optional(compatibilitySchema),
  validation: optional(validationSchema),
  catalog: optional(catalogSchema),
  policy: optional(policySchema),
  etcd: optional(etcdSchema),
  console: always(consoleSchema),
  tokenserver: optional(tokenServerSchema),
  gc: always(gcSchema),
});

export type Config = z.output<typeof configSchema>;
export type StorageConfig = Config["storage"];
export type HttpConfig = Config["http"];
export type AuthConfig = NonNullable<Config["auth"]>;
export type EtcdConfig = NonNullable<Config["etcd"]>;
export type TokenServerConfig = NonNullable<Config["tokenserver"]>;
