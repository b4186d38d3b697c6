// Shared by `npm start` and `npm test`: install npm dependencies when missing or out of date, and
// rebuild when any source changed since the last build. Both steps are skipped when up to date.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

export const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const depsStamp = join(root, "node_modules", ".berth-deps");
const buildStamp = join(root, ".build-stamp");
const buildInputs = [
  "app",
  "components",
  "server",
  "bin",
  "public",
  "next.config.js",
  "postcss.config.mjs",
  "tsconfig.json",
  "tsconfig.server.json",
  "package-lock.json",
];

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
  }
}

function fileHash(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function ensureDependencies() {
  const wanted = fileHash(join(root, "package-lock.json"));
  if (existsSync(depsStamp) && readFileSync(depsStamp, "utf8") === wanted) return;
  // `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional binaries
  // (Next's SWC, Tailwind's oxide) out of the lock file and `npm ci` then refuses it; install
  // still keeps every version the lock file pins.
  console.log("berth: installing npm dependencies…");
  run("npm", ["install", "--no-audit", "--no-fund"]);
  writeFileSync(depsStamp, wanted);
}

function sourceFingerprint() {
  const hash = createHash("sha256");
  const visit = (path) => {
    if (!existsSync(path)) return;
    const info = statSync(path);
    if (info.isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
    } else if (!path.endsWith(".test.ts")) {
      hash.update(`${relative(root, path)}\0${info.size}\0${info.mtimeMs}\n`);
    }
  };
  for (const input of buildInputs) visit(join(root, input));
  return hash.digest("hex");
}

export function ensureBuild() {
  const fingerprint = sourceFingerprint();
  const built =
    existsSync(buildStamp) &&
    readFileSync(buildStamp, "utf8") === fingerprint &&
    existsSync(join(root, ".next", "BUILD_ID")) &&
    existsSync(join(root, "dist", "server", "cli", "main.js"));
  if (built) return;
  build();
  writeFileSync(buildStamp, fingerprint);
}

export function build() {
  console.log("berth: building the console and the server…");
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
  run("npx", ["tsc", "-p", "tsconfig.server.json"], { env });
  run("npx", ["next", "build"], { env });
}
