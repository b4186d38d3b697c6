import { after } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { startCeph, type RunningCeph } from "../support/ceph.js";

/**
 * One Ceph cluster for the calling test file: started by the first call of the returned function
 * (so a file's tests that need no Ceph run without it), stopped after the file's tests.
 */
export function cephPerFile(): () => Promise<RunningCeph> {
  let cluster: Promise<RunningCeph> | undefined;
  after(async () => {
    if (cluster) await (await cluster).stop();
  });
  return () => (cluster ??= startCeph());
}

/** Writes one chunk and waits until the writer accepted it. */
export function write(writer: NodeJS.WritableStream, chunk: string | Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    writer.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

export interface RequestCounter {
  count(command: string): number;
  total(): number;
  /** "PutObject 3, HeadObject 2, ..." by frequency. */
  summary(): string;
  stop(): void;
}

let counters = 0;

/** Counts the commands an SDK client sends (each call once, whatever its retries) until stop(). */
export function countRequests(client: S3Client): RequestCounter {
  const counts = new Map<string, number>();
  const name = `berthTestCounter${++counters}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName ?? "?", (counts.get(context.commandName ?? "?") ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name },
  );
  return {
    count: (command) => counts.get(command) ?? 0,
    total: () => [...counts.values()].reduce((sum, n) => sum + n, 0),
    summary: () =>
      [...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([command, n]) => `${command.replace(/Command$/, "")} ${n}`)
        .join(", "),
    stop: () => {
      client.middlewareStack.remove(name);
    },
  };
}

/**
 * Peak growth of the process's buffer memory (ArrayBuffers, where Buffers live) while `run`
 * runs, sampled every few milliseconds.
 */
export async function memoryPeak(run: () => Promise<void>): Promise<number> {
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  return peak - baseline;
}
