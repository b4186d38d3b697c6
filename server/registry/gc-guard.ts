import { randomUUID } from "node:crypto";
import { z } from "zod";
import { layoutRoot } from "./layout.js";
import type { Digest } from "./reference.js";
import { readLink } from "./links.js";
import type { StorageDriver } from "./storage/driver.js";

/**
 * The engine's side of online garbage collection (the protocol: server/gc/README.md). A
 * collection publishes itself in the storage; every instance reads that every second and
 *
 * - while the collection marks: records each blob a request is about to reference (a manifest,
 *   a mount, a completed upload) as used, so the collection spares it whatever its mark saw;
 * - once the collection published the blobs it means to delete ("doomed"): answers HEAD, GET and
 *   mount of a doomed blob as absent (the client uploads it again), and a request that references
 *   one races the collection for it with a create-if-absent mark: "used" (the request won, the
 *   blob stays) or "deleting" (the collection won; the blob goes, the request treats it as gone).
 */
export const onlineGcRoot = `${layoutRoot}/_berth/gc/online`;
export const onlineGcPaths = {
  state: `${onlineGcRoot}/state.json`,
  /** One object per running instance, rewritten every `heartbeatMs`: who follows a run. */
  instancesDir: `${onlineGcRoot}/instances`,
  instance: (id: string) => `${onlineGcRoot}/instances/${id}`,
  runDir: (run: string) => `${onlineGcRoot}/runs/${run}`,
  mark: (run: string, digest: Digest) => `${onlineGcRoot}/runs/${run}/${digest.algorithm}/${digest.hex}`,
};

export const onlineGcState = z.object({
  id: z.string().regex(/^[A-Za-z0-9-]+$/),
  holder: z.string(),
  since: z.string(),
  /** Epoch ms; the collection renews it while it runs. Past it (and a grace), it is dead. */
  expires: z.number(),
  phase: z.enum(["marking", "sweeping"]),
  /** Digest values of the blobs the collection means to delete (empty while marking). */
  doomed: z.array(z.string()),
  /** Who started it, for the refusal another collection gets meanwhile. */
  owner: z.string().optional(),
});
export type OnlineGcState = z.infer<typeof onlineGcState>;

export type Mark = "used" | "deleting";
/** A dead collection's state is ignored this long after it expired (clocks may disagree). */
export const deadAfterMs = 30_000;
/** How often an instance says it is there; one silent for three times this is gone. */
export const heartbeatMs = 10_000;
const ephemeral = { ephemeral: true };

interface Published {
  state: OnlineGcState;
  doomed: Set<string>;
}

export class GcGuard {
  private published: Published | undefined;
  private timer: NodeJS.Timeout | undefined;
  private first: Promise<void> | undefined;
  private refreshing: Promise<void> | undefined;
  /** Doomed digests this instance knows are rescued, per run: no storage read to answer them. */
  private readonly rescued = new Set<string>();
  /** This instance's name among those a collection waits for. */
  readonly instance = randomUUID();
  private lastHeartbeat = 0;

  constructor(
    private readonly driver: StorageDriver,
    private readonly pollMs = 1000,
  ) {}

  /**
   * Follows the storage's collection state: read once, then every `pollMs` in the background,
   * saying every `heartbeatMs` that this instance is there (a collection with no instance to
   * follow it does not wait for any). Started with the registry; requests await the first read.
   */
  follow(): Promise<void> {
    if (!this.timer) {
      this.timer = setInterval(() => void this.refresh(), this.pollMs);
      // Never what keeps a process alive.
      this.timer.unref();
      this.first = this.refresh();
    }
    return this.first ?? Promise.resolve();
  }

  /** Stops following, and no longer counts as an instance a collection waits for. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    await this.driver.delete(onlineGcPaths.instance(this.instance)).catch(() => undefined);
  }

  /** The collection in progress, as last read; undefined when none is (or it died). */
  current(): OnlineGcState | undefined {
    const published = this.published;
    if (!published || Date.now() > published.state.expires + deadAfterMs) return undefined;
    return published.state;
  }

