/**
 * A real Redis (Debian's redis-server) on a free loopback port, without persistence, killed
 * when the test process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { probeRedis } from "../../server/registry/blob-cache/redis.js";
import { eventually } from "../support/eventually.js";
import { freePort } from "../support/net.js";

export interface RedisServer {
  addr: string;
  child: ChildProcess;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const addr = `127.0.0.1:${port}`;
  await eventually(async () => (await probeRedis({ addr })) === undefined, 10_000, `redis-server on ${addr} answering PING`);
  return {
    addr,
    child,
    kill: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
