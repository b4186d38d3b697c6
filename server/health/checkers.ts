import { stat } from "node:fs/promises";
import { connect } from "node:net";
import { resolve } from "node:path";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";

export type CheckKind = "storagedriver" | "file" | "http" | "tcp";

/**
 * One health check: resolves when the target is healthy, rejects with the reason when not.
 * `name` is the key distribution reports it under in /debug/health.
 */
export interface Checker {
  readonly kind: CheckKind;
  readonly name: string;
  /** `timeoutMs` bounds the check, so a target that never answers fails instead of hanging. */
  check(timeoutMs: number): Promise<void>;
}

/** The storage answers a stat of its root ("not found" is an answer: an empty storage). */
export class StorageDriverChecker implements Checker {
  readonly kind = "storagedriver";
  readonly name: string;

  constructor(private readonly driver: StorageDriver) {
    this.name = `storagedriver_${driver.name}`;
  }

  async check(timeoutMs: number): Promise<void> {
    await withTimeout(
      this.driver.stat("/").then(
        () => undefined,
        (error: unknown) => {
          if (!isNotFound(error)) throw error;
        },
      ),
      timeoutMs,
      "the storage driver did not answer",
    );
  }
}

/** Healthy while the file is absent: an operator takes an instance out of rotation by creating it. */
export class FileChecker implements Checker {
  readonly kind = "file";

  constructor(readonly name: string) {}

  async check(): Promise<void> {
    try {
      await stat(resolve(this.name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    throw new Error("file exists");
  }
}

export interface HttpTarget {
  uri: string;
  headers?: Record<string, string[]>;
  /** The status a healthy target answers (default 200). */
  statuscode?: number;
}

/** A HEAD of `uri` answers the expected status. */
export class HttpChecker implements Checker {
  readonly kind = "http";
  readonly name: string;

  constructor(private readonly target: HttpTarget) {
    this.name = target.uri;
  }

  async check(timeoutMs: number): Promise<void> {
    const headers = new Headers();
    for (const [header, values] of Object.entries(this.target.headers ?? {})) for (const value of values) headers.append(header, value);
    let status: number;
    try {
      const res = await fetch(this.target.uri, { method: "HEAD", headers, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      status = res.status;
      await res.body?.cancel();
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`${this.target.uri}: error while checking: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const expected = this.target.statuscode ?? 200;
    if (status !== expected) throw new Error(`${this.target.uri}: downstream service returned unexpected status: ${status}`);
  }
}

/** A TCP connection to `addr` (host:port) opens. */
export class TcpChecker implements Checker {
  readonly kind = "tcp";

  constructor(readonly name: string) {}

  check(timeoutMs: number): Promise<void> {
    const at = this.name.lastIndexOf(":");
    const host = this.name.slice(0, Math.max(at, 0)).replace(/^\[(.*)\]$/, "$1") || "localhost";
    const port = Number(this.name.slice(at + 1));
    return new Promise((resolveCheck, reject) => {
      if (at < 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
        reject(new Error(`${this.name}: not a host:port address`));
        return;
      }
      const socket = connect({ host, port, timeout: timeoutMs });
      const fail = (reason: string) => {
        socket.destroy();
        reject(new Error(`${this.name}: connection failed: ${reason}`));
      };
      socket.once("connect", () => {
        socket.destroy();
        resolveCheck();
      });
      socket.once("timeout", () => fail(`no connection within ${timeoutMs} ms`));
      socket.once("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    });
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
