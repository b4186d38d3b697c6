import bcrypt from "bcryptjs";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../log.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { berthPaths } from "./paths.js";

const usersSchema = z.object({
  users: z.array(z.object({ name: z.string().min(1), hash: z.string().startsWith("$2"), admin: z.boolean() })),
});
type UsersFile = z.infer<typeof usersSchema>;

export const adminUser = "admin";

/**
 * Console accounts, kept (bcrypt-hashed) in the registry's storage so every instance on the
 * same storage shares them.
 */
export class ConsoleUsers {
  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
  ) {}

  /**
   * Makes sure the first admin exists. `BERTH_ADMIN_PASSWORD`, when set, is (re)applied at every
   * start so an operator who forgot the password can set a new one; otherwise a random password
   * is generated once, on first start, and printed once in the log.
   */
  async ensureAdmin(envPassword: string | undefined): Promise<void> {
    const file = await this.read();
    const existing = file?.users.find((user) => user.name === adminUser);
    if (envPassword) {
      const hash = await bcrypt.hash(envPassword, 10);
      const others = (file?.users ?? []).filter((user) => user.name !== adminUser);
      await this.write({ users: [...others, { name: adminUser, hash, admin: true }] });
      return;
    }
    if (existing) return;
    const password = randomBytes(12).toString("base64url");
    await this.write({ users: [...(file?.users ?? []), { name: adminUser, hash: await bcrypt.hash(password, 10), admin: true }] });
    // Printed once, on purpose: it is the only way to learn the generated password.
    this.logger.warn(`console: first start, created user "${adminUser}" with password ${password} (set BERTH_ADMIN_PASSWORD to choose it)`);
  }

  /** The user when the password is right; undefined otherwise (same cost either way). */
  async verify(name: string, password: string): Promise<{ name: string; admin: boolean } | undefined> {
    const user = (await this.read())?.users.find((candidate) => candidate.name === name);
    // Compare against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await bcrypt.compare(password, user?.hash ?? dummyHash);
    return ok && user ? { name: user.name, admin: user.admin } : undefined;
  }

  private async read(): Promise<UsersFile | undefined> {
    try {
      return usersSchema.parse(JSON.parse((await this.driver.getContent(berthPaths.consoleUsers)).toString("utf8")));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private write(file: UsersFile): Promise<void> {
    return this.driver.putContent(berthPaths.consoleUsers, JSON.stringify(file, null, 2));
  }
}

const dummyHash = bcrypt.hashSync("not-a-user", 10);
