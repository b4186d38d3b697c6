#!/usr/bin/env node
// The `berth` command. The CLI is compiled to dist/ by `npm run build` (and by `npm start`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Storage work (GC walks, index rebuilds, blob I/O) is many small file operations at once: more
// than libuv's default 4 threads keep them flowing. Set before the first asynchronous fs call.
process.env.UV_THREADPOOL_SIZE ??= "16";

const entry = new URL("../dist/server/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("berth: not built yet; run `npm run build` (or `npm start`) in the Berth directory first\n");
  process.exit(1);
}
const { run } = await import(entry.href);
run(process.argv.slice(2));
