import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/**
 * A small pool of worker threads that run the filesystem driver's batch operations with
 * synchronous calls (filesystem-batch-worker.ts).
 *
 * Why: a scan of a large registry is tens of thousands of readdirs, reads, stats and unlinks of
 * tiny files. Through libuv each one is a hand-off to its thread pool and back, which costs more
 * than the call itself and keeps the event loop busy; garbage collection spent most of its time
 * there. Here a thread runs a chunk of calls back to back and answers once. Several threads run
 * at once because unlink and rmdir mostly wait on the disk's journal, and that waiting overlaps;
 * reads run on as many threads as there are cores.
 *
 * Threads start on demand, up to `threads`, and stop after `idleMs` without work, so a registry
 * that is not scanning holds none. A thread's failure rejects what it was running; the next call
 * starts a new one.
 */

export type BatchOperation = "list" | "getContent" | "stat" | "delete";

export interface NativeInfo {
  size: number;
  modTimeMs: number;
  isDir: boolean;
}

/** One chunk of work for a thread: the same operation on native paths. */
export interface BatchRequest {
  op: BatchOperation;
  paths: string[];
}

/**
 * Per path: `null` for nothing there (delete: `false`), else the listing's names, the content,
 * the stat, or `true` for a delete that removed something. A failure ends the chunk early.
 */
export interface BatchReply {
  results: (string[] | Uint8Array | NativeInfo | boolean | null)[];
  failure?: { path: string; code: string | undefined; message: string };
}

/** A failure of one path in a batch, shaped like the Node error it was (`code`, `path`). */
export class BatchPathError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "BatchPathError";
  }
}

/** Paths per message: large enough to amortise the hand-off, small enough to spread over threads. */
const chunkSize = 32;

interface Chunk {
  request: BatchRequest;
  resolve: (results: BatchReply["results"]) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  /** What the thread is running; undefined when idle. */
  current: Chunk | undefined;
}

export class FilesystemBatchPool {
  private readonly threads: Thread[] = [];
  private readonly queue: Chunk[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxThreads = 8,
    private readonly idleMs = 5_000,
    private readonly maxReaders = Math.min(maxThreads, availableParallelism()),
  ) {}

  /** Runs `op` on every path, spread over the threads; results in input order. */
  async run(op: BatchOperation, paths: readonly string[]): Promise<BatchReply["results"]> {
    const chunks: Promise<BatchReply["results"]>[] = [];
    for (let start = 0; start < paths.length; start += chunkSize) {
      const request: BatchRequest = { op, paths: paths.slice(start, start + chunkSize) };
      chunks.push(new Promise((resolve, reject) => this.queue.push({ request, resolve, reject })));
    }
    this.dispatch();
    return (await Promise.all(chunks)).flat();
  }

  /** Stops every thread now; work in flight is rejected. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await Promise.all(this.threads.splice(0).map((thread) => thread.worker.terminate()));
  }

  private dispatch(): void {
    clearTimeout(this.idleTimer);
    for (;;) {
      const index = this.nextChunk();
      if (index < 0) break;
      const thread = this.threads.find((candidate) => !candidate.current) ?? (this.threads.length < this.maxThreads ? this.start() : undefined);
      if (!thread) break;
      this.give(thread, this.queue.splice(index, 1)[0] as Chunk);
    }
    if (this.queue.length === 0 && this.threads.every((thread) => !thread.current)) {
      this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  /**
   * The queue's first chunk a thread may take now (-1: none). Reads are answered from the page
   * cache and want the CPU: more of them at once than there are cores only takes it from the
   * main thread, which handles their results. Deletes wait on the disk's journal and take every
   * thread.
   */
  private nextChunk(): number {
    const reading = this.threads.filter((thread) => thread.current && thread.current.request.op !== "delete").length;
    return reading < this.maxReaders ? (this.queue.length > 0 ? 0 : -1) : this.queue.findIndex((chunk) => chunk.request.op === "delete");
  }

  private give(thread: Thread, chunk: Chunk): void {
    thread.current = chunk;
    // A busy thread keeps the process alive (someone awaits its answer); an idle one must not.
    thread.worker.ref();
    thread.worker.postMessage(chunk.request);
  }

  private start(): Thread {
    const worker = startWorker();
    const thread: Thread = { worker, current: undefined };
    worker.on("message", (reply: BatchReply) => {
      const chunk = thread.current;
      thread.current = undefined;
      worker.unref();
      if (chunk) {
        if (reply.failure) chunk.reject(new BatchPathError(reply.failure.path, reply.failure.code, reply.failure.message));
        else chunk.resolve(reply.results);
      }
      this.dispatch();
    });
    const fail = (error: Error) => {
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      thread.current?.reject(error);
      thread.current = undefined;
      this.dispatch();
    };
    worker.on("error", fail);
    worker.on("exit", (exitCode) => fail(new Error(`filesystem batch thread exited (code ${exitCode})`)));
    this.threads.push(thread);
    return thread;
  }
}

/**
 * The worker entry next to this module: compiled JavaScript in a build. From TypeScript sources
 * (tests, `npm run dev`, the bench) the thread registers tsx itself first, because Node 20 does
 * not apply the parent's module hooks to a worker's entry module.
 */
function startWorker(): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const entry = new URL(`./filesystem-batch-worker.${fromSources ? "ts" : "js"}`, import.meta.url);
  if (!fromSources) return new Worker(entry);
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}
