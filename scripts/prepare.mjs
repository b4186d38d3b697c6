// Shared by `npm start` and `npm test`: install npm dependencies when missing or out of date, and
// rebuild when any source changed since the last build. Both steps are skipped when up to date.
//
// Each step says what it does, and while a step prints nothing for a while it says it is still at
// it (the first install compiles better-sqlite3 and the first build takes minutes). The functions
// stay synchronous for their callers: the step runs in a child `node scripts/prepare.mjs --step …`,
// which forwards the command's output and adds those lines.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const self = fileURLToPath(import.meta.url);
const lockFile = join(root, "package-lock.json");
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
/** Seconds without output after which a running step says it is still running. */
const quietSeconds = 20;

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
  }
}

/** `run`, announced as `title`, with "still …" lines while the command is quiet and its duration at the end. */
export function step(title, command, args, options = {}) {
  const result = spawnSync(process.execPath, [self, "--step", title, "--", command, ...args], { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    throw new Error(`${relative(root, command) || command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
  }
}

function fileHash(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Whether node_modules already holds exactly what the lock pins, by npm's own record of the
 * install (node_modules/.package-lock.json): same versions, nothing extra, nothing missing but
 * optional packages (other platforms' binaries). Spares a checkout whose stamp is stale or missing
 * a reinstall from scratch.
 */
function installMatchesLock() {
  let lock, installed;
  try {
    lock = JSON.parse(readFileSync(lockFile, "utf8")).packages;
    installed = JSON.parse(readFileSync(join(root, "node_modules", ".package-lock.json"), "utf8")).packages;
  } catch {
    return false;
  }
  if (!lock || !installed) return false;
  for (const [path, entry] of Object.entries(lock)) {
    if (path === "") continue;
    const present = installed[path];
    if (present ? present.version !== entry.version : !entry.optional) return false;
  }
  return Object.keys(installed).every((path) => path in lock);
}

export function ensureDependencies() {
  if (existsSync(depsStamp) && readFileSync(depsStamp, "utf8") === fileHash(lockFile)) return;
  if (installMatchesLock()) {
    writeFileSync(depsStamp, fileHash(lockFile));
    return;
  }
  // `npm ci` installs exactly what package-lock.json pins and never rewrites it, so the checkout
  // stays clean. The lock must keep every platform's optional binaries (Next's SWC, Tailwind's
  // oxide): `npm ci` refuses a lock without them (EUSAGE). Install scripts run for the packages
  // package.json's `allowScripts` approves (npm 11; older npm runs them all).
  const first = !existsSync(join(root, "node_modules"));
  step(
    `installing npm dependencies (npm ci${first ? "; the first time takes a few minutes: better-sqlite3 may compile" : ""})`,
    "npm",
    ["ci", "--no-audit", "--no-fund"],
  );
  // Taken after the install, from the lock as it is now: the next start compares against this.
  writeFileSync(depsStamp, fileHash(lockFile));
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
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
  const bin = (name) => join(root, "node_modules", ".bin", name);
  step("compiling the server (tsc → dist/)", bin("tsc"), ["-p", "tsconfig.server.json"], { env });
  step("building the console (next build → .next/; a few minutes the first time)", bin("next"), ["build"], { env });
}

function seconds(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The child side of `step`: runs the command, forwarding its output, and reports progress. */
function runStep(title, command, args) {
  const started = Date.now();
  console.log(`berth: ${title}…`);
  const color = process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: process.env.FORCE_COLOR ?? "1" } : {};
  const child = spawn(command, args, { cwd: root, stdio: ["inherit", "pipe", "pipe"], env: { ...process.env, ...color } });
  let lastOutput = Date.now();
  let atLineStart = true;
  const forward = (stream, out) =>
    stream.on("data", (chunk) => {
      lastOutput = Date.now();
      atLineStart = chunk[chunk.length - 1] === 0x0a;
      out.write(chunk);
    });
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  const verb = title.replace(/ \(.*$/, "");
  const timer = setInterval(() => {
    if (Date.now() - lastOutput < quietSeconds * 1000) return;
    lastOutput = Date.now();
    process.stdout.write(`${atLineStart ? "" : "\n"}berth: still ${verb} (${seconds(Date.now() - started)} so far)…\n`);
    atLineStart = true;
  }, 1000);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => {
    clearInterval(timer);
    console.error(`berth: ${verb}: cannot run ${command}: ${error.message}`);
    process.exit(1);
  });
  child.on("close", (code, signal) => {
    clearInterval(timer);
    if (code === 0) console.log(`berth: done ${verb} in ${seconds(Date.now() - started)}`);
    process.exit(code ?? (signal ? 1 : 0));
  });
}

if (process.argv[1] === self && process.argv[2] === "--step" && process.argv[4] === "--") {
  runStep(process.argv[3], process.argv[5], process.argv.slice(6));
}
