import { randomBytes } from "node:crypto";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { berthPaths } from "./paths.js";

/**
 * How long an instance may go on trusting what it last read of a user's session state (the
 * generation here, the role in ConsoleUsers): the bound on how late another instance honours a
 * logout, a password change or a removal. The instance that made the change honours it at once.
 */
export const sessionStateTtlMs = 2_000;

/**
 * A user's session generation: a random value every cookie of that user carries and that must
 * still be the stored one. Deleting it ends all of the user's sessions on every instance sharing
 * the storage; the next login stores a new one. It lives in the storage rather than in memory
 * because a cookie may be replayed to any instance.
 */
export class SessionGenerations {
  private readonly cache = new Map<string, { value: string | undefined; readAt: number }>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly ttlMs = sessionStateTtlMs,
  ) {}

  /** The generation a new session joins (read fresh: a cached one may just have been revoked). */
  async forLogin(user: string): Promise<string> {
    const stored = await this.read(user);
    if (stored) return stored;
    const written = randomBytes(16).toString("hex");
    await this.driver.putContent(berthPaths.sessionGeneration(user), written, { private: true });
    // Two first logins at once on two instances: read back whichever write won, so the session
    // of the losing write is not issued a value no instance accepts. (Gone again: a logout raced
    // this login and ends it too.)
    return (await this.read(user)) ?? written;
  }

  async isCurrent(user: string, generation: string, now = Date.now()): Promise<boolean> {
    const cached = this.cache.get(user);
    // The cache may only delay a refusal, never cause one: a cookie that does not match what
    // this instance last read may carry a generation a login elsewhere stored since.
    if (cached && now - cached.readAt < this.ttlMs && cached.value === generation) return true;
    const stored = await this.read(user, now);
    return stored !== undefined && stored === generation;
  }

  /** Ends every session of the user (here at once, on other instances within the TTL). */
  async revoke(user: string): Promise<void> {
    await this.driver.delete(berthPaths.sessionGeneration(user)).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    this.cache.set(user, { value: undefined, readAt: Date.now() });
  }

  private async read(user: string, now = Date.now()): Promise<string | undefined> {
    let value: string | undefined;
    try {
      value = (await this.driver.getContent(berthPaths.sessionGeneration(user))).toString("utf8") || undefined;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.cache.set(user, { value, readAt: now });
    return value;
  }
}
