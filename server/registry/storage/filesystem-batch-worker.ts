/**
 * One thread of the filesystem driver's batch pool (filesystem-batch.ts): runs each request's
 * operations one after another with synchronous calls, which cost a few microseconds each
 * instead of a round trip through libuv's thread pool.
 */
import { readFileSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { parentPort } from "node:worker_threads";
import type { BatchReply, BatchRequest, NativeInfo } from "./filesystem-batch.js";
import { errorCode, isMissing } from "./filesystem-remove.js";

/** A directory that gains entries while it is being emptied (a concurrent write) is re-read this often. */
const notEmptyRetries = 3;

/** What `run` returns, or null when nothing is at the path (`alsoMissing`: another code that means so). */
function orMissing<T>(run: () => T, alsoMissing?: string): T | null {
  try {
    return run();
  } catch (error) {
    if (isMissing(error) || (alsoMissing !== undefined && errorCode(error) === alsoMissing)) return null;
    throw error;
  }
}

function stat(path: string): NativeInfo | null {
  const info = orMissing(() => statSync(path));
  if (!info) return null;
  const isDir = info.isDirectory();
  // The Date's milliseconds, as `stat` in the main thread reports them (fs mtimeMs has fractions).
  return { size: isDir ? 0 : info.size, modTimeMs: info.mtime.getTime(), isDir };
}

/**
 * Removes a file or a tree like `rm -r`, with readdir + unlink + rmdir and no stat per entry;
 * true when something was there. Entries removed concurrently by someone else are not errors.
 * The synchronous twin of filesystem-remove.ts, which single deletes use on the event loop.
 */
function remove(path: string): boolean {
  if (removeLikeLast(path)) return true;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === "ENOTDIR") return orMissing(() => unlinkSync(path)) !== null;
    if (isMissing(error)) return false;
    throw error;
  }
  lastFiles = entries.every((entry) => !entry.isDirectory()) ? entries.map((entry) => entry.name) : [];
  for (let attempt = 0; ; attempt++) {
    for (const entry of entries) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) remove(child);
      else orMissing(() => unlinkSync(child));
    }
    try {
      rmdirSync(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return true;
      if (errorCode(error) !== "ENOTEMPTY" || attempt === notEmptyRetries) throw error;
    }
    entries = orMissing(() => readdirSync(path, { withFileTypes: true })) ?? [];
  }
}

/**
 * The files of the last directory `remove` read, when it held nothing else. Siblings in a batch
 * mostly look alike (a blob directory holds `data`, a link directory `link`), so the next one is
 * first removed by those names without reading it: a third fewer calls, and the sweep of a
 * large collection is made of little else.
 */
let lastFiles: string[] = [];

/**
 * True when unlinking `lastFiles` in `path` left it empty and it is gone. Any failure (a name
 * missing or a directory, more entries, no directory at all) leaves the rest to the full removal.
 */
function removeLikeLast(path: string): boolean {
  if (lastFiles.length === 0) return false;
  try {
    for (const name of lastFiles) unlinkSync(join(path, name));
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}

const operations: { [K in BatchRequest["op"]]: (path: string) => BatchReply["results"][number] } = {
  list: (path) => orMissing(() => readdirSync(path)),
  getContent: (path) => orMissing(() => readFileSync(path), "EISDIR"),
  stat,
  delete: remove,
};

const port = parentPort;
if (!port) throw new Error("filesystem-batch-worker runs as a worker thread");
port.on("message", ({ op, paths }: BatchRequest) => {
  const results: BatchReply["results"] = [];
  for (const path of paths) {
    try {
      results.push(operations[op](path));
    } catch (error) {
      const reply: BatchReply = { results, failure: { path, code: errorCode(error), message: (error as Error).message } };
      port.postMessage(reply);
      return;
    }
  }
  const reply: BatchReply = { results };
  port.postMessage(reply);
});
