import type { IncomingMessage } from "node:http";
import { clientAddress } from "./client-address.js";

/**
 * Failed logins per client key (an address, or an address and a user name) in a sliding window:
 * past `max` failures, further attempts are refused until the oldest failure leaves the window.
 * Used by the console's login, the token server and htpasswd auth on `/v2/`, which all check
 * passwords that are worth guessing and costly to verify (bcrypt).
 */
export class LoginRateLimit {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 5 * 60 * 1000,
    /** Keys remembered at most: a flood of distinct keys must not grow memory without bound. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Seconds until `client` may try again, or 0. */
  retryAfter(client: string, now = Date.now()): number {
    const recent = this.recent(client, now);
    if (recent.length < this.max) return 0;
    return Math.ceil(((recent[0] as number) + this.windowMs - now) / 1000);
  }

  fail(client: string, now = Date.now()): void {
    const recent = [...this.recent(client, now), now];
    // Re-inserted, so the map's order is by latest failure and the first keys are the stalest.
    this.failures.delete(client);
    this.failures.set(client, recent);
    if (this.failures.size > this.maxKeys) this.forgetStalest();
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }

  private recent(client: string, now: number): number[] {
    const recent = (this.failures.get(client) ?? []).filter((time) => time > now - this.windowMs);
    if (recent.length === 0) this.failures.delete(client);
    return recent;
  }

  /** Drops the keys failed least recently (the map is in that order) down to the cap. */
  private forgetStalest(): void {
    for (const client of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) return;
      this.failures.delete(client);
    }
  }
}

/** The two limits a password check goes through: per address and user name, and per address. */
export interface LoginLimits {
  perUser: LoginRateLimit;
  perAddress: LoginRateLimit;
}

/**
 * 10 failures per user name and address in 5 minutes, and 100 per address: a client retrying a
 * wrong password stops on its own account, while clients sharing a NAT or a proxy's address
 * keep their logins, and trying many user names from one address stops too.
 */
export function defaultLoginLimits(): LoginLimits {
  return { perUser: new LoginRateLimit(10), perAddress: new LoginRateLimit(100) };
}

/** What guards a password check on an HTTP request: the limits, and who the client is. */
export interface LoginGuard {
  limits: LoginLimits;
  /** The client's address (`clientAddress` with `http.clientaddressheader`); default the TCP peer's. */
  clientAddress?: (req: IncomingMessage) => string;
}

export type LoginOutcome = { kind: "ok" } | { kind: "refused" } | { kind: "limited"; retryAfter: number };

/**
 * Runs `verify` (the password check) unless the client — or `user` from that client — failed
 * too often lately, and counts the result. The limit is looked at first: the check (bcrypt) is
 * what makes guessing costly, so a limited client must not get to run it.
 */
export async function checkLogin(
  guard: LoginGuard,
  req: IncomingMessage,
  user: string,
  verify: () => Promise<boolean>,
): Promise<LoginOutcome & { address: string }> {
  const { limits } = guard;
  const address = guard.clientAddress?.(req) ?? clientAddress(req, undefined);
  const userKey = `${address} ${user}`;
  const wait = Math.max(limits.perUser.retryAfter(userKey), limits.perAddress.retryAfter(address));
  if (wait > 0) return { kind: "limited", retryAfter: wait, address };
  if (await verify()) {
    limits.perUser.succeed(userKey);
    return { kind: "ok", address };
  }
  limits.perUser.fail(userKey);
  limits.perAddress.fail(address);
  return { kind: "refused", address };
}
