/** bcrypt as `htpasswd -B` writes it ($2y$), and the other bcrypt prefixes ($2a$, $2b$). */
const bcryptHash = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface ParsedHtpasswd {
  /** user → bcrypt hash */
  users: Map<string, string>;
  /** One message per refused line ("users.htpasswd line 3 is not a valid htpasswd entry: ..."). */
  problems: string[];
  /** Accepted but suspicious: a user listed twice (the later entry wins). */
  warnings: string[];
}

/**
 * Reads `user:hash` lines; blank lines and `#` comments are skipped; only bcrypt hashes are
 * accepted. Messages name lines by number and never quote them: the path may point at a file
 * that is no htpasswd file at all (/etc/shadow), and its content must reach neither the log nor
 * the console's validation. Kept apart from the verifier so config validation does not load bcrypt.
 */
export function parseHtpasswd(text: string, source = "htpasswd"): ParsedHtpasswd {
  const users = new Map<string, string>();
  const lineOf = new Map<string, number>();
  const problems: string[] = [];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const number = index + 1;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hashed = line.slice(colon + 1);
    if (colon <= 0 || !bcryptHash.test(hashed)) {
      problems.push(`${source} line ${number} is not a valid htpasswd entry: expected user:bcrypt-hash ($2a$, $2b$ or $2y$; create entries with \`htpasswd -B\`)`);
      return;
    }
    const earlier = lineOf.get(user);
    if (earlier !== undefined) warnings.push(`${source} line ${number} names the user of line ${earlier} again; the later entry wins`);
    users.set(user, hashed);
    lineOf.set(user, number);
  });
  return { users, problems, warnings };
}
