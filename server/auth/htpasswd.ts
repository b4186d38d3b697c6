import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { compare, hash } from "bcryptjs";
import type { Logger } from "../log.js";
import { parseHtpasswd } from "./htpasswd-entries.js";

export class HtpasswdError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = "HtpasswdError";
  }
}

function signature(info: Stats): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

const maxCached = 1024;

/**
 * An htpasswd file of bcrypt entries, re-read when its modification time (or size, or inode)
 * changes — checked on each verification, as distribution does.
 *
 * - At construction a missing file or a non-bcrypt entry throws `HtpasswdError` (clear message).
 * - On a later reload a bad entry is logged and left out (the others keep working); an
 *   unreadable or vanished file is logged and the last good entries stay in force.
 * - A successful check is remembered (an HMAC of the password under a per-process key, tied to
 *   the user's current hash), so a client's burst of requests costs one bcrypt comparison.
 *   Unknown users still cost a bcrypt comparison, so timing does not reveal who exists.
 */
export class HtpasswdFile {
  private users: Map<string, string>;
  private loaded: string;
  private reloading: Promise<void> | undefined;
  private readonly verified = new Map<string, Buffer>();
  private readonly cacheKey = randomBytes(32);
  private dummy: Promise<string> | undefined;
  private lastProblem: string | undefined;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    let text: string;
    let info: Stats;
    try {
      info = statSync(path);
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new HtpasswdError(`cannot read the htpasswd file ${path}: ${(error as Error).message}`);
    }
    const parsed = parseHtpasswd(text, path);
    if (parsed.problems.length > 0) {
      throw new HtpasswdError(`the htpasswd file ${path} has entries Berth refuses:\n  ${parsed.problems.join("\n  ")}`, parsed.problems);
    }
    for (const warning of parsed.warnings) logger.warn(warning);
    this.users = parsed.users;
    this.loaded = signature(info);
  }

  /** User names currently loaded. */
  names(): string[] {
    return [...this.users.keys()];
  }

  async verify(username: string, password: string): Promise<boolean> {
    await this.refresh();
    const hashed = this.users.get(username);
    if (hashed === undefined) {
      this.dummy ??= hash(randomBytes(16).toString("hex"), 10);
      await compare(password, await this.dummy);
      return false;
    }
    const key = `${username}\0${hashed}`;
    const mac = createHmac("sha256", this.cacheKey).update(password).digest();
    const known = this.verified.get(key);
    if (known && timingSafeEqual(known, mac)) return true;
    const ok = await compare(password, hashed);
    if (ok) {
      if (this.verified.size >= maxCached) this.verified.clear();
      this.verified.set(key, mac);
    }
    return ok;
  }

  /** Re-reads the file when it changed; concurrent callers share one reload. */
  refresh(): Promise<void> {
    this.reloading ??= this.reload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async reload(): Promise<void> {
    let info: Stats;
    try {
      info = await stat(this.path);
    } catch (error) {
      this.report(`cannot read the htpasswd file ${this.path} (${(error as Error).message}); keeping the ${this.users.size} users loaded before`);
      return;
    }
    const current = signature(info);
    if (current === this.loaded) return;
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      this.report(`cannot read the htpasswd file ${this.path} (${(error as Error).message}); keeping the ${this.users.size} users loaded before`);
      return;
    }
    const parsed = parseHtpasswd(text, this.path);
    for (const problem of parsed.problems) this.logger.error(`htpasswd entry refused: ${problem}`);
    for (const warning of parsed.warnings) this.logger.warn(warning);
    this.users = parsed.users;
    this.loaded = current;
    this.lastProblem = undefined;
    this.verified.clear();
    this.logger.info("htpasswd file reloaded", { path: this.path, users: parsed.users.size, refused: parsed.problems.length });
  }

  private report(message: string): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.logger.error(message);
  }
}
