import { Etcd3 } from "etcd3";
import type { EtcdConfig } from "../config/schema.js";

/**
 * The etcd keys Berth writes, in one place so operators can find them. (The token-auth switch it
 * only reads is `etcd.authkey`, LAIN's `/lain/config/auth/registry` by default.)
 */
export const etcdKeys = {
  /** Shared read-only flag for every instance on the same storage (owner + expiry inside). */
  readOnly: (prefix: string) => `${prefix}/berth/readonly`,
  /** The single-GC lock across instances. */
  gcLock: (prefix: string) => `${prefix}/berth/gc-lock`,
};

/** One client per process; callers share it and close it on shutdown. */
export function createEtcdClient(config: EtcdConfig): Etcd3 {
  return new Etcd3({
    hosts: config.endpoints,
    ...(config.username ? { auth: { username: config.username, password: config.password ?? "" } } : {}),
    dialTimeout: config.dialtimeout ?? 5_000,
  });
}
