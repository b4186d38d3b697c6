/**
 * Failed logins per client key (an address, or an address and a user name) in a sliding window:
 * past `max` failures, further attempts are refused until the oldest failure leaves the window.
 * Used by the console's login and the token server, both of which check passwords that are
 * worth guessing and costly to verify (bcrypt).
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
