import bcrypt from "bcryptjs";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../log.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { SessionGenerations, sessionStateTtlMs } from "./generations.js";
import { berthPaths } from "./paths.js";

import { roles, type Role } from "./roles.js";

export { roles, type Role };

/** Also a storage path component (the user's session generation), hence the narrow alphabet. */
export const userName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "a user name is 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
export const newPassword = z.string().min(8, "a password has at least 8 characters").max(1024);

export interface Account {
  name: string;
  role: Role;
  /** A disabled user cannot log in and their sessions are refused; the account is kept. */
  disabled: boolean;
}
type StoredUser = Account & { hash: string };

const usersSchema = z.object({
  users: z.array(
    z
      .object({
        name: userName,
        hash: z.string().startsWith("$2"),
        role: z.enum(roles).optional(),
        admin: z.boolean().optional(),
        disabled: z.boolean().optional(),
      })
      // Files written before roles existed say `admin: true|false` or nothing: every such user
      // could do everything, so only an explicit `admin: false` makes a viewer.
      .transform(({ name, hash, role, admin, disabled }): StoredUser => ({ name, hash, role: role ?? (admin === false ? "viewer" : "admin"), disabled: disabled ?? false })),
  ),
});

export const adminUser = "admin";

/** Why a change to the console users was refused; the API maps each kind to one status. */
export class ConsoleUserError extends Error {
  constructor(
    readonly kind: "exists" | "not-found" | "last-admin" | "wrong-password",
    message: string,
  ) {
    super(message);
    this.name = "ConsoleUserError";
  }
}

/**
 * Console accounts, kept (bcrypt-hashed) in the registry's storage so every instance on the
 * same storage shares them. A password or role change, disabling and removal end the user's sessions.
 */
