#!/usr/bin/env node
// `npm start`: dependencies and build when needed, then `berth serve` on data/config.yml (written
// on first start: filesystem storage under ./data, :5000), or on the config file given after
// `npm start --`.
import { ensureBuild, ensureDependencies, root } from "./prepare.mjs";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * The file `npm start` runs from when given none. Same settings as berth's embedded default
 * (server/config/load.ts), but a file: the console's configuration editor can change it, and
 * `kill -HUP` re-reads it. It lives in ./data (git-ignored), next to what it configures.
 */
const defaultConfig = `# Berth's configuration, written by the first \`npm start\` (it never overwrites it).
# The same file Docker's registry (distribution) reads: version 0.1, the same keys, the same
# REGISTRY_* environment overrides (e.g. REGISTRY_HTTP_ADDR=:5001 npm start). Berth's own keys
# and every rule: server/config/README.md. Check a change: ./bin/berth.js config validate data/config.yml
# The console's Configuration page edits this file; \`kill -HUP <pid>\` re-reads it.
# Relative paths are relative to the directory Berth runs in (the checkout, for npm start).
version: 0.1
log:
  level: info                 # error, warn, info or debug
storage:
  filesystem:
    rootdirectory: ./data     # blobs and manifests under ./data/docker/registry/v2, as distribution lays them out
  delete:
    enabled: true             # DELETE /v2/… and the console's deletes, cleanup and policies
  # maintenance:
  #   readonly:
  #     enabled: true         # refuse pushes and deletes
http:
  addr: :5000                 # registry (/v2/) and console on one port
  # secret: change-me         # needed when several instances share this storage (docs/scale-out.md)
  # tls:
  #   certificate: /etc/berth/tls.crt
  #   key: /etc/berth/tls.key
# auth:                       # who may push and pull; without it, anyone who reaches the port
#   htpasswd:
#     realm: berth
#     path: ./data/htpasswd   # bcrypt entries (htpasswd -B)
# console:
#   enabled: true             # false: the registry API alone
#   statedir: ./data/berth-state   # the console's metadata index (default)
# gc:
#   grace: 10m                # unreferenced blobs younger than this are kept
#   schedule: "0 3 * * *"     # online garbage collection every night at 3
`;

ensureDependencies();
ensureBuild();

const args = process.argv.slice(2);
// `npm start -- [flags…] [config.yml]`: without a file, the generated one.
if (!args.some((arg) => !arg.startsWith("-"))) {
  const file = join(process.cwd(), "data", "config.yml");
  if (!existsSync(file)) {
    mkdirSync(join(process.cwd(), "data"), { recursive: true });
    // 0600: the console's editor may later put secrets in it (passwords, http.secret).
    writeFileSync(file, defaultConfig, { mode: 0o600, flag: "wx" });
    console.log(`berth: wrote ${relative(process.cwd(), file)}, the configuration Berth runs from (edit it, or use the console's Configuration page)`);
  }
  args.push(file);
}

const child = spawn(process.execPath, [join(root, "bin", "berth.js"), "serve", ...args], {
  stdio: "inherit",
  env: { NEXT_TELEMETRY_DISABLED: "1", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
