import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { createApiHandler, trpcBasePath } from "./api/handler.js";
import { defaultTokenKeyDir, setupAuth } from "./auth/index.js";
import { createEtcdClient } from "./etcd/client.js";
import { scheduledChecks } from "./health/checks.js";
import { HealthMonitor } from "./health/monitor.js";
import { schedulePolicies } from "./gc/policies.js";
import { openMetadataIndex } from "./index/metadata-index.js";
import { indexSettings } from "./index/settings.js";
import { ReadOnlyState, WriteTracker } from "./maintenance/readonly.js";
import { createMaintenance } from "./maintenance/services.js";
import { parseListenAddress } from "./config/address.js";
import { ConfigError, loadConfigWithWarnings, storageDriver } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { ReloadResult } from "./config/reload.js";
import { createConsole, type ConsoleHandler } from "./console.js";
import { clientAddress } from "./client-address.js";
import { defaultLoginLimits, LoginRateLimit, type LoginGuard } from "./login-rate-limit.js";
import { guardConsole } from "./console-auth/page-guard.js";
import { Sessions } from "./console-auth/sessions.js";
import { ConsoleUsers } from "./console-auth/users.js";
import { createListener, listen, type Listener } from "./listener.js";
import type { Drain } from "./drain.js";
import type { Logger } from "./log.js";
import { serveLogger } from "./log-hooks.js";
import type { RegistryMetrics } from "./metrics.js";
import { Notifier } from "./notifications/notifier.js";
import { packageRoot, version } from "./package-info.js";
import { Mirrors } from "./proxy/mirrors.js";
import { invalidatingDriver } from "./registry/blob-cache/cache.js";
import { blobDescriptorCache } from "./registry/blob-cache/from-config.js";
import { createRegistry, type Registry } from "./registry/handler.js";
import { manifestRules } from "./registry/manifest-validation.js";
import { createDriver, knownDrivers } from "./registry/storage/factory.js";
import { schedulePurging } from "./registry/upload-purge.js";
import { guardProcess } from "./process-guard.js";
import { startTracing } from "./tracing.js";

export interface ServeOptions {
  config: Config;
  /** The file `config` came from, re-read by `reload()`. */
  file?: string;
  /** Configuration warnings to log once the logger exists. */
  warnings?: string[];
  /** Run Next.js in development mode (hot reload). */
  dev?: boolean;
  /** Serve `/v2/` only, without the console (also `console.enabled: false`). */
  registryOnly?: boolean;
  logger?: Logger;
  /** Log and survive errors no request handler caught (process-guard.ts); `berth serve` sets it. */
  guardProcess?: boolean;
}

