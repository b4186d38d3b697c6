#!/usr/bin/env node
// The `berth` command. The CLI is compiled to dist/ by `npm run build` (and by `npm start`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/server/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("berth: not built yet; run `npm run build` (or `npm start`) in the Berth directory first\n");
  process.exit(1);
}
const { run } = await import(entry.href);
run(process.argv.slice(2));
