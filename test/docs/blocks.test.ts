/**
 * The marked blocks of the operator pages: how they are read, and that every one of them is run by
 * the page's runner (a test/docs test, or scripts/image/smoke.sh for the container page), so no
 * command on a page goes untested unnoticed.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { docBlocks } from "./blocks.mjs";
import { repoRoot } from "./harness.js";

const runners: Record<string, { file: string; runs: (name: string) => RegExp }> = {
  "deploy-container.md": { file: "scripts/image/smoke.sh", runs: (name) => new RegExp(`^\\s*doc ${name}\\b`, "m") },
  "reverse-proxy-tls.md": { file: "test/docs/reverse-proxy.test.ts", runs: byTest },
  "migrate-from-distribution.md": { file: "test/docs/migrate.test.ts", runs: byTest },
  "scale-out.md": { file: "test/docs/scale-out.test.ts", runs: byTest },
  "backup-restore.md": { file: "test/docs/backup.test.ts", runs: byTest },
};

function byTest(name: string): RegExp {
  return new RegExp(`page\\.(run|serve|attempt)\\("${name}"`);
}

test("every marked block of every operator page is run by that page's runner", async () => {
  for (const [page, runner] of Object.entries(runners)) {
    const blocks = docBlocks(await readFile(join(repoRoot, "docs", page), "utf8"));
    assert.ok(blocks.size >= 2, `${page}: ${blocks.size} marked blocks`);
    const source = await readFile(join(repoRoot, runner.file), "utf8");
    for (const name of blocks.keys()) assert.match(source, runner.runs(name), `${page}: block "${name}" is not run by ${runner.file}`);
  }
});

test("blocks: after their marker, indented in list items, sh or bash; errors name the line", () => {
  const markdown = [
    "text",
    "<!-- test: one -->",
    "",
    "```sh",
    "echo one",
    "```",
    "1. step",
    "",
    "   <!-- test: two -->",
    "   ```bash",
    "   cat > f <<EOF",
    "     indented",
    "   EOF",
    "   ```",
    "```sh",
    "echo unmarked",
    "```",
  ].join("\n");
  assert.deepEqual([...docBlocks(markdown)], [
    ["one", "echo one\n"],
    ["two", "cat > f <<EOF\n  indented\nEOF\n"],
  ]);
  assert.throws(() => docBlocks("<!-- test: x -->\ntext\n"), /line 1: <!-- test: x --> is not followed by a ```sh block/);
  assert.throws(() => docBlocks("<!-- test: x -->\n```sh\necho\n"), /the block "x" is not closed/);
  assert.throws(() => docBlocks("<!-- test: x -->\n```sh\n```\n<!-- test: x -->\n```sh\n```\n"), /line 4: a second block named "x"/);
});
