import assert from "node:assert/strict";
import type { Readable } from "node:stream";
import { StorageError, type StorageDriver, type StorageErrorKind } from "../driver.js";

/** What each group of the driver suite gets from `driverSuite`. */
export interface SuiteContext {
  /** The driver under test (built in the suite's `before`). */
  d: () => StorageDriver;
  /** A fresh top-level directory per test, deleted after it. */
  scratch: () => string;
}

export const MiB = 1 << 20;

export async function rejectsWith(promise: Promise<unknown>, kind: StorageErrorKind, driver: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.equal(error.driver, driver);
    return true;
  });
}

export async function write(writer: NodeJS.WritableStream, chunk: string | Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    writer.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

export async function readBuffer(stream: Promise<Readable>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function readText(stream: Promise<Readable>): Promise<string> {
  return (await readBuffer(stream)).toString("utf8");
}
