/**
 * Failed logins per client address in a sliding window: past `max` failures, further attempts
 * are refused until the oldest failure leaves the window.
 */
export class LoginRateLimit {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 5 * 60 * 1000,
  ) {}

  /** Seconds until `client` may try again, or 0. */
  retryAfter(client: string, now = Date.now()): number {
    const recent = this.recent(client, now);
    if (recent.length < this.max) return 0;
    return Math.ceil(((recent[0] as number) + this.windowMs - now) / 1000);
  }

  fail(client: string, now = Date.now()): void {
    this.failures.set(client, [...this.recent(client, now), now]);
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }

  private recent(client: string, now: number): number[] {
    const recent = (this.failures.get(client) ?? []).filter((time) => time > now - this.windowMs);
    if (recent.length === 0) this.failures.delete(client);
    return recent;
  }
}
