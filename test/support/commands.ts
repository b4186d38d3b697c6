/**
 * Locating external binaries, and failing with the package to install when one is missing: `npm
 * test` installs every tool the tests drive (scripts/test.mjs), so a missing one is a broken setup
 * that must fail the tests needing it, never a reason to skip them.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** Where Debian installs binaries; daemons such as mariadbd sit in sbin, often not on a user's PATH. */
const systemDirs = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The Debian package providing each command the tests run. */
const debianPackages: Record<string, string> = {
  skopeo: "skopeo",
  etcd: "etcd-server",
  "docker-registry": "docker-registry",
  openssl: "openssl",
  base32: "coreutils",
  tar: "tar",
  mariadbd: "mariadb-server",
  "mariadb-install-db": "mariadb-server",
  monmaptool: "ceph-mon",
  "ceph-mon": "ceph-mon",
  "ceph-osd": "ceph-osd",
  radosgw: "radosgw",
  "radosgw-admin": "radosgw",
  ceph: "ceph-common",
  curl: "curl",
};

/** Absolute path of an executable found on PATH or in Debian's binary directories (or the path itself when given one), else null. */
export function findCommand(name: string): string | null {
  const candidates = isAbsolute(name)
    ? [name]
    : [...(process.env.PATH ?? "").split(delimiter), ...systemDirs].filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return null;
}

/**
 * Throws an error naming the missing commands and the Debian packages to install. Call it in a
 * suite's first `before` hook (or a test's first line), so every test that needs the tool fails
 * with this message instead of an ENOENT halfway through.
 */
export function requireCommands(...names: string[]): void {
  const missing = names.filter((name) => findCommand(name) === null);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((name) => debianPackages[name] ?? name))];
  throw new Error(
    `missing command(s) ${missing.join(", ")}: install ${packages.join(", ")} ` +
      `(Debian: apt-get install -y --no-install-recommends ${packages.join(" ")}; npm test does this when run as root)`,
  );
}
