#!/usr/bin/env node
// Removes from a staged Berth (built, production dependencies only) what the running server never
// loads, to keep the container image small: Next's build-time compiler (SWC) and image optimizer
// (sharp: the console uses no next/image), Next's ESM copy and development runtimes, source maps,
// TypeScript declarations, and better-sqlite3's C sources and object files (its .node stays).
// Usage: node trim.mjs <staged app dir>. Prints what it freed.
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const app = process.argv[2];
if (!app || !existsSync(join(app, "node_modules"))) {
  console.error("usage: trim.mjs <dir with node_modules>");
  process.exit(2);
}
const modules = join(app, "node_modules");
let freed = 0;

function size(path) {
  const info = lstatSync(path);
  if (!info.isDirectory()) return info.size;
  return readdirSync(path).reduce((sum, entry) => sum + size(join(path, entry)), 0);
}
function remove(path) {
  if (!existsSync(path)) return;
  freed += size(path);
  rmSync(path, { recursive: true, force: true });
}

// Whole packages the server does not load at run time.
for (const scope of ["@next", "@img"]) {
  const dir = join(modules, scope);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    if (scope === "@img" || name.startsWith("swc-")) remove(join(dir, name));
  }
}
remove(join(modules, "sharp"));
remove(join(modules, "next", "dist", "esm"));
// Optional peers of Next that a development install brings (typescript, Playwright).
for (const name of ["typescript", "playwright", "playwright-core", "@playwright"]) remove(join(modules, name));

// Next's development-only runtimes (the image runs `next({ dev: false })`).
const nextServer = join(modules, "next", "dist", "compiled", "next-server");
if (existsSync(nextServer)) {
  for (const name of readdirSync(nextServer)) if (name.endsWith(".dev.js")) remove(join(nextServer, name));
}

// Next's vendored packages (next/dist/compiled/*) that no trace of the build names: Next's own
// output file tracing (.next/**/*.nft.json, what `output: "standalone"` copies) lists every file
// the production server and the built pages load; the rest are its compiler, bundler and dev tools.
// Next's own startup (next/dist/server/next.js and its config loading, which the traces of a
// non-standalone build leave out) also loads these: recorded with a require hook while serving
// every console page, logged in, on Next 16. The image's smoke test opens the pages again.
const traced = new Set([
  "@babel/runtime", "@edge-runtime/cookies", "@opentelemetry/api", "@vercel/detect-agent", "bytes", "ci-info",
  "commander", "comment-json", "compression", "cookie", "cross-spawn", "debug", "find-up", "fresh", "is-docker",
  "nanoid", "next-server", "p-limit", "p-queue", "path-to-regexp", "picomatch", "semver", "send", "source-map",
  "stacktrace-parser", "superstruct", "webpack", "zod", "zod-validation-error",
]);
let traceFiles = 0;
function readTraces(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "cache") readTraces(path);
    } else if (entry.name.endsWith(".nft.json")) {
      traceFiles += 1;
      for (const file of JSON.parse(readFileSync(path, "utf8")).files) {
        const match = /next\/dist\/compiled\/((?:@[^/]+\/)?[^/]+)/.exec(resolve(dir, file));
        if (match) traced.add(match[1]);
      }
    }
  }
}
const compiled = join(modules, "next", "dist", "compiled");
if (existsSync(join(app, ".next")) && existsSync(compiled)) {
  readTraces(join(app, ".next"));
  if (traceFiles === 0) throw new Error("trim: no Next traces (.nft.json) in .next; refusing to trim next/dist/compiled");
  for (const entry of readdirSync(compiled)) {
    const names = entry.startsWith("@") ? readdirSync(join(compiled, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) if (!traced.has(name)) remove(join(compiled, name));
  }
}

// better-sqlite3: only build/Release/better_sqlite3.node is loaded.
const sqlite = join(modules, "better-sqlite3");
remove(join(sqlite, "deps"));
remove(join(sqlite, "src"));
const release = join(sqlite, "build", "Release");
if (existsSync(release)) {
  for (const name of readdirSync(release)) if (name !== "better_sqlite3.node") remove(join(release, name));
}
for (const name of ["node_gyp_bins", "deps", "config.gypi", "Makefile", "binding.Makefile"]) {
  const path = join(sqlite, "build", name);
  if (name !== "Release") remove(path);
}

// Source maps, declarations and docs anywhere under node_modules.
function sweep(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sweep(path);
    else if (/\.(map|d\.ts|d\.mts|d\.cts|md|markdown)$/i.test(entry.name) && !/^license/i.test(entry.name)) remove(path);
  }
}
sweep(modules);

console.log(`trim: freed ${(freed / 1048576).toFixed(1)} MiB`);
