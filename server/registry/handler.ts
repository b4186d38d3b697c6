import type { BlobDescriptorCache } from "./blob-cache/cache.js";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { CheckState, HealthMonitor } from "../health/monitor.js";
import type { Logger } from "../log.js";
import { PullThroughCache } from "../proxy/cache.js";
import type { Mirrors } from "../proxy/mirrors.js";
import { scopesFor, type AccessController } from "./access.js";
import { BlobStore } from "./blobs.js";
import { RegistryError } from "./errors.js";
import { RegistryEvents } from "./events.js";
import { GcGuard } from "./gc-guard.js";
import { deleteBlob, getBlob } from "./http/blob-handlers.js";
import type { RequestContext, Services } from "./http/context.js";
import { listCatalog, listReferrers, listTags } from "./http/listing-handlers.js";
import { deleteManifest, getManifest, putManifest } from "./http/manifest-handlers.js";
import { requestOrigin } from "./http/origin.js";
import { sendError, sendJSON } from "./http/respond.js";
import { matchRoute, type Route } from "./http/router.js";
import { appendUpload, cancelUpload, finishUpload, startUpload, uploadStatus } from "./http/upload-handlers.js";
import type { ManifestRules } from "./manifest-validation.js";
import { ManifestStore } from "./manifests.js";
import { RepositoryList } from "./repositories.js";
import type { StorageDriver } from "./storage/driver.js";
import { TagStore } from "./tags.js";
import { UploadSigner } from "./upload-state.js";
import { UploadStore } from "./uploads.js";

export interface RegistryOptions {
  driver: StorageDriver;
  /** `storage.cache.blobdescriptor`, with `driver` wrapped by `invalidatingDriver` (blob-cache/cache.ts). */
  blobCache?: BlobDescriptorCache;
  logger: Logger;
  /** `storage.delete.enabled` (distribution's default: false); a function is read per request. */
  deleteEnabled?: boolean | (() => boolean);
  /** `storage.redirect.disable` negated. */
  redirect?: boolean;
  /**
   * What goes before "/v2/" in the URLs Berth hands out: `http.host` (absolute URLs behind a
   * proxy) and `http.prefix`, e.g. "https://registry.example.com/mirror". Empty: relative URLs.
   */
  urlBase?: string;
  /**
   * Without `http.host`: Location URLs absolute, from the scheme and host the request came to
   * (distribution's default); false (the default here) or `http.relativeurls`: relative.
   */
  requestUrls?: boolean;
  /** `http.secret`; a random one (valid for this process only) when absent. */
  secret?: string;
  /** `storage.tag.concurrencylimit`: tag links read at once when a manifest is deleted by digest. */
  tagLookupConcurrency?: number;
  /** `http.headers`: added to every API response (read per request, so a reload applies them). */
  headers?: () => Record<string, string[]> | undefined;
  /**
   * The access controller in force, read per request: etcd can switch token auth on and off
   * while Berth runs. None: everyone may do everything (distribution without `auth`).
   */
  access?: () => AccessController | undefined;
  /** Called once per request when its connection side is done (answered or aborted). */
  onRequest?: (record: RequestRecord) => void;
  /** Counts writes in flight, so maintenance can wait for them after switching to read-only. */
  writes?: { beginWrite(): () => void };
  /** Consulted on every write: `storage.maintenance.readonly.enabled`, switchable at run time. */
  readOnly?: () => boolean;
  /** `proxy` and `mirrors`: repositories served as a pull-through cache of an upstream. */
  mirrors?: Mirrors;
  /**
   * The `health` checks: while one fails, every API request is answered 503 UNAVAILABLE, as
   * distribution does; their states are part of `health()`.
   */
  health?: Pick<HealthMonitor, "failing" | "states">;
  /** The `validation` section: what pushed manifests must satisfy (default: distribution's). */
  manifestRules?: ManifestRules;
}

/** One finished API request, for the access log and metrics. */
export interface RequestRecord {
  method: string;
  path: string;
  /** The endpoint (`manifest`, `blob`, `upload`…), or "unknown" when the path matched none. */
  route: string;
  status: number;
  durationMs: number;
  /** Bytes read from and written to the connection for this request, headers included. */
  bytesIn: number;
  bytesOut: number;
  remote: string;
  userAgent: string;
}

