
/**
 * Writes in progress, so a garbage collection that just switched to read-only can wait for the
 * writes admitted before the switch. The engine calls `beginWrite()` before it checks the mode
 * and calls the returned function when the request is done.
 */
export class WriteTracker {
  private active = 0;
  private readonly waiters = new Set<() => void>();

  /** Marks a write as started; call the returned function (any number of times) when it ends. */
  beginWrite(): () => void {
    this.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active--;
      if (this.active === 0) for (const wake of [...this.waiters]) wake();
    };
  }

  get inFlight(): number {
    return this.active;
  }

  /** Resolves true once no write is in progress, false if some still are after `timeoutMs`. */
  waitForWrites(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(this.active === 0);
      }, timeoutMs);
      this.waiters.add(wake);
    });
  }
}

