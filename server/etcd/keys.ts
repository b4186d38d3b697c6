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
