import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { TRPCError } from "@trpc/server";
import type { Etcd3 } from "etcd3";
import { z } from "zod";
import { parseEtcdAuthValue, type EtcdAuthSettings } from "../../auth/etcd-toggle.js";
import { parseHtpasswd } from "../../auth/htpasswd-entries.js";
import { defaultRules } from "../../auth/rules.js";
import { tokenServerPath } from "../../auth/token-server.js";
import { defaultEtcdAuthKey } from "../../config/schema.js";
import { adminProcedure, router, viewerProcedure, type ApiContext } from "../trpc.js";
import { recordActivity } from "../../maintenance/activity.js";

/*
 * Registry auth for the console: the etcd key LAIN uses to switch docker token auth on
 * (`etcd.authkey`, `{"realm","issuer","service"}`), and what the built-in token server allows.
 * The auth state itself follows the key (server/auth/etcd-toggle.ts); this only reads and writes it.
 */

const etcdTimeoutMs = 5_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etcd did not answer within ${etcdTimeoutMs / 1000} s (${what})`)), etcdTimeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function etcdOf(ctx: ApiContext): { client: Etcd3; key: string } {
  const config = ctx.configuration.current().etcd;
  const client = ctx.maintenance.etcd;
  if (!config || !client) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "etcd is not configured: set etcd.endpoints in config.yml (and restart) to switch registry auth through etcd",
    });
  }
  return { client, key: config.authkey ?? defaultEtcdAuthKey };
}

function etcdFailure(error: unknown): never {
  throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: `etcd: ${(error as Error).message}`, cause: error });
}

/** The public base URL of this registry: `http.host`, else the address the console was reached on. */
function publicBase(ctx: ApiContext): string | undefined {
  const config = ctx.configuration.current();
  if (config.http.host) return config.http.host.replace(/\/$/, "");
  const host = ctx.req?.headers.host;
  return host ? `${ctx.secure ? "https" : "http"}://${host}` : undefined;
}

/**
 * Who answers token requests for `realm`: Berth's built-in token server when the realm names its
 * path and it is enabled here, else an external one (LAIN's console, another registry's server).
 */
export function realmServer(realm: string, builtinPath: string, builtinEnabled: boolean): "builtin" | "external" {
  let path: string;
  try {
    path = new URL(realm).pathname;
  } catch {
    return "external";
  }
  return builtinEnabled && path.replace(/\/+$/, "") === builtinPath.replace(/\/+$/, "") ? "builtin" : "external";
}