export interface RunningBerth {
  server: Listener;
  registry: Registry;
  url: string;
  /** Re-reads the configuration file and applies what can change live (SIGHUP). */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

/** Settings a reload applies without a restart; everything else in `restartKeys` needs one. */
const restartKeys: [string, (c: Config) => unknown][] = [
  ["http.addr", (c) => c.http.addr],
  ["http.prefix", (c) => c.http.prefix],
  ["http.host", (c) => c.http.host],
  ["http.relativeurls", (c) => c.http.relativeurls],
  ["validation", (c) => c.validation],
  ["health", (c) => c.health],
  ["http.secret", (c) => c.http.secret],
  ["http.tls", (c) => c.http.tls],
  ["http.http2", (c) => c.http.http2],
  ["http.debug", (c) => c.http.debug],
  ["storage (driver)", (c) => storageDriver(c)],
  ["console", (c) => c.console],
  ["etcd", (c) => c.etcd],
  ["redis", (c) => c.redis],
  ["storage.cache", (c) => c.storage.cache],
  ["proxy", (c) => c.proxy],
  ["mirrors", (c) => c.mirrors],
  ["gc.schedule", (c) => c.gc.schedule],
  ["log.formatter", (c) => c.log.formatter],
  ["log.fields", (c) => c.log.fields],
  ["log.hooks", (c) => c.log.hooks],
];

/** Builds the one process: `/v2/` → engine, `/api/trpc/` → tRPC, everything else → Next.js. */
export async function serve(options: ServeOptions): Promise<RunningBerth> {
  let config = options.config;
  const logging = options.logger ? { logger: options.logger, close: async () => undefined } : serveLogger(() => config);
  const logger = logging.logger;
  for (const line of options.warnings ?? []) logger.warn(line);
  const unguard = options.guardProcess ? guardProcess(logger) : undefined;
  const tracing = await startTracing(logger, version);
  const { name, params } = storageDriver(config);
  // Every delete in this process (API, console, collection) goes through the invalidating driver.
  const blobCache = await blobDescriptorCache(config, logger);
  const driver = blobCache ? invalidatingDriver(createDriver(name, params), blobCache) : createDriver(name, params);
  const prefix = (config.http.prefix ?? "/").replace(/\/$/, "");
  // One etcd client for everything shared between instances (auth toggle, read-only, GC lock).
  const etcd = config.etcd ? await createEtcdClient(config.etcd) : undefined;
  const readOnly = await ReadOnlyState.create({
    configured: () => config.storage.maintenance?.readonly?.enabled ?? false,
    etcd,
    prefix: config.etcd?.prefix,
    logger,
  });
  const writes = new WriteTracker();
  const defaultKeyDir = defaultTokenKeyDir(name === "filesystem" ? (params.rootdirectory as string) : undefined);
  // One set of failed-login limits for the token server and htpasswd auth, kept across reloads;
  // the client's address follows `http.clientaddressheader` as it is now.
  const logins: LoginGuard = { limits: defaultLoginLimits(), clientAddress: (req) => clientAddress(req, config.http.clientaddressheader) };
  // Rebuilt on reload when `auth` or `tokenserver` change; the engine reads it per request.
  let auth = await setupAuth({ config, logger, prefix, etcd, defaultKeyDir, logins });
  const prometheus = config.http.debug?.prometheus?.enabled ? config.http.debug.prometheus : undefined;
  // prom-client (~12 MiB resident) is loaded only when Prometheus metrics are enabled.
  const metrics = prometheus ? new (await import("./metrics.js")).RegistryMetrics(() => registry.services.uploads.counts, () => registry.services.proxy?.stats.snapshot()) : undefined;
  // Polled from the start: a check configured failing keeps the API at 503 (distribution's health handler).
  const health = new HealthMonitor(scheduledChecks(config.health, driver), logger);
  health.start();
  const registry = createRegistry({
    driver,
    blobCache,
    logger,
    health,
    deleteEnabled: () => config.storage.delete?.enabled ?? false,
    access: () => auth.current(),
    redirect: config.storage.redirect?.disable !== true,
    secret: config.http.secret,
    tagLookupConcurrency: config.storage.tag?.concurrencylimit,
    urlBase: `${config.http.host?.replace(/\/$/, "") ?? ""}${prefix}`,
    requestUrls: !config.http.host && config.http.relativeurls !== true,
    manifestRules: manifestRules(config.validation),
    headers: () => config.http.headers,
    readOnly: () => readOnly.isReadOnly(),
    writes,
    mirrors: Mirrors.fromConfig(config, logger),
    onRequest: (record) => {
      metrics?.observe(record);
      if (config.log.accesslog?.disabled !== true) {
        logger.info("request", {
          method: record.method,
          path: record.path,
          status: record.status,
          durationMs: Math.round(record.durationMs * 10) / 10,
          bytesIn: record.bytesIn,
          bytesOut: record.bytesOut,
          remote: record.remote,
          userAgent: record.userAgent,
        });
      }
    },
  });
  const consoleEnabled = !options.registryOnly && config.console.enabled !== false;
  // Opened before the port so no push is missed; rebuilt from storage in the background when stale.
  const index = consoleEnabled ? await openMetadataIndex({ ...indexSettings(config), driver, services: registry.services, logger }) : undefined;
  await index?.start();
  const users = new ConsoleUsers(driver, logger);
  if (consoleEnabled) await users.ensureAdmin(process.env.BERTH_ADMIN_PASSWORD);
  const sessions = await Sessions.open(driver, users);
  const maintenance = createMaintenance({
    driver,
    services: registry.services,
    readOnly,
    writes,
    etcd,
    etcdPrefix: config.etcd?.prefix,
    logger,
    gcGraceMs: () => config.gc.grace,
    gcHoldMs: () => config.gc.hold,
    gcSchedule: config.gc.schedule,
  });
  const api = createApiHandler({
    registry,
    version,
    startedAt: new Date(),
    users,
    sessions,
    loginLimit: new LoginRateLimit(),
    secure: Boolean(config.http.tls?.certificate),
    authStatus: () => auth.status(),
    index,
    configuration: {
      file: options.file,
      current: () => config,
      reload: () => reload(),
    },
    maintenance,
  });
  const consoleHandler: ConsoleHandler | undefined = consoleEnabled
    ? guardConsole(sessions, createConsole({ dir: packageRoot, dev: options.dev ?? false, logger }))
    : undefined;

  const apiRoot = `${prefix}/v2`;
  const handleRegistry: RequestListener = (req, res) => registry.handle(req, res);
  const registryListener = tracing ? tracing.wrap(handleRegistry) : handleRegistry;
  const listener = createListener(
    config.http.tls,
    (req, res) => {
      const url = req.url ?? "/";
      if (url === apiRoot || url.startsWith(`${apiRoot}/`) || url.startsWith(`${apiRoot}?`)) {
        if (prefix) req.url = url.slice(prefix.length);
        return registryListener(req, res);
      }
      if (auth.handle(req, res)) return;
      if (url.startsWith(trpcBasePath)) return api(req, res);
      if (consoleHandler) return consoleHandler(req, res);
      notFound(res);
    },
    { http2: config.http.http2?.disabled !== true },
  );
  const server = listener.server;

  const { host, port } = parseListenAddress(config.http.addr);
  const boundPort = await listen(server, { host, port });
  const scheme = config.http.tls?.certificate ? "https" : "http";
  const shownHost = host && host !== "0.0.0.0" && host !== "::" ? (host.includes(":") ? `[${host}]` : host) : "localhost";
  const url = `${scheme}://${shownHost}:${boundPort}`;
  logger.info("listening", { url, storage: name, version, console: consoleHandler !== undefined });

  const notifier = new Notifier(logger);
  notifier.configure(config.notifications);
  const publicBase = `${config.http.host?.replace(/\/$/, "") ?? url}${prefix}`;
  registry.services.events.subscribe((event) => notifier.notify(event, publicBase));
  registry.services.repositories.warm();
  const stopPolicies = schedulePolicies(maintenance.policies, logger);
  maintenance.gcSchedule?.start();
  const purging = config.storage.maintenance?.uploadpurging;
  const stopPurging =
    purging?.enabled === false
      ? undefined
      : schedulePurging(driver, {
          ageMs: purging?.age ?? 168 * 3_600_000,
          intervalMs: purging?.interval ?? 24 * 3_600_000,
          dryRun: purging?.dryrun ?? false,
          readOnly: () => readOnly.isReadOnly(),
          logger,
        });
  const debugServer = config.http.debug?.addr
    ? await startDebugServer(
        config.http.debug.addr,
        async () => ({ ...(await registry.health()), auth: auth.status() }),
        logger,
        metrics && { path: prometheus?.path ?? "/metrics", metrics },
      )
    : undefined;

  /** Re-reads the file and applies what can change live; nothing is switched when it fails. */
  async function reload(): Promise<ReloadResult> {
    if (!options.file) return { applied: [], restartNeeded: [] };
    let loaded;
    try {
      loaded = await loadConfigWithWarnings(options.file, { drivers: knownDrivers() });
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [String(error)];
      logger.error("configuration reload failed; keeping the running configuration", { problems });
      throw error;
    }
    for (const line of loaded.warningLines) logger.warn(line);
    const next = loaded.config;
    const changed = (read: (c: Config) => unknown) => JSON.stringify(read(next)) !== JSON.stringify(read(config));
    const restartNeeded = restartKeys.filter(([, read]) => changed(read)).map(([key]) => key);
    // Built before anything is switched, so a new auth setup that fails leaves all as it was.
    const nextAuth =
      changed((c) => c.auth) || changed((c) => c.tokenserver)
        ? await setupAuth({ config: next, logger, prefix, etcd, defaultKeyDir, logins }).catch((error: unknown) => {
            logger.error("configuration reload failed; keeping the running configuration", { problems: [String(error)] });
            throw error;
          })
        : undefined;
    config = next;
    notifier.configure(next.notifications);
    if (nextAuth) {
      const previous = auth;
      auth = nextAuth;
      await previous.close();
    }
    const applied = ["log.level", "http.draintimeout", "storage.delete", "storage.maintenance.readonly", "http.headers", "notifications", "auth", "tokenserver", "gc.grace"];
    logger.info("configuration reloaded", { file: options.file, applied, restartNeeded });
    return { applied, restartNeeded };
  }

  return {
    server,
    registry,
    url,
    reload,
    close: async () => {
      // First, while everything a request in flight needs is still open (http.draintimeout).
      await Promise.all([listener.drain(config.http.draintimeout ?? 0), debugServer?.drain(0)]);
      stopPurging?.();
      health.stop();
      stopPolicies();
      maintenance.gcSchedule?.stop();
      await auth.close();
      await readOnly.close();
      etcd?.close();
      notifier.stop();
      await index?.close();
      await registry.close();
      await blobCache?.close();
      await tracing?.close();
      unguard?.();
      await logging.close();
    },
  };
}

/**
 * `http.debug.addr`: health for load balancers and probes, and Prometheus metrics when enabled,
 * away from the public port.
 */
async function startDebugServer(
  addr: string,
  health: () => Promise<{ ok: boolean }>,
  logger: Logger,
  prometheus: { path: string; metrics: RegistryMetrics } | undefined,
): Promise<Drain> {
  const { server, drain } = createListener(undefined, (req, res) => {
    if (prometheus && req.url === prometheus.path) {
      return void prometheus.metrics.respond(res, logger);
    }
    if (req.url !== "/debug/health") return notFound(res);
    health().then((report) => {
      const body = JSON.stringify(report);
      res.writeHead(report.ok ? 200 : 503, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const port = await listen(server, parseListenAddress(addr));
  logger.info("debug server listening", { addr, port });
  return { drain };
}

function notFound(res: ServerResponse<IncomingMessage>): void {
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end("404 page not found\n");
}
