import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

// In a child process: the test runner catches these errors itself in its own process.
const script = `
import { createLogger } from "./server/log.ts";
import { guardProcess } from "./server/process-guard.ts";
guardProcess(createLogger({ level: "error" }));
setImmediate(() => { throw new Error("thrown from a stream callback"); });
void Promise.reject(new Error("rejected, never awaited"));
setTimeout(() => process.stdout.write("still serving"), 100);
`;

test("an error no handler caught is logged, and the process goes on", () => {
  const root = new URL("..", import.meta.url).pathname;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, "still serving");
  assert.match(child.stderr, /uncaught exception; still serving.*thrown from a stream callback/);
  assert.match(child.stderr, /unhandled promise rejection; still serving.*rejected, never awaited/);
});
