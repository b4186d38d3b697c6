import type { X509Certificate } from "node:crypto";
import type { Etcd3, Watcher } from "etcd3";
import type { Config } from "../config/schema.js";
import { createEtcdClient } from "../etcd/client.js";
import type { Logger } from "../log.js";
import type { LoginGuard } from "../login-rate-limit.js";
import type { AccessController } from "../registry/access.js";
import { readCertificateBundle } from "./certs.js";
import { authMode, createAccessController, type AuthMode } from "./factory.js";
import { createTokenController } from "./token.js";
import type { TokenServer } from "./token-server.js";

/** What LAIN writes at `/lain/config/auth/registry` to switch token auth on. */
export interface EtcdAuthSettings {
  realm: string;
  issuer: string;
  service: string;
}

/** For health checks and the console. */
export interface AuthStatus {
  /** Where the auth in force comes from: the etcd key (set and valid) or config.yml. */
  source: "etcd" | "config";
  /** The last etcd read succeeded (false without etcd). */
  connected: boolean;
  /** The last etcd failure, or why the key's value was refused; cleared when it is resolved. */
  lastError?: string;
  mode: AuthMode;
  /** The watched key, when etcd is configured. */
  etcdKey?: string;
  /** The token settings taken from etcd, when `source` is "etcd". */
  settings?: EtcdAuthSettings;
  /** When the auth in force last changed (ISO 8601). */
  since: string;
}

export interface AuthState {
  /** The controller in force now: pass `() => state.current()` as `createRegistry({ access })`. */
  current(): AccessController | undefined;
  status(): AuthStatus;
  /** Reads etcd now instead of waiting for the next poll (no-op without etcd). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** Parses the key's JSON value; throws with a message that says what is wrong. */
export function parseEtcdAuthValue(text: string): EtcdAuthSettings {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("expected a JSON object with realm, issuer and service");
  const record = value as Record<string, unknown>;
  const missing = ["realm", "issuer", "service"].filter((field) => typeof record[field] !== "string" || (record[field] as string).trim() === "");
  if (missing.length > 0) throw new Error(`${missing.map((f) => `"${f}"`).join(", ")} missing or not a non-empty string`);
  const realm = (record.realm as string).trim();
  try {
    const url = new URL(realm);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw new Error(`realm ${JSON.stringify(realm)} is not an http(s) URL`);
  }
  return { realm, issuer: record.issuer as string, service: record.service as string };
}

export interface EtcdToggleOptions {
  client: Etcd3;
  /** `etcd.authkey`. */
  key: string;
  logger: Logger;
  /** What config.yml says, in force while the key is absent. */
  fallback: { controller: AccessController | undefined; mode: AuthMode };
  /** Builds the token controller for the key's settings (may throw: the previous state is kept). */
  buildToken(settings: EtcdAuthSettings): AccessController;
  /** Safety-net poll, which also measures connectivity. Default 5 s. */
  pollIntervalMs?: number;
  /** Deadline of one etcd read. Default 3 s. */
  requestTimeoutMs?: number;
  /** Close `client` in `close()` (when the toggle created it). */
  ownsClient?: boolean;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Watches `key` in etcd and switches auth live, as LAIN's registry did at restart:
 *
 * - key set to `{"realm","issuer","service"}` → token auth with those values (`buildToken`);
 * - key deleted (or absent) → what config.yml says (`fallback`);
 * - malformed value → logged, the previous state stays in force;
 * - etcd unreachable → the last known state stays in force, `status().connected` is false, and
 *   reads are retried (the watch reconnects by itself; a poll every `pollIntervalMs` re-syncs).
 *
 * Watch events and poll results are ordered by etcd revision, so a slow read never undoes a newer
 * change. The first read is awaited (up to `requestTimeoutMs`); if etcd does not answer, Berth
 * starts with config.yml's auth and switches as soon as etcd answers.
 */
export async function createEtcdToggle(options: EtcdToggleOptions): Promise<AuthState> {
  const { client, key, logger, fallback } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
  const log = logger.with({ etcdKey: key });

  let revision = -1n;
  let seenValue: string | null | undefined; // last value read, valid or not (undefined: none yet)
  let settings: EtcdAuthSettings | undefined;
  let tokenController: AccessController | undefined;
  let since = new Date();
  let connected = false;
  let connectionError: string | undefined;
  let valueError: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let watcher: Watcher | undefined;

  function apply(value: string | null, at: bigint): void {
    if (at < revision) return; // older than what we already applied
    revision = at;
    if (value === seenValue) return;
    seenValue = value;
    if (value === null) {
      valueError = undefined;
      if (settings) {
        settings = undefined;
        tokenController = undefined;
        since = new Date();
        log.info("auth key deleted from etcd: back to the auth of config.yml", { mode: fallback.mode });
      }
      return;
    }
    let next: EtcdAuthSettings;
    try {
      next = parseEtcdAuthValue(value);
    } catch (error) {
      valueError = `etcd ${key}: ${(error as Error).message}; keeping the current auth (${settings ? "token from etcd" : fallback.mode})`;
      log.error("malformed auth settings in etcd; keeping the current auth", { error: (error as Error).message, value: value.slice(0, 200) });
      return;
    }
    valueError = undefined;
    if (settings && JSON.stringify(settings) === JSON.stringify(next)) return;
    try {
      tokenController = options.buildToken(next);
    } catch (error) {
      valueError = `etcd ${key}: cannot set up token auth (${(error as Error).message}); keeping the current auth`;
      log.error("cannot set up token auth from etcd; keeping the current auth", { error: (error as Error).message });
      return;
    }
    settings = next;
    since = new Date();
    log.info("token auth switched on from etcd", { ...next });
  }

  function markConnected(): void {
    if (!connected) log.info(connectionError ? "etcd reachable again" : "etcd connected");
    connected = true;
    connectionError = undefined;
  }

  function markDisconnected(error: unknown): void {
    const message = (error as Error)?.message ?? String(error);
    if (connected || connectionError === undefined) {
      log.error("etcd unreachable; keeping the current auth and retrying", { error: message, source: settings ? "etcd" : "config" });
    }
    connected = false;
    connectionError = `etcd unreachable: ${message}`;
  }

  async function read(): Promise<void> {
    try {
      const response = await withTimeout(
        client.get(key).options({ deadline: new Date(Date.now() + requestTimeoutMs) }).exec(),
        requestTimeoutMs + 500,
        `reading ${key}`,
      );
      const kv = response.kvs[0];
      apply(kv ? kv.value.toString("utf8") : null, BigInt(response.header.revision));
      markConnected();
    } catch (error) {
      markDisconnected(error);
    }
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      void read().finally(schedule);
    }, pollIntervalMs);
    timer.unref();
  }