export interface RegistryHealth {
  ok: boolean;
  storage: { driver: string; ok: boolean; error?: string };
  /** The configured `health` checks (none: empty). */
  checks: CheckState[];
  /** distribution's /debug/health body: each failing check's name and error. */
  failing: Record<string, string>;
}

export interface Registry {
  /** Plain Node handler for everything under `/v2/`. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  health(): Promise<RegistryHealth>;
  /** Stops the background work (following garbage collections); the handler still answers. */
  close(): Promise<void>;
  services: Services;
}

type Method = "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
type RouteTable = {
  [K in Route["kind"]]: Partial<Record<Method, (ctx: RequestContext, route: Extract<Route, { kind: K }>) => Promise<void>>>;
};

const writeMethods = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Method table per endpoint; HEAD is served by GET without a body. */
const routes: RouteTable = {
  base: { GET: async (ctx) => sendJSON(ctx.res, 200, {}, {}, ctx.headOnly) },
  catalog: { GET: (ctx) => listCatalog(ctx) },
  tags: { GET: (ctx, r) => listTags(ctx, r.name) },
  manifest: {
    GET: (ctx, r) => getManifest(ctx, r.name, r.reference),
    PUT: (ctx, r) => putManifest(ctx, r.name, r.reference),
    DELETE: (ctx, r) => deleteManifest(ctx, r.name, r.reference),
  },
  blob: {
    GET: (ctx, r) => getBlob(ctx, r.name, r.digest),
    DELETE: (ctx, r) => deleteBlob(ctx, r.name, r.digest),
  },
  uploads: { POST: (ctx, r) => startUpload(ctx, r.name) },
  upload: {
    GET: (ctx, r) => uploadStatus(ctx, r.name, r.id),
    PATCH: (ctx, r) => appendUpload(ctx, r.name, r.id),
    PUT: (ctx, r) => finishUpload(ctx, r.name, r.id),
    DELETE: (ctx, r) => cancelUpload(ctx, r.name, r.id),
  },
  referrers: { GET: (ctx, r) => listReferrers(ctx, r.name, r.digest) },
};