export class ConsoleUsers {
  /** What requests check their role against (see role()). */
  private cached: { users: StoredUser[]; readAt: number } | undefined;
  /** Changes read, modify and rewrite the file: one at a time in this process. */
  private updating: Promise<unknown> = Promise.resolve();
  /** Whose sessions are still valid: what a password change or a removal revokes. */
  readonly generations: SessionGenerations;

  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
  ) {
    this.generations = new SessionGenerations(driver);
  }

  /**
   * Makes sure the first admin exists. `BERTH_ADMIN_PASSWORD`, when set, is (re)applied at every
   * start so an operator who forgot the password can set a new one; otherwise a random password
   * is generated once, on first start, and printed once in the log.
   */
  async ensureAdmin(envPassword: string | undefined): Promise<void> {
    const users = await this.read();
    const existing = users.find((user) => user.name === adminUser);
    if (envPassword) {
      // Unchanged: no write, and above all no revocation, or every restart would log the admin out.
      if (existing?.role === "admin" && !existing.disabled && (await bcrypt.compare(envPassword, existing.hash))) return;
      // The recovery path: the account comes back enabled and an admin, whatever was done to it.
      await this.update(async (current) => [
        ...current.filter((user) => user.name !== adminUser),
        { name: adminUser, hash: await bcrypt.hash(envPassword, 10), role: "admin", disabled: false },
      ]);
      await this.generations.revoke(adminUser);
      return;
    }
    if (existing) return;
    const password = randomBytes(12).toString("base64url");
    await this.update(async (current) => [...current, { name: adminUser, hash: await bcrypt.hash(password, 10), role: "admin", disabled: false }]);
    // Printed once, on purpose: it is the only way to learn the generated password.
    this.logger.warn(`console: first start, created user "${adminUser}" with password ${password} (set BERTH_ADMIN_PASSWORD to choose it)`);
  }

  /** The user when the password is right and the account enabled; undefined otherwise (same cost either way). */
  async verify(name: string, password: string): Promise<Account | undefined> {
    const user = (await this.read()).find((candidate) => candidate.name === name);
    // Compare against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await bcrypt.compare(password, user?.hash ?? dummyHash);
    return ok && user && !user.disabled ? accountOf(user) : undefined;
  }

  async list(): Promise<Account[]> {
    return (await this.read()).map(accountOf).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The user's role for a request, undefined once removed or disabled: read from storage (not
   * the cookie), cached for sessionStateTtlMs. (Changes also revoke the sessions: this is the
   * second line, for a cookie that still carries a current generation.)
   */
  async role(name: string, now = Date.now()): Promise<Role | undefined> {
    const users = this.cached && now - this.cached.readAt < sessionStateTtlMs ? this.cached.users : await this.read(now);
    const user = users.find((candidate) => candidate.name === name);
    return user && !user.disabled ? user.role : undefined;
  }

  async add(name: string, password: string, role: Role): Promise<Account> {
    const hash = await bcrypt.hash(password, 10);
    const user: StoredUser = { name, hash, role, disabled: false };
    await this.update((users) => {
      if (users.some((candidate) => candidate.name === name)) throw new ConsoleUserError("exists", `user ${name} already exists`);
      return [...users, user];
    });
    return accountOf(user);
  }

  /** Sets a new password and ends every session of the user (the new hash is stored first, so a login with the old password cannot slip in between). */
  async setPassword(name: string, password: string): Promise<void> {
    const hash = await bcrypt.hash(password, 10);
    await this.update((users) => users.map((user) => (user.name === name ? { ...user, hash } : user)), name);
    await this.generations.revoke(name);
  }

  /** A user's own change: the current password proves it is them, not someone at an unlocked screen. */
  async changePassword(name: string, current: string, password: string): Promise<void> {
    if (!(await this.verify(name, current))) throw new ConsoleUserError("wrong-password", "the current password is wrong");
    await this.setPassword(name, password);
  }

  /** A new role ends the user's sessions: they log in again and see the console as the role allows. */
  async setRole(name: string, role: Role): Promise<void> {
    await this.update((users) => users.map((user) => (user.name === name ? { ...user, role } : user)), name);
    await this.generations.revoke(name);
  }

  /** Disabling ends the user's sessions and refuses their logins until enabled again. */
  async setDisabled(name: string, disabled: boolean): Promise<void> {
    await this.update((users) => users.map((user) => (user.name === name ? { ...user, disabled } : user)), name);
    if (disabled) await this.generations.revoke(name);
  }

  /** Removes the user and ends their sessions. */
  async remove(name: string): Promise<void> {
    await this.update((users) => users.filter((user) => user.name !== name), name);
    await this.generations.revoke(name);
  }

  /**
   * Rewrites the file with `change` applied to the current users; `target` must exist before.
   * Refuses a change that would leave no enabled admin: nobody could manage users any more.
   */
  private update(change: (users: StoredUser[]) => StoredUser[] | Promise<StoredUser[]>, target?: string): Promise<void> {
    const run = this.updating.then(async () => {
      const users = await this.read();
      if (target !== undefined && !users.some((user) => user.name === target)) {
        throw new ConsoleUserError("not-found", `no user ${target}`);
      }
      const next = await change(users);
      if (!next.some((user) => user.role === "admin" && !user.disabled)) {
        throw new ConsoleUserError("last-admin", "the console needs at least one enabled admin: make another user admin first");
      }
      await this.driver.putContent(berthPaths.consoleUsers, JSON.stringify({ users: next }, null, 2), { private: true });
      this.cached = { users: next, readAt: Date.now() };
    });
    this.updating = run.catch(() => undefined);
    return run;
  }

  private async read(now = Date.now()): Promise<StoredUser[]> {
    let users: StoredUser[] = [];
    try {
      users = usersSchema.parse(JSON.parse((await this.driver.getContent(berthPaths.consoleUsers)).toString("utf8"))).users;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.cached = { users, readAt: now };
    return users;
  }
}

function accountOf({ name, role, disabled }: StoredUser): Account {
  return { name, role, disabled };
}

const dummyHash = bcrypt.hashSync("not-a-user", 10);
