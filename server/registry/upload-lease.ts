import { randomUUID } from "node:crypto";
import { RegistryError } from "./errors.js";
import { layout } from "./layout.js";
import { readLink } from "./links.js";
import type { StorageDriver } from "./storage/driver.js";

/** How long a claim holds without renewal; the holder renews it well before. */
const TTL_MS = 30_000;
const RENEW_MS = 10_000;
/**
 * Past its expiry a claim is taken over only after this much more, so clocks of instances that
 * disagree by less than this never see a live claim as dead; and the holder stops writing at its
 * own expiry, this long before anybody may take over.
 */
const GRACE_MS = 30_000;
/** A claim lost in a crash is a released one: no need to wait for the disk. */
const ephemeral = { ephemeral: true };

interface ClaimRecord {
  owner: string;
  expires: number;
}

/** Refusal of a request on an upload that another request is writing (the spec's 416). */
function busy(id: string): RegistryError {
  return new RegistryError(
    "BLOB_UPLOAD_INVALID",
    { uuid: id, reason: "another request is writing this upload" },
    "another request is writing this upload; get its status and continue from there",
    { status: 416 },
  );
}

/**
 * One writer per upload session, across every instance sharing the storage: a request that
 * appends, completes or cancels an upload first creates `_uploads/<id>/lock` (a create that
 * fails when the object exists), renews it while it works, and removes it before answering.
 * A claim whose holder died is taken over once it is past its expiry and a grace period.
 */
export class UploadLeases {
  private readonly instance = randomUUID();

  constructor(private readonly driver: StorageDriver) {}

  /** The upload's lease, or 416 BLOB_UPLOAD_INVALID while another request holds it. */
  async claim(name: string, id: string): Promise<UploadLease> {
    const path = layout.uploadLock(name, id);
    const owner = `${this.instance}/${randomUUID()}`;
    const lease = new UploadLease(this.driver, path, owner);
    if (await this.driver.putContentIfAbsent(path, lease.record(), ephemeral)) return lease.start();
    const current = await this.read(path);
    if (current === "missing") {
      // Released between the two calls: one more try, as a new request would.
      if (await this.driver.putContentIfAbsent(path, lease.record(), ephemeral)) return lease.start();
      throw busy(id);
    }
    if (current !== "unreadable" && Date.now() <= current.expires + GRACE_MS) throw busy(id);
    // Dead holder: take over, then read back; of two requests taking over at once, the one
    // whose write landed last keeps it and the other is refused.
    await this.driver.putContent(path, lease.record(), ephemeral);
    const after = await this.read(path);
    if (typeof after !== "object" || after.owner !== owner) throw busy(id);
    return lease.start();
  }

  private async read(path: string): Promise<ClaimRecord | "missing" | "unreadable"> {
    const text = await readLink(this.driver, path);
    if (text === undefined) return "missing";
    return parseRecord(text) ?? "unreadable";
  }
}

function parseRecord(text: string): ClaimRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<ClaimRecord>;
    if (typeof value.owner === "string" && typeof value.expires === "number") return { owner: value.owner, expires: value.expires };
  } catch {
    // A damaged claim is treated as a dead one.
  }
  return undefined;
}

export class UploadLease {
  private renewedAt = Date.now();
  private lost = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly path: string,
    private readonly owner: string,
  ) {}

  /** The claim as written now; the lease counts from the moment it was made, not from when it landed. */
  record(): string {
    this.renewedAt = Date.now();
    return this.format(this.renewedAt);
  }

  private format(at: number): string {
    return JSON.stringify({ owner: this.owner, expires: at + TTL_MS });
  }

  start(): this {
    this.timer = setInterval(() => void this.renew(), RENEW_MS);
    this.timer.unref();
    return this;
  }

  /**
   * Whether the holder may still write. Checked before every chunk goes to storage: a process
   * that was frozen past its claim's expiry (and may have been taken over) writes nothing more.
   */
  get valid(): boolean {
    return !this.lost && Date.now() < this.renewedAt + TTL_MS;
  }

  /** Throws the spec's 416 once the lease is no longer valid. */
  check(id: string): void {
    if (!this.valid) throw busy(id);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    // Still valid means nobody could have taken it over: the claim is ours to remove.
    if (!this.valid) return;
    this.lost = true;
    // A claim that could not be removed blocks the upload only until it expires.
    await this.driver.delete(this.path).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    try {
      const text = await readLink(this.driver, this.path);
      // Gone with its upload (completed or cancelled meanwhile): the lease runs out by itself.
      if (text === undefined) return;
      const current = parseRecord(text);
      if (current?.owner !== this.owner) {
        this.lost = true;
        clearInterval(this.timer);
        return;
      }
      const at = Date.now();
      await this.driver.putContent(this.path, this.format(at), ephemeral);
      this.renewedAt = at;
    } catch {
      // Storage unreachable: the lease runs out by itself and writes stop with it.
    }
  }
}