  function watch(): void {
    if (closed) return;
    const builder = client.watch().key(key);
    if (revision >= 0n) builder.startRevision(String(revision + 1n));
    const current = builder.watcher();
    watcher = current;
    current.on("put", (kv) => apply(kv.value.toString("utf8"), BigInt(kv.mod_revision)));
    current.on("delete", (kv) => apply(null, BigInt(kv.mod_revision)));
    current.on("connected", () => void read());
    current.on("disconnected", (error) => log.debug("etcd watch disconnected; it reconnects by itself", { error: error.message }));
    current.on("error", (error) => {
      // The watch was cancelled by etcd (e.g. its start revision was compacted): start a new one.
      log.warn("etcd watch failed; starting a new one", { error: error.message });
      if (watcher === current) {
        watcher = undefined;
        void current.cancel().catch(() => undefined);
        setTimeout(watch, 1_000).unref();
      }
    });
  }

  await read();
  watch();
  schedule();

  return {
    current: () => (settings ? tokenController : fallback.controller),
    status: () => ({
      source: settings ? "etcd" : "config",
      connected,
      ...(connectionError ?? valueError ? { lastError: connectionError ?? valueError } : {}),
      mode: settings ? "token" : fallback.mode,
      etcdKey: key,
      ...(settings ? { settings: { ...settings } } : {}),
      since: since.toISOString(),
    }),
    refresh: read,
    async close() {
      closed = true;
      clearTimeout(timer);
      const stopping = watcher?.cancel().catch(() => undefined);
      watcher = undefined;
      await withTimeout(stopping ?? Promise.resolve(), 2_000, "cancelling the etcd watch").catch(() => undefined);
      if (options.ownsClient) client.close();
    },
  };
}

export interface AuthStateOptions {
  config: Config;
  logger: Logger;
  /** A shared etcd client; without one, a client is created from `config.etcd` (and closed by `close()`). */
  etcd?: Etcd3;
  /** The built-in token server: its certificate is trusted when config.yml names no rootcertbundle. */
  tokenServer?: TokenServer;
  /** The login limits of htpasswd auth. */
  logins?: LoginGuard;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

/**
 * The auth in force: config.yml's `auth`, switched to token auth while etcd's `etcd.authkey` is
 * set (when `etcd` is configured). Token auth from etcd trusts `auth.token.rootcertbundle` when
 * config.yml has one, else the built-in token server's certificate; with neither, every token is
 * refused (fail closed) and the reason is logged. Throws `AuthSetupError`/`HtpasswdError` when
 * config.yml's auth cannot be set up.
 */
export async function createAuthState(options: AuthStateOptions): Promise<AuthState> {
  const { config, logger } = options;
  const defaultCertificates = options.tokenServer?.signing.chain;
  const controller = createAccessController(config.auth, { logger, defaultCertificates, logins: options.logins });
  const mode = authMode(config.auth);
  if (!config.etcd) {
    const since = new Date().toISOString();
    return {
      current: () => controller,
      status: () => ({ source: "config", connected: false, mode, since }),
      refresh: async () => undefined,
      close: async () => undefined,
    };
  }
  const configured = config.auth?.token;
  const bundle = (): X509Certificate[] => {
    if (configured?.rootcertbundle !== undefined) {
      try {
        return readCertificateBundle(configured.rootcertbundle);
      } catch (error) {
        logger.error("token auth from etcd: cannot read auth.token.rootcertbundle; every token will be refused", { error: (error as Error).message });
        return [];
      }
    }
    if (defaultCertificates) return defaultCertificates;
    logger.error("token auth from etcd: no certificates to trust (set auth.token.rootcertbundle or enable tokenserver); every token will be refused");
    return [];
  };
  const client = options.etcd ?? (await createEtcdClient(config.etcd));
  return createEtcdToggle({
    client,
    key: config.etcd.authkey,
    logger,
    fallback: { controller, mode },
    buildToken: (settings) =>
      createTokenController({
        ...settings,
        certificates: bundle(),
        signingAlgorithms: configured?.signingalgorithms,
        logger,
      }),
    pollIntervalMs: options.pollIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs ?? config.etcd.dialtimeout,
    ownsClient: options.etcd === undefined,
  });
}
