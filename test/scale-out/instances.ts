import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { startBerthProcess } from "../support/berth-cli.js";
import { startCeph, type RunningCeph } from "../support/ceph.js";
import { registryConfigYaml } from "../support/distribution.js";
import type { ServerProcess } from "../support/process.js";

export interface SharedSetup {
  /** `storage.s3` parameters: every instance gets the same bucket. */
  s3?: Record<string, unknown>;
  /** Or one filesystem root for all of them. */
  filesystem?: { rootdirectory: string };
  /** Blob GETs answered by the registry itself, not by a redirect to the bucket. */
  noRedirect?: boolean;
  /** Without it the instances share nothing but the storage and the secret. */
  etcdEndpoint?: string;
  secret: string;
}

export interface BerthInstance extends ServerProcess {
  configFile: string;
  /** fetch against the instance; redirects are never followed (Location headers are checked). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * One `berth serve --registry-only` process from the sources, with its own port and console
 * state directory under `dir/<name>`, and everything else shared: the `config.yml` a second
 * instance behind a load balancer would have.
 */
export async function startInstance(dir: string, name: string, shared: SharedSetup): Promise<BerthInstance> {
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  const configFile = join(home, "config.yml");
  const server = await startBerthProcess({
    name: `berth ${name}`,
    // tsx compiles the sources at start; two of them at once on two busy cores take a while.
    startTimeoutMs: 45_000,
    config: async (port) => {
      await writeFile(configFile, configYaml(shared, port, join(home, "state")));
      return configFile;
    },
  });
  return { ...server, configFile, fetch: (path, init = {}) => fetch(server.url + path, { redirect: "manual", ...init }) };
}

function configYaml(shared: SharedSetup, port: number, stateDir: string): string {
  return registryConfigYaml({
    port,
    storage: { ...(shared.s3 && { s3: shared.s3 }), ...(shared.filesystem && { filesystem: shared.filesystem }) },
    noRedirect: shared.noRedirect,
    secret: shared.secret,
    extra: [
      ...(shared.etcdEndpoint ? ["etcd:", `  endpoints: [${JSON.stringify(shared.etcdEndpoint)}]`] : []),
      "console:",
      `  statedir: ${JSON.stringify(stateDir)}`,
    ],
  });
}

/** The `storage.s3` parameters of a fresh bucket on a test radosgw. */
export async function radosgwParams(ceph: RunningCeph): Promise<Record<string, unknown>> {
  return {
    accesskey: ceph.accessKey,
    secretkey: ceph.secretKey,
    region: ceph.region,
    regionendpoint: ceph.endpoint,
    bucket: await ceph.createBucket(),
    rootdirectory: "/registry",
  };
}

/** One storage for several instances and for the test itself to look into. */
export interface OpenedStorage {
  setup: Pick<SharedSetup, "s3" | "filesystem">;
  /** The `storage:` lines (indented by two) of a config.yml on it, for other processes. */
  storageYaml: string[];
  driver: StorageDriver;
  close(): Promise<void>;
}

/** The storages a multi-instance suite runs on: a filesystem root, then a radosgw bucket. */
export const sharedStorages: { name: string; open(dir: string): Promise<OpenedStorage> }[] = [
  {
    name: "filesystem",
    async open(dir) {
      const filesystem = { rootdirectory: join(dir, "registry") };
      return {
        setup: { filesystem },
        storageYaml: [`  filesystem: ${JSON.stringify(filesystem)}`],
        driver: createDriver("filesystem", filesystem),
        close: async () => undefined,
      };
    },
  },
  {
    name: "s3 (radosgw)",
    async open() {
      const ceph = await startCeph();
      const s3 = await radosgwParams(ceph);
      return { setup: { s3 }, storageYaml: [`  s3: ${JSON.stringify(s3)}`], driver: createDriver("s3", s3), close: () => ceph.stop() };
    },
  },
];
