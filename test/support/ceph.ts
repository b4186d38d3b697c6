/**
 * A real S3 server for tests: Debian's Ceph (16.2 "pacific") as a one-node cluster on loopback.
 *
 *   apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
 *
 * One monitor, one OSD on the in-memory object store (memstore: nothing touches the disk), and
 * radosgw serving S3 on a free loopback port, with authentication between the daemons switched
 * off (cephx none; S3 requests are still signed and checked with the user's keys). Start-up takes
 * about a second: the monitor's Paxos proposal interval is cut from 1 s to 10 ms, which is what
 * otherwise makes every pool radosgw creates cost a second or two.
 *
 * Facts that matter here: radosgw's beast front end must get `tcp_nodelay=1`, or every response
 * with a body waits ~40 ms for a delayed ACK; with cephx off the clients need
 * `ms mon client mode = crc` (radosgw fails with -13 otherwise); radosgw 16.2 has no standalone
 * backend, so the monitor and OSD are really needed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { findCommand, requireCommands } from "./commands.js";
import { freePort, waitForHttp } from "./net.js";

/** Binaries startCeph runs (commands.ts names the Debian package of each). */
export const cephCommands = ["monmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph"];

export interface RunningCeph {
  /** radosgw's S3 endpoint, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /** Any region works with radosgw's default zone group; this is what the tests sign with. */
  region: string;
  accessKey: string;
  secretKey: string;
  /** An S3 client for the created user (path-style, plain HTTP, no SDK checksums). */
  client: S3Client;
  /** Creates a bucket (a fresh unique name unless one is given) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /**
   * The user's Swift subuser (created on first call), for radosgw's Swift API: TempAuth-style
   * v1 authentication at `authURL` with `X-Auth-User: user` and `X-Auth-Key: key`.
   */
  swift(): Promise<{ authURL: string; user: string; key: string }>;
  /** Requests radosgw has served since it started (its `rgw.req` performance counter). */
  requests(): Promise<number>;
  /** radosgw's own log (file), for assertion messages. */
  logs(): Promise<string>;
  /** Kills every daemon and removes the cluster's directory; safe to call more than once. */
  stop(): Promise<void>;
}

export interface CephOptions {
  /** Memory the OSD's memstore may use, in bytes. Default 8 GiB (only what is stored is allocated). */
  memstoreBytes?: number;
  /** Overall start-up deadline. Default 60 s. */
  timeoutMs?: number;
  /**
   * Default true. false leaves Nagle's algorithm on in radosgw's front end, as its default
   * configuration does: each response with a body then waits ~40 ms for a delayed ACK.
   */
  tcpNoDelay?: boolean;
}

const ATTEMPTS = 3;

