import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCommand, requireCommands } from "./commands.js";
import { freePort, waitForHttp } from "./net.js";
import { listen, type ListeningServer } from "./server.js";

export interface RunningEtcd {
  /** Client URL, e.g. http://127.0.0.1:23790. */
  endpoint: string;
  stop(): Promise<void>;
  /** Stops answering without losing data, to test "etcd unreachable". */
  pause(): void;
  resume(): void;
}

/** Starts Debian's real etcd on free loopback ports with a throwaway data directory. */
export async function startEtcd(): Promise<RunningEtcd> {
  requireCommands("etcd");
  const binary = findCommand("etcd")!;
  const dir = await mkdtemp(join(tmpdir(), "berth-etcd-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const child = spawn(
    binary,
    [
      "--name", "berth-test",
      "--data-dir", join(dir, "data"),
      "--listen-client-urls", endpoint,
      "--advertise-client-urls", endpoint,
      "--listen-peer-urls", `http://127.0.0.1:${peerPort}`,
      "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
      "--initial-cluster", `berth-test=http://127.0.0.1:${peerPort}`,
      "--log-level", "error",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8192)));
  try {
    await waitForHttp(`${endpoint}/health`, 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`etcd did not start: ${(error as Error).message}\n${output}`);
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
  };
}

export interface FakeEtcd extends ListeningServer {
  /** Requests received so far. */
  requests(): number;
}

/**
 * Not etcd: an endpoint that answers every request the way etcd's `/version` does and counts
 * them, for checks that must reach etcd only when asked to (a dry run, `--connect`).
 */
export async function fakeEtcd(): Promise<FakeEtcd> {
  let requests = 0;
  const server = await listen((_req, res) => {
    requests++;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ etcdserver: "3.5.9" }));
  });
  return { ...server, requests: () => requests };
}
