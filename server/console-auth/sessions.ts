import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { berthPaths } from "./paths.js";

export const sessionCookie = "berth_session";
const sessionLifetimeMs = 12 * 60 * 60 * 1000;
/** Bounds the storage reads that refused cookies can cause (see fromRequest). */
const keyReloadIntervalMs = 5_000;

export interface Session {
  user: string;
  admin: boolean;
  expiresAt: number;
}

/**
 * Console sessions as signed cookies (HMAC-SHA256). The key lives in the registry storage, so a
 * restart or another instance on the same storage accepts the same sessions.
 */
export class Sessions {
  private lastReload = 0;

  private constructor(
    private readonly driver: StorageDriver,
    private key: Buffer,
  ) {}

  static async open(driver: StorageDriver): Promise<Sessions> {
    try {
      return new Sessions(driver, await driver.getContent(berthPaths.sessionKey));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const key = randomBytes(32);
      await driver.putContent(berthPaths.sessionKey, key);
      // Two instances starting at once may both write; read back whichever won (and see
      // fromRequest for the one that read back its own key before the other's write landed).
      return new Sessions(driver, await driver.getContent(berthPaths.sessionKey));
    }
  }

  /**
   * Signs with the stored key from now on. Called before a login issues a cookie: an instance
   * whose key lost the start-up race (above) keeps accepting its own cookies and would never
   * notice, while every other instance refuses them.
   */
  async adoptStoredKey(): Promise<void> {
    await this.takeStoredKey();
  }

  issue(user: string, admin: boolean, now = Date.now()): { value: string; session: Session } {
    const session: Session = { user, admin, expiresAt: now + sessionLifetimeMs };
    const payload = Buffer.from(JSON.stringify(session)).toString("base64url");
    return { value: `${payload}.${this.mac(payload)}`, session };
  }

  verify(value: string | undefined, now = Date.now()): Session | undefined {
    if (!value) return undefined;
    const [payload, mac, extra] = value.split(".");
    if (!payload || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const session = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Session;
      if (typeof session.user !== "string" || typeof session.expiresAt !== "number" || session.expiresAt < now) return undefined;
      return { user: session.user, admin: session.admin === true, expiresAt: session.expiresAt };
    } catch {
      return undefined;
    }
  }

  /**
   * The request's session. A signature this key refuses is tried once more against the stored
   * key, re-read at most every few seconds: instances that started together on an empty storage
   * may each have written a key, and the one whose write lost converges on the stored one here
   * (its own earlier sessions end with it; that only happens in a store's first seconds).
   */
  async fromRequest(req: IncomingMessage): Promise<Session | undefined> {
    const value = readCookie(req, sessionCookie);
    const session = this.verify(value);
    if (session || !value || !(await this.reloadKey())) return session;
    return this.verify(value);
  }

  /** True when the stored key differs from ours (and is now ours). */
  private async reloadKey(now = Date.now()): Promise<boolean> {
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

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** `Secure` when the console is served over HTTPS, so the cookie never travels in clear. */
export function sessionCookieHeader(value: string, secure: boolean, maxAgeSeconds: number): string {
  return `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

export const sessionMaxAgeSeconds = sessionLifetimeMs / 1000;
