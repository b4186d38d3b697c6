import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parseCookie, stringifySetCookie } from "cookie";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { berthPaths } from "./paths.js";
import type { ConsoleUsers, Role } from "./users.js";

export const sessionCookie = "berth_session";
const sessionLifetimeMs = 12 * 60 * 60 * 1000;
/** Bounds the storage reads that refused cookies can cause (see fromRequest). */
const keyReloadIntervalMs = 5_000;

export interface Session {
  user: string;
  /** The user's role now (from storage, not from the cookie). */
  role: Role;
  expiresAt: number;
}

/** What the cookie carries, signed. */
interface Claim {
  user: string;
  /** The user's session generation at login: the session ends when it is no longer the stored one. */
  generation: string;
  expiresAt: number;
}

/**
 * Console sessions: signed cookies (HMAC-SHA256) whose validity is decided by the registry
 * storage, so every instance sharing it accepts the same sessions and refuses the same revoked
 * ones. The cookie names the user and their session generation (generations.ts); the key and the
 * generations live in the storage, the role is read from the users at each request.
 */
export class Sessions {
  private lastReload = 0;

  private constructor(
    private readonly driver: StorageDriver,
    private readonly users: ConsoleUsers,
    private key: Buffer,
  ) {}

  static async open(driver: StorageDriver, users: ConsoleUsers): Promise<Sessions> {
    try {
      return new Sessions(driver, users, await driver.getContent(berthPaths.sessionKey));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await driver.putContent(berthPaths.sessionKey, randomBytes(32), { private: true });
      // Two instances starting at once may both write; read back whichever won (and see
      // fromRequest for the one that read back its own key before the other's write landed).
      return new Sessions(driver, users, await driver.getContent(berthPaths.sessionKey));
    }
  }

  /** A cookie value for a user who just proved who they are. */
  async issue(user: string, now = Date.now()): Promise<{ value: string; expiresAt: number }> {
    // Signs with the stored key: an instance whose key lost the start-up race (above) keeps
    // accepting its own cookies and would never notice, while every other instance refuses them.
    await this.takeStoredKey();
    const claim: Claim = { user, generation: await this.users.generations.forLogin(user), expiresAt: now + sessionLifetimeMs };
    const payload = Buffer.from(JSON.stringify(claim)).toString("base64url");
    return { value: `${payload}.${this.mac(payload)}`, expiresAt: claim.expiresAt };
  }

  /** Ends every session of the user, on every instance (see sessionStateTtlMs). */
  endAll(user: string): Promise<void> {
    return this.users.generations.revoke(user);
  }

  /**
   * The request's session: a cookie signed by our key, not expired, whose generation is still
   * the user's, of a user who still exists. A signature this key refuses is tried once more
   * against the stored key, re-read at most every few seconds: instances that started together
   * on an empty storage may each have written a key, and the one whose write lost converges on
   * the stored one here (its own earlier sessions end with it; that only happens in a store's
   * first seconds).
   */
  async fromRequest(req: IncomingMessage, now = Date.now()): Promise<Session | undefined> {
    const value = readCookie(req, sessionCookie);
    if (!value) return undefined;
    const claim = this.verify(value, now) ?? ((await this.reloadKey(now)) ? this.verify(value, now) : undefined);
    if (!claim || !(await this.users.generations.isCurrent(claim.user, claim.generation, now))) return undefined;
    const role = await this.users.role(claim.user, now);
    return role ? { user: claim.user, role, expiresAt: claim.expiresAt } : undefined;
  }

  private verify(value: string, now: number): Claim | undefined {
    const [payload, mac, extra] = value.split(".");
    if (!payload || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const claim = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Partial<Claim>;
      const { user, generation, expiresAt } = claim;
      if (typeof user !== "string" || typeof generation !== "string" || typeof expiresAt !== "number" || expiresAt < now) return undefined;
      return { user, generation, expiresAt };
    } catch {
      return undefined;
    }
  }

  /** True when the stored key differs from ours (and is now ours). */
  private async reloadKey(now: number): Promise<boolean> {
    if (now - this.lastReload < keyReloadIntervalMs) return false;
    this.lastReload = now;
    return this.takeStoredKey();
  }

  /** Adopts the stored key; true when it differs from the one we had. */
  private async takeStoredKey(): Promise<boolean> {
    const stored = await this.driver.getContent(berthPaths.sessionKey).catch(() => undefined);
    if (!stored || stored.length === 0 || stored.equals(this.key)) return false;
    this.key = stored;
    return true;
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}

/** The value of the named cookie of the request's `Cookie` header (the first, as browsers send the most specific first). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  return req.headers.cookie === undefined ? undefined : parseCookie(req.headers.cookie)[name];
}

/** `Secure` when the console is served over HTTPS, so the cookie never travels in clear. */
export function sessionCookieHeader(value: string, secure: boolean, maxAgeSeconds: number): string {
  return stringifySetCookie({ name: sessionCookie, value, path: "/", httpOnly: true, sameSite: "strict", maxAge: maxAgeSeconds, secure });
}

export const sessionMaxAgeSeconds = sessionLifetimeMs / 1000;
