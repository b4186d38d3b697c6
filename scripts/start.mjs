#!/usr/bin/env node
// `npm start`: dependencies and build when needed, then `berth serve` on the embedded default
// (or on the config file given after `npm start --`).
import { ensureBuild, ensureDependencies, root } from "./prepare.mjs";
import { spawn } from "node:child_process";
import { join } from "node:path";

ensureDependencies();
ensureBuild();
const child = spawn(process.execPath, [join(root, "bin", "berth.js"), "serve", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { NEXT_TELEMETRY_DISABLED: "1", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
