/**
 * A real Azure Blob Storage API for tests: Azurite (npm devDependency `azurite`), its blob service
 * only, on a free loopback port with its data in a temp directory. The account is made up per
 * run (AZURITE_ACCOUNTS), so nothing depends on the emulator's well-known development key.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { freePort, waitForHttp } from "./net.js";

export interface RunningAzurite {
  /** The account's blob service URL (path style), e.g. `http://127.0.0.1:41234/berth`. */
  serviceURL: string;
  accountName: string;
  accountKey: string;
  /** Creates a container (a fresh unique name unless one is given) and returns its name. */
  createContainer(name?: string): Promise<string>;
  /** What Azurite printed, for assertion messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startAzurite(timeoutMs = 30_000): Promise<RunningAzurite> {
  const dir = await mkdtemp(join(tmpdir(), "berth-azurite-"));
  const port = await freePort();
  const accountName = "berth";
  const accountKey = randomBytes(32).toString("base64");
  const main = join(dirname(createRequire(import.meta.url).resolve("azurite/package.json")), "dist", "src", "blob", "main.js");
  const child = spawn(
    process.execPath,
    [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir, "--skipApiVersionCheck", "--loose", "--silent"],
    { env: { ...process.env, AZURITE_ACCOUNTS: `${accountName}:${accountKey}` }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const append = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-16_384));
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await closed;
    await rm(dir, { recursive: true, force: true });
  };
  const serviceURL = `http://127.0.0.1:${port}/${accountName}`;
  try {
    // Any answer will do (an anonymous request is refused): the port serves.
    await waitForHttp(`http://127.0.0.1:${port}/`, timeoutMs, {
      intervalMs: 50,
      statuses: [400, 403, 404],
      abort: () => (child.exitCode !== null ? `azurite exited (${child.exitCode}): ${output}` : undefined),
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const service = new BlobServiceClient(serviceURL, new StorageSharedKeyCredential(accountName, accountKey));
  return {
    serviceURL,
    accountName,
    accountKey,
    async createContainer(name) {
      const container = name ?? `berth-${randomBytes(6).toString("hex")}`;
      await service.getContainerClient(container).create();
      return container;
    },
    output: () => output,
    stop,
  };
}