/** Starts a one-node cluster on loopback; see the file comment. */
export async function startCeph(options: CephOptions = {}): Promise<RunningCeph> {
  requireCommands(...cephCommands);
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      // Ports are picked free but can be taken before a daemon binds them: retry on new ones.
      if (!/address already in use|bind|EADDRINUSE/i.test(String((error as Error).message))) throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: CephOptions): Promise<RunningCeph> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const dir = await mkdtemp(join(tmpdir(), "berth-ceph-"));
  const daemons: Daemon[] = [];
  let client: S3Client | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      client?.destroy();
      // The watchdog goes first: it must not signal pids that are about to be reused.
      watchdog.kill("SIGKILL");
      await Promise.all(daemons.map((daemon) => daemon.kill()));
      process.removeListener("exit", killAllSync);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  // A test process that exits without calling stop() must not leave daemons behind...
  const killAllSync = () => {
    for (const daemon of daemons) daemon.killSync();
  };
  process.once("exit", killAllSync);
  // ...nor one that is killed (a test runner's timeout, SIGKILL): a shell that waits for the end
  // of a pipe only this process holds, then kills the daemons listed in `pids` and removes `dir`.
  const watchdog = spawn(
    "sh",
    ["-c", 'cat >/dev/null; if [ -f "$1/pids" ]; then kill -9 $(cat "$1/pids") 2>/dev/null; fi; rm -rf "$1"', "berth-ceph-watchdog", dir],
    { stdio: ["pipe", "ignore", "ignore"], detached: true },
  );
  watchdog.on("error", () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const track = async (daemon: Daemon) => {
    daemons.push(daemon);
    if (daemon.pid !== undefined) await appendFile(join(dir, "pids"), `${daemon.pid}\n`);
  };

  try {
    const monPort = await freePort();
    const rgwPort = await freePort();
    const fsid = randomUUID();
    const conf = join(dir, "ceph.conf");
    for (const sub of ["mon", "osd/0", "run", "log"]) await mkdir(join(dir, sub), { recursive: true });
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, options.memstoreBytes ?? 8 * 1024 ** 3, options.tcpNoDelay ?? true));
    const env = cephEnv();

    await run("monmaptool", ["--create", "--addv", "a", `[v2:127.0.0.1:${monPort}]`, "--fsid", fsid, join(dir, "monmap")], env, deadline);
    await run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", join(dir, "monmap")], env, deadline);
    await track(startDaemon("ceph-mon", ["-c", conf, "-i", "a", "-f"], join(dir, "log", "mon.out"), env));

    // Registers OSD 0 with the monitor (this also waits for the monitor to answer).
    const osdUuid = randomUUID();
    await run("ceph", ["-c", conf, "--connect-timeout", "15", "osd", "new", osdUuid], env, deadline, daemons);
    await run("ceph-osd", ["-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osdUuid], env, deadline);
    await track(startDaemon("ceph-osd", ["-c", conf, "-i", "0", "-f"], join(dir, "log", "osd.out"), env));
    await track(startDaemon("radosgw", ["-c", conf, "-n", "client.rgw", "-f"], join(dir, "log", "rgw.out"), env));

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(`${endpoint}/`, Math.max(deadline - Date.now(), 1), {
      intervalMs: 50,
      abort: () => {
        const dead = daemons.find((daemon) => daemon.exited());
        return dead ? `${dead.name} exited (${dead.exited()})` : undefined;
      },
    });

    const accessKey = `BERTH${randomBytes(8).toString("hex").toUpperCase()}`;
    const secretKey = randomBytes(24).toString("base64url");
    await run(
      "radosgw-admin",
      ["-c", conf, "-n", "client.admin", "user", "create", "--uid=berth", "--display-name=berth", `--access-key=${accessKey}`, `--secret-key=${secretKey}`],
      env,
      deadline,
      daemons,
    );

    const region = "us-east-1";
    client = new S3Client({
      region,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const s3 = client;
    let swift: Promise<{ authURL: string; user: string; key: string }> | undefined;
    const admin = (args: string[]) => run("radosgw-admin", ["-c", conf, "-n", "client.admin", ...args], env, Date.now() + 30_000, daemons);
    return {
      endpoint,
      region,
      accessKey,
      secretKey,
      client: s3,
      async createBucket(name) {
        const bucket = name ?? `berth-${randomBytes(6).toString("hex")}`;
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        return bucket;
      },
      swift: () =>
        (swift ??= (async () => {
          const key = randomBytes(24).toString("base64url");
          await admin(["subuser", "create", "--uid=berth", "--subuser=berth:swift", "--access=full"]);
          await admin(["key", "create", "--subuser=berth:swift", "--key-type=swift", `--secret=${key}`]);
          return { authURL: `${endpoint}/auth/v1.0`, user: "berth:swift", key };
        })()),
      requests: async () => {
        const dump = await run("ceph", ["--admin-daemon", join(dir, "run", "client.rgw.asok"), "perf", "dump", "rgw"], env, Date.now() + 10_000);
        const count = (JSON.parse(dump) as { rgw?: { req?: unknown } }).rgw?.req;
        if (typeof count !== "number") throw new Error(`radosgw's perf dump has no rgw.req: ${dump.slice(0, 300)}`);
        return count;
      },
      logs: async () => {
        const parts = await Promise.all(
          ["client.rgw.log", "rgw.out"].map((name) => readFile(join(dir, "log", name), "utf8").catch(() => "")),
        );
        return parts.join("\n");
      },
      stop,
    };
  } catch (error) {
    const logs = await Promise.all(
      ["mon.out", "osd.out", "rgw.out", "mon.a.log", "client.rgw.log"].map(async (name) => {
        const text = await readFile(join(dir, "log", name), "utf8").catch(() => "");
        return text ? `--- ${name}\n${text.slice(-4000)}` : "";
      }),
    );
    await stop();
    throw new Error(`ceph did not start: ${(error as Error).message}\n${logs.filter(Boolean).join("\n")}`, { cause: error });
  }
}

/**
 * Everything in one file under `dir`. Settings, by purpose: no cephx; one replica and few PGs per
 * pool so one OSD can hold every pool radosgw creates; memstore; a fast Paxos so that start-up
 * (pool creation) is not paced at one map change per second; radosgw's garbage collection quick
 * enough to give memory back during a test run; no usage or ops logs.
 */
function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, memstoreBytes: number, tcpNoDelay: boolean): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
keyring = /dev/null
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.01
paxos min wait = 0.001

[mon]
mon data = ${dir}/mon/$id

[osd]
osd data = ${dir}/osd/$id
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}

