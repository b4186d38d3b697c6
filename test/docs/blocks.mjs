#!/usr/bin/env node
// The commands of the operator docs that tests run: a fenced ```sh block right after a line
// `<!-- test: NAME -->` (blank lines between are allowed; both may be indented, in a list item). Used by test/docs/*.test.ts and by
// scripts/image/smoke.sh, so the docs' commands are the ones tested, not a copy.
//   node test/docs/blocks.mjs FILE.md NAME    prints the block's text (exit 1 when there is none)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const marker = /^\s*<!--\s*test:\s*([a-z0-9][a-z0-9-]*)\s*-->\s*$/;

/** Every marked block of a markdown text, by name, in order; a name used twice is an error. */
export function docBlocks(markdown) {
  const lines = markdown.split("\n");
  const blocks = new Map();
  for (let i = 0; i < lines.length; i++) {
    const name = marker.exec(lines[i])?.[1];
    if (name === undefined) continue;
    let start = i + 1;
    while (start < lines.length && lines[start].trim() === "") start++;
    const fence = /^(\s*)```(sh|bash)\s*$/.exec(lines[start] ?? "");
    if (!fence) throw new Error(`line ${i + 1}: <!-- test: ${name} --> is not followed by a \`\`\`sh block`);
    const end = lines.findIndex((line, j) => j > start && /^\s*```\s*$/.test(line));
    if (end < 0) throw new Error(`line ${start + 1}: the block "${name}" is not closed`);
    if (blocks.has(name)) throw new Error(`line ${i + 1}: a second block named "${name}"`);
    // A block in a list item is indented like its fence: drop that indentation.
    const indent = fence[1].length;
    blocks.set(name, lines.slice(start + 1, end).map((line) => line.slice(Math.min(indent, line.search(/\S|$/)))).join("\n") + "\n");
    i = end;
  }
  return blocks;
}

/** The named block of a markdown file; throws naming the file when it has none. */
export function docBlock(file, name) {
  const block = docBlocks(readFileSync(file, "utf8")).get(name);
  if (block === undefined) throw new Error(`${file} has no block <!-- test: ${name} -->`);
  return block;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, name] = process.argv.slice(2);
  if (!file || !name) {
    console.error("usage: blocks.mjs FILE.md NAME");
    process.exit(2);
  }
  try {
    process.stdout.write(docBlock(file, name));
  } catch (error) {
    console.error(`blocks: ${error.message}`);
    process.exit(1);
  }
}
