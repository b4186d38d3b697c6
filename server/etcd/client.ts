import { Etcd3 } from "etcd3";
import type { EtcdConfig } from "../config/schema.js";

/** One client per process; callers share it and close it on shutdown. */
export function createEtcdClient(config: EtcdConfig): Etcd3 {
  return new Etcd3({
    hosts: config.endpoints,
    ...(config.username ? { auth: { username: config.username, password: config.password ?? "" } } : {}),
    dialTimeout: config.dialtimeout ?? 5_000,
  });
}