  /**
   * Whether a HEAD, GET or mount must not see the blob: the collection means to delete it and
   * nobody rescued it. A client told "absent" uploads it again, which rescues it.
   */
  async hidden(digest: Digest): Promise<boolean> {
    await this.follow();
    const state = this.current();
    if (!state || state.phase !== "sweeping" || !this.published?.doomed.has(digest.value)) return false;
    if (this.rescued.has(`${state.id} ${digest.value}`)) return false;
    const mark = await this.readMark(state.id, digest);
    if (mark === "used") this.rescued.add(`${state.id} ${digest.value}`);
    return mark !== "used";
  }

  /**
   * Called before a request references a blob: afterwards the blob is either safe from the
   * collection in progress ("used") or being deleted by it ("deleting").
   */
  async use(digest: Digest): Promise<Mark> {
    await this.follow();
    const state = this.current();
    if (!state) return "used";
    const doomed = state.phase === "sweeping";
    if (doomed && !this.published?.doomed.has(digest.value)) return "used";
    const key = `${state.id} ${digest.value}`;
    if (this.rescued.has(key)) return "used";
    const path = onlineGcPaths.mark(state.id, digest);
    if (!(await this.driver.putContentIfAbsent(path, "used", ephemeral))) {
      const mark = await this.readMark(state.id, digest);
      if (mark === "deleting") return "deleting";
    }
    if (doomed) this.rescued.add(key);
    return "used";
  }

  /**
   * After the collection deleted a blob that a request brought back (its own verified copy),
   * the mark says so: HEAD and GET answer it again.
   */
  async restored(digest: Digest): Promise<void> {
    const state = this.current();
    if (!state) return;
    await this.driver.putContent(onlineGcPaths.mark(state.id, digest), "used", ephemeral);
    this.rescued.add(`${state.id} ${digest.value}`);
  }

  /** Resolves once `exists` says the blob is gone, polling while the collection is alive. */
  async gone(exists: () => Promise<boolean>, timeoutMs = 5 * 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (await exists()) {
      if (!this.current() || Date.now() > deadline) {
        throw new Error("a garbage collection claimed a blob and did not delete it");
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Reads the published state now (a collection in this process just changed it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.read()
      .catch(() => {
        // Unreadable storage: the last state stands until it expires by itself.
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    if (Date.now() - this.lastHeartbeat >= heartbeatMs) {
      this.lastHeartbeat = Date.now();
      await this.driver.putContent(onlineGcPaths.instance(this.instance), new Date().toISOString(), ephemeral);
    }
    const state = await readOnlineGcState(this.driver);
    if (state === undefined) {
      this.published = undefined;
      this.rescued.clear();
      return;
    }
    // Unreadable (damaged): the last state stands until it expires by itself.
    if (state === "unreadable") return;
    if (this.published?.state.id !== state.id) this.rescued.clear();
    const doomed =
      this.published?.state.id === state.id && this.published.state.phase === state.phase ? this.published.doomed : new Set(state.doomed);
    this.published = { state, doomed };
  }

  private async readMark(run: string, digest: Digest): Promise<Mark | undefined> {
    const text = await readLink(this.driver, onlineGcPaths.mark(run, digest));
    if (text === undefined) return undefined;
    return text === "deleting" ? "deleting" : "used";
  }
}

/** The published collection: undefined when none is, "unreadable" when what is there does not parse. */
export async function readOnlineGcState(driver: StorageDriver): Promise<OnlineGcState | "unreadable" | undefined> {
  const text = await readLink(driver, onlineGcPaths.state);
  if (text === undefined) return undefined;
  try {
    const parsed = onlineGcState.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : "unreadable";
  } catch {
    return "unreadable";
  }
}
