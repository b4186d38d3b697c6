import type { Etcd3 } from "etcd3";
import type { EtcdConfig } from "../config/schema.js";

/**
 * One client per process; callers share it and close it on shutdown. etcd3 (and its gRPC stack,
 * about 30 MiB resident) is loaded only by processes configured with etcd.
 */
export async function createEtcdClient(config: EtcdConfig): Promise<Etcd3> {
  const { Etcd3 } = await import("etcd3");
  return new Etcd3({
    hosts: config.endpoints,
    ...(config.username ? { auth: { username: config.username, password: config.password ?? "" } } : {}),
    dialTimeout: config.dialtimeout ?? 5_000,
  });
}