export function createRegistry(options: RegistryOptions): Registry {
  const { driver, logger } = options;
  const gc = new GcGuard(driver);
  // From the start, so that a collection beginning now knows this instance follows it.
  void gc.follow();
  const blobs = new BlobStore(driver, gc, options.blobCache);
  const events = new RegistryEvents();
  const tags = new TagStore(driver, events, options.tagLookupConcurrency);
  const repositories = new RepositoryList(driver, logger);
  const services: Services = {
    blobs,
    tags,
    events,
    uploads: new UploadStore(driver, blobs),
    manifests: new ManifestStore(driver, blobs, tags, events, repositories, options.manifestRules),
    repositories,
    signer: new UploadSigner(options.secret ? Buffer.from(options.secret) : randomBytes(32)),
    logger,
    deleteEnabled: typeof options.deleteEnabled === "function" ? options.deleteEnabled : () => options.deleteEnabled === true,
    url: (path, req) => {
      const origin = options.requestUrls && req ? requestOrigin(req) : undefined;
      return `${origin ?? ""}${options.urlBase ?? ""}${path}`;
    },
    redirect: options.redirect ?? false,
  };
  if (options.mirrors) services.proxy = new PullThroughCache(options.mirrors, services, driver);
  if (!options.secret) {
    logger.warn("http.secret is not set: upload URLs are signed with a random secret and cannot be continued by another instance");
  }
  const readOnly = options.readOnly ?? (() => false);

  async function dispatch(req: IncomingMessage, res: ServerResponse, seen: { route: string }): Promise<void> {
    // Before anything else, as distribution's health handler wraps its whole API.
    if (options.health && Object.keys(options.health.failing()).length > 0) {
      throw new RegistryError("UNAVAILABLE", "health check failed: please see /debug/health");
    }
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    const query = new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1));
    const route = matchRoute(path);
    // The spec has no code of its own for an unknown endpoint; UNSUPPORTED ("missing
    // implementation") is the one that fits, with the 404 that HTTP gives a path nothing serves.
    if (!route) throw new RegistryError("UNSUPPORTED", { path }, "no such endpoint in the registry API", { status: 404 });
    seen.route = route.kind;
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    const handlers: Partial<Record<Method, (ctx: RequestContext, route: Route) => Promise<void>>> = routes[route.kind] as never;
    const handler = handlers[method as Method];
    if (!handler) {
      const allowed = Object.keys(handlers).flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]));
      throw new RegistryError("UNSUPPORTED", { method: req.method }, `${req.method} is not supported here`, {
        headers: { Allow: allowed.join(", ") },
      });
    }
    const controller = options.access?.();
    if (controller) {
      const decision = await controller.authorize(req, scopesFor(route, method, query));
      if (!decision.ok) throw decision.error;
    }
    const ctx = { req, res, query, services, headOnly: req.method === "HEAD" };
    if (!writeMethods.has(method)) return handler(ctx, route);
    const repository = route.kind === "base" || route.kind === "catalog" ? undefined : route.name;
    const mirrored = repository === undefined ? undefined : services.proxy?.match(repository);
    if (mirrored) {
      throw new RegistryError("UNSUPPORTED", { repository }, `${repository} is a pull-through cache of ${mirrored.mirror.remoteurl}: it takes no pushes or deletes`, {
        headers: { Allow: "GET, HEAD" },
      });
    }
    // Counted before the read-only check, so a GC switching to read-only right after the check
    // still waits for this write to finish.
    const end = options.writes?.beginWrite();
    try {
      if (readOnly()) {
        throw new RegistryError("UNSUPPORTED", { reason: "read-only" }, "the registry is in read-only mode for maintenance; try again later", {
          headers: { Allow: "GET, HEAD" },
        });
      }
      await handler(ctx, route);
    } finally {
      end?.();
    }
  }

  return {
    services,
    handle(req, res) {
      for (const [name, values] of Object.entries(options.headers?.() ?? {})) res.setHeader(name, values);
      const seen = { route: "unknown" };
      if (options.onRequest) record(req, res, seen, options.onRequest);
      dispatch(req, res, seen).catch((error: unknown) => {
        if (req.destroyed && !(error instanceof RegistryError)) {
          // The client went away mid-request (an aborted push): nothing to answer, nothing broken.
          logger.debug("client closed the connection", { method: req.method, url: req.url, error: String(error) });
          res.destroy();
          return;
        }
        // A body still arriving (a refused layer upload) would have to be received and discarded
        // before the connection could serve another request: close it instead. A request that
        // arrived whole (every GET, HEAD, 404) keeps the connection open.
        // (HTTP/2 has no such header: the stream alone is reset.)
        if (!req.complete && req.httpVersionMajor < 2) res.setHeader("Connection", "close");
        sendError(res, error, logger, req.method === "HEAD");
      });
    },
    close: async () => {
      await gc.stop();
      await services.proxy?.close();
    },
    async health() {
      const checks = options.health?.states() ?? [];
      const failing = options.health?.failing() ?? {};
      const checksOk = Object.keys(failing).length === 0;
      try {
        await driver.list("/").catch((error: unknown) => {
          if ((error as { kind?: string }).kind !== "not-found") throw error;
        });
        return { ok: checksOk, storage: { driver: driver.name, ok: true }, checks, failing };
      } catch (error) {
        return { ok: false, storage: { driver: driver.name, ok: false, error: (error as Error).message }, checks, failing };
      }
    },
  };
}

/**
 * Bytes read from a connection that earlier requests already accounted for. The first read of a
 * request often carries part of its body along with the headers, before the handler runs, so
 * each request takes everything read since the previous one finished.
 */
const accountedBytes = new WeakMap<Socket, number>();

function record(req: IncomingMessage, res: ServerResponse, seen: { route: string }, onRequest: (record: RequestRecord) => void): void {
  const started = performance.now();
  const socket = req.socket;
  const writtenBefore = socket.bytesWritten;
  res.once("close", () => {
    const readBefore = accountedBytes.get(socket) ?? 0;
    accountedBytes.set(socket, socket.bytesRead);
    onRequest({
      method: req.method ?? "",
      path: (req.url ?? "").split("?")[0] ?? "",
      route: seen.route,
      status: res.headersSent ? res.statusCode : 0,
      durationMs: performance.now() - started,
      bytesIn: socket.bytesRead - readBefore,
      bytesOut: socket.bytesWritten - writtenBefore,
      remote: socket.remoteAddress ?? "",
      userAgent: req.headers["user-agent"] ?? "",
    });
  });
}