[client]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}${tcpNoDelay ? " tcp_nodelay=1" : ""}
rgw thread pool size = 64
rgw enable usage log = false
rgw enable ops log = false
rgw dynamic resharding = false
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw gc processor max time = 10
`;
}

/** The daemons and tools read no user configuration but ours; CEPH_* from the caller must not leak in. */
function cephEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("CEPH_") || key === "AWS_CA_BUNDLE") delete env[key];
  return env;
}

function binary(name: string): string {
  requireCommands(name);
  return findCommand(name)!;
}

/** Runs a tool to completion; fails with its output on a non-zero exit or at the deadline. */
function run(name: string, args: string[], env: NodeJS.ProcessEnv, deadline: number, daemons: Daemon[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary(name), args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const append = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-16_384));
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    // A daemon that died (say, on a port taken meanwhile) makes waiting for it pointless.
    const watch = setInterval(() => {
      const dead = daemons.find((daemon) => daemon.exited());
      if (dead) {
        child.kill("SIGKILL");
        reject(new Error(`${dead.name} exited (${dead.exited()}) while running ${name}`));
      }
    }, 100);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} ${args.join(" ")} timed out\n${output}`));
    }, Math.max(deadline - Date.now(), 1));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${name} ${args.join(" ")} failed (${signal ?? `exit ${code}`})\n${output}`));
    });
  });
}

interface Daemon {
  name: string;
  pid: number | undefined;
  /** Why it exited, or undefined while it runs. */
  exited(): string | undefined;
  kill(): Promise<void>;
  killSync(): void;
}

/** A daemon in the foreground (-f), its stdout/stderr in `logPath`; stop() kills it (memstore keeps nothing worth a clean shutdown). */
function startDaemon(name: string, args: string[], logPath: string, env: NodeJS.ProcessEnv): Daemon {
  const log = createWriteStream(logPath);
  const child: ChildProcess = spawn(binary(name), args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exit: string | undefined;
  const closed = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      exit ??= error.message;
      resolve();
    });
    child.once("close", (code, signal) => {
      exit ??= signal ?? `exit ${code}`;
      log.end();
      resolve();
    });
  });
  return {
    name,
    pid: child.pid,
    exited: () => exit,
    async kill() {
      if (exit === undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await closed;
    },
    killSync() {
      if (exit === undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