/** Waits (briefly) until the auth in force has followed the key. */
async function settle(ctx: ApiContext, wanted: (status: ReturnType<ApiContext["authStatus"]>) => boolean): Promise<boolean> {
  const deadline = Date.now() + 6_000;
  while (Date.now() < deadline) {
    if (wanted(ctx.authStatus())) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return wanted(ctx.authStatus());
}

const settingsInput = z.object({
  realm: z.string().trim().min(1).max(2048),
  issuer: z.string().trim().min(1).max(512),
  service: z.string().trim().min(1).max(512),
});

export const registryAuthRouter = router({
  /** The auth in force and the etcd key's current value. */
  status: viewerProcedure.query(async ({ ctx }) => {
    const config = ctx.configuration.current();
    const auth = ctx.authStatus();
    const tokenserver = config.tokenserver;
    const base = publicBase(ctx);
    const prefix = (config.http.prefix ?? "/").replace(/\/$/, "");
    let etcd: {
      endpoints: string[];
      key: string;
      value: string | null;
      settings: EtcdAuthSettings | null;
      valueError: string | null;
      readError: string | null;
    } | null = null;
    if (config.etcd && ctx.maintenance.etcd) {
      const key = config.etcd.authkey ?? defaultEtcdAuthKey;
      let value: string | null = null;
      let readError: string | null = null;
      try {
        value = await withTimeout(ctx.maintenance.etcd.get(key).string(), `get ${key}`);
      } catch (error) {
        readError = (error as Error).message;
      }
      let settings: EtcdAuthSettings | null = null;
      let valueError: string | null = null;
      if (value !== null) {
        try {
          settings = parseEtcdAuthValue(value);
        } catch (error) {
          valueError = (error as Error).message;
        }
      }
      etcd = { endpoints: config.etcd.endpoints, key, value, settings, valueError, readError };
    }
    return {
      auth: {
        mode: auth.mode,
        source: auth.source,
        connected: auth.connected,
        lastError: auth.lastError ?? null,
        since: auth.since,
        settings: auth.settings ?? null,
        realmServer: auth.settings ? realmServer(auth.settings.realm, `${prefix}${tokenServerPath}`, tokenserver?.enabled ?? false) : null,
      },
      configMode: config.auth ? Object.keys(config.auth)[0] ?? "none" : "none",
      etcd,
      /** What to propose when switching token auth on: the current key, else the built-in token server. */
      suggestion: etcd?.settings ?? {
        realm: base ? `${base}${prefix}${tokenServerPath}/` : "",
        issuer: tokenserver?.issuer ?? "auth server",
        service: tokenserver?.service ?? (base ? new URL(base).host : ""),
      },
    };
  }),

  /** Writes the key: token auth with these settings, on every instance watching it. */
  enableToken: adminProcedure.input(settingsInput).mutation(async ({ ctx, input }) => {
    const { client, key } = etcdOf(ctx);
    const value = JSON.stringify({ realm: input.realm, issuer: input.issuer, service: input.service });
    try {
      parseEtcdAuthValue(value);
    } catch (error) {
      throw new TRPCError({ code: "BAD_REQUEST", message: (error as Error).message });
    }
    await withTimeout(client.put(key).value(value).exec(), `put ${key}`).catch(etcdFailure);
    await recordActivity(ctx.maintenance, {
      user: ctx.session.user,
      action: "auth.enable-token",
      summary: `switched registry token auth on (realm ${input.realm}, issuer ${input.issuer}, service ${input.service})`,
      details: { key, ...input },
    });
    const followed = await settle(ctx, (status) => status.source === "etcd" && status.settings?.realm === input.realm);
    return { key, value, followed, auth: ctx.authStatus() };
  }),

  /** Deletes the key: config.yml's `auth` is in force again. */
  disableToken: adminProcedure.mutation(async ({ ctx }) => {
    const { client, key } = etcdOf(ctx);
    await withTimeout(client.delete().key(key).exec(), `delete ${key}`).catch(etcdFailure);
    await recordActivity(ctx.maintenance, {
      user: ctx.session.user,
      action: "auth.disable-token",
      summary: `switched registry token auth off (deleted ${key}); config.yml's auth is in force`,
      details: { key },
    });
    const followed = await settle(ctx, (status) => status.source === "config");
    return { key, followed, auth: ctx.authStatus() };
  }),

  /** The built-in token server: its users (names only), admins, groups and access rules. */
  tokenServer: adminProcedure.query(async ({ ctx }) => {
    const config = ctx.configuration.current().tokenserver;
    if (!config) return { configured: false as const };
    let users: string[] = [];
    let usersError: string | null = null;
    let usersProblems: string[] = [];
    if (config.users) {
      try {
        const parsed = parseHtpasswd(await readFile(config.users, "utf8"), basename(config.users));
        users = [...parsed.users.keys()].sort();
        usersProblems = parsed.problems;
      } catch (error) {
        usersError = `cannot read ${config.users}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      }
    }
    return {
      configured: true as const,
      enabled: config.enabled,
      issuer: config.issuer,
      service: config.service ?? null,
      expirationMs: config.expiration,
      usersFile: config.users ?? null,
      users,
      usersError,
      usersProblems,
      admins: config.admins,
      groups: config.groups ?? {},
      rules: (config.rules ?? defaultRules).map((rule) => ({
        users: rule.users ?? [],
        groups: rule.groups ?? [],
        anonymous: rule.anonymous ?? false,
        repositories: rule.repositories ?? ["**"],
        actions: rule.actions,
      })),
      defaultRules: config.rules === undefined,
    };
  }),
});
