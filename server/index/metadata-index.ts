import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import type { Logger } from "../log.js";
import type { RegistryEvent } from "../registry/events.js";
import type { Services } from "../registry/http/context.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { applyEvent, type EventTarget, type QueuedEvent } from "./apply-event.js";
import { ManifestDescriber, servicesSource } from "./describe.js";
import { IndexNotFoundError } from "./errors.js";
import { openDatabase, type IndexDatabaseSettings } from "./database.js";
import { imageDetail } from "./image-detail.js";
import { searchIndex, type SearchResult } from "./search.js";
import { readAllRepositories, type RebuildTarget } from "./rebuild.js";
import type { SqlDatabase } from "./sql.js";
import { IndexStore } from "./store.js";
import type {
  ActivityRow,
  ImageDetail,
  IndexStatus,
  ListRepositoriesInput,
  ListTagsInput,
  NamespaceRow,
  RebuildReport,
  RepositoryPage,
  RepositoryRow,
  RepositorySnapshot,
  StaleReason,
  StatsResult,
  TagPage,
} from "./types.js";

export interface MetadataIndexOptions {
  /** Where the index is: a SQLite file (its directory is created) or ":memory:", or a MySQL/MariaDB database. */
  database: IndexDatabaseSettings;
  driver: StorageDriver;
  /** The engine's services (`registry.services`): stores to read, events to follow. */
  services: Services;
  logger: Logger;
  /**
   * What the index must have been built for; a stored index with another generation is rebuilt
   * at start. Use `storageGeneration()` (the storage's identity) so pointing Berth at other
   * storage never shows the old storage's repositories.
   */
  generation?: string;
  /** A full rebuild older than this is redone at start (and checked while running). Default 24 h. */
  maxAgeMs?: number;
  /** Storage operations at once during a rebuild. Default 16. */
  concurrency?: number;
  /** Repositories written per rebuild transaction. Default 100. */
  batchSize?: number;
  /** Activity rows kept. Default 10,000. */
  activityLimit?: number;
  /** Events waiting beyond this are dropped and the index marked for rebuild. Default 100,000. */
  maxQueue?: number;
}

const day = 24 * 3600_000;

/**
 * The console's metadata index: repositories, tags and manifests in SQL (an embedded SQLite file,
 * or a MySQL/MariaDB database several instances share), so the console pages, sorts and filters
 * without walking storage. Storage stays the source of truth: registry events update the index
 * off the request path (a failed update is logged and marks the index for rebuild), and
 * `rebuild()` re-reads everything from storage. See README.md here.
 */
export class MetadataIndex {
  private readonly store: IndexStore;
  private readonly driver: StorageDriver;
  private readonly services: Services;
  private readonly logger: Logger;
  private readonly generation: string;
  private readonly maxAgeMs: number;
  private readonly activityLimit: number;
  private readonly maxQueue: number;
  /** Event updates read through the engine's own stores (with their manifest cache). */
  private readonly eventTarget: EventTarget;
  private readonly rebuildTarget: RebuildTarget;

  private readonly queue: QueuedEvent[] = [];
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | undefined;
  private rebuilding: Promise<RebuildReport | undefined> | undefined;
  private ageTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The current rebuild pass; rows the last rebuild did not see are stale. */
  private pass: number;
  /** Failed event updates so far. */
  private failures = 0;

  constructor(
    private readonly db: SqlDatabase,
    options: MetadataIndexOptions,
    pass: number,
  ) {
    this.store = new IndexStore(db, db.dialect);
    this.driver = options.driver;
    this.services = options.services;
    this.logger = options.logger;
    this.generation = options.generation ?? "";
    this.maxAgeMs = options.maxAgeMs ?? day;
    this.activityLimit = Math.max(1, options.activityLimit ?? 10_000);
    this.maxQueue = Math.max(1, options.maxQueue ?? 100_000);
    this.eventTarget = {
      describer: new ManifestDescriber(servicesSource(this.services), undefined, 2_000),
      driver: this.driver,
      logger: this.logger,
      activityLimit: this.activityLimit,
      transaction: (fn) => this.transaction(fn),
    };
    this.rebuildTarget = {
      store: this.store,
      driver: this.driver,
      services: this.services,
      logger: this.logger,
      concurrency: Math.max(1, options.concurrency ?? 16),
      batchSize: Math.max(1, options.batchSize ?? 100),
      transaction: (fn) => this.transaction(fn),
      closed: () => this.closed,
    };
    this.pass = pass;
  }

  /** Where the index is, for messages: a file path, or the DSN without its password. */
  get location(): string {
    return this.db.location;
  }

  private transaction<T>(fn: (tx: IndexStore) => Promise<T>): Promise<T> {
    return IndexStore.transaction(this.db, fn);
  }

  /**
   * Follows the registry's events from now on and, when the stored index is missing or stale,
   * starts a rebuild in the background (queries answer from the old rows meanwhile). The
   * returned promise is already handled: failures are logged.
   */
  async start(): Promise<{ stale: StaleReason | undefined; rebuild: Promise<RebuildReport | undefined> | undefined }> {
    if (this.closed) throw new Error("metadata index is closed");
    this.unsubscribe ??= this.services.events.subscribe((event) => this.receive(event));
    if (!this.ageTimer && Number.isFinite(this.maxAgeMs)) {
      const every = Math.max(60_000, Math.min(this.maxAgeMs / 4, 3600_000));
      this.ageTimer = setInterval(() => {
        if (this.rebuilding) return;
        this.staleness().then(
          (stale) => stale === "age" && void this.backgroundRebuild("age"),
          (error: unknown) => this.logger.warn("metadata index: cannot check its age", { error: String(error) }),
        );
      }, every);
      this.ageTimer.unref();
    }
    const stale = await this.staleness();
    return { stale, rebuild: stale ? this.backgroundRebuild(stale) : undefined };
  }

  /**
   * A rebuild because the index is stale: skipped (undefined) when another instance on the same
   * database is rebuilding, or has just rebuilt it, so instances starting together rebuild once.
   */
  private backgroundRebuild(reason: StaleReason): Promise<RebuildReport | undefined> {
    this.logger.info("rebuilding the console's metadata index from storage", { reason, index: this.location });
    const rebuild = this.exclusiveRebuild(false, true);
    rebuild.then(
      (report) =>
        report
          ? this.logger.info("metadata index rebuilt", { ...report })
          : this.logger.info("metadata index: another instance rebuilt it or is rebuilding it; not rebuilding here", { index: this.location }),
      (error: unknown) => this.logger.error("metadata index rebuild failed", { error: String(error) }),
    );
    return rebuild;
  }

  /** Why the stored index should be rebuilt, or undefined when it is fresh. */
  async staleness(): Promise<StaleReason | undefined> {
    const [builtAt, generation, dirty] = await Promise.all(["built_at", "generation", "dirty"].map((key) => this.store.getMeta(key)));
    if (!builtAt) return "missing";
    if ((generation ?? "") !== this.generation) return "generation";
    if (dirty && dirty !== "0") return "dirty";
    if (Date.now() - Number(builtAt) > this.maxAgeMs) return "age";
    return undefined;
  }

  /** Marks the index for a rebuild at the next start (or by the running age check). */
  invalidate(): Promise<void> {
    return markDirty(this.store);
  }

  async status(): Promise<IndexStatus> {
    const [builtAt, stale] = await Promise.all([this.store.getMeta("built_at"), this.staleness()]);
    return {
      builtAt: builtAt ? Number(builtAt) : null,
      rebuilding: this.rebuilding !== undefined,
      pending: this.queue.length,
      stale: stale ?? null,
    };
  }

  /** Resolves once every event received so far has been applied. */
  idle(): Promise<void> {
    if (!this.pumping && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops following events, lets queued updates and a running rebuild finish, closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.ageTimer) clearInterval(this.ageTimer);
    await this.idle();
    this.closed = true;
    await this.rebuilding?.catch(() => undefined);
    await this.db.close();
  }

  // ---- events ----

  private receive(event: RegistryEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      // Far behind: stop queueing and let a rebuild catch up instead.
      this.logger.warn("metadata index update queue full; the index will be rebuilt", { repository: event.repository });
      this.failures += 1;
      this.invalidate().catch((error: unknown) => this.logger.error("metadata index: cannot mark it for rebuild", { error: String(error) }));
      return;
    }
    this.queue.push({ event, time: Date.now() });
    if (!this.pumping) {
      // Nothing of the update runs on the emitting request's stack, not even its first read.
      this.pumping = true;
      setImmediate(() => void this.pump());
    }
  }

  private async pump(): Promise<void> {
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        try {
          await applyEvent(this.eventTarget, item);
        } catch (error) {
          this.failures += 1;
          this.logger.error("metadata index update failed; the index will be rebuilt", {
            event: item.event.type,
            repository: item.event.repository,
            error: String(error),
          });
          // When the database itself is failing there is nothing more to record.
          await this.invalidate().catch(() => undefined);
        }
      }
    } finally {
      this.pumping = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  // ---- rebuild ----

  /**
   * Re-reads every repository from storage (bounded concurrency) and replaces its rows, one
   * transaction per batch of repositories; repositories gone from storage are dropped at the
   * end. Queries keep answering throughout, from the old rows until a batch commits. Holds the
   * database's rebuild lock: on a shared database, waits for another instance's rebuild to end
   * first. Concurrent calls share one run.
   */
  async rebuild(): Promise<RebuildReport> {
    for (;;) {
      // A background attempt in progress may end without a report; then rebuild on our own.
      const report = await this.exclusiveRebuild(true, false);
      if (report) return report;
    }
  }

  private exclusiveRebuild(wait: boolean, unlessFresh: boolean): Promise<RebuildReport | undefined> {
    if (this.closed) return Promise.reject(new Error("metadata index is closed"));
    this.rebuilding ??= this.db
      .exclusive("rebuild", wait, async () => (unlessFresh && !(await this.staleness()) ? undefined : this.runRebuild()))
      .then((outcome) => (outcome.acquired ? outcome.value : undefined))
      .finally(() => {
        this.rebuilding = undefined;
      });
    return this.rebuilding;
  }

  private async runRebuild(): Promise<RebuildReport> {
    const started = Date.now();
    const failuresBefore = this.failures;
    // Other instances (or `berth index rebuild`) may have run passes on the same database.
    const [storedPass, dirtyBefore, changes] = await Promise.all([this.store.getMeta("pass"), this.store.getMeta("dirty"), this.store.changeCounts()]);
    this.pass = Math.max(this.pass, Number(storedPass ?? "0")) + 1;
    const pass = this.pass;
    await this.store.setMeta("pass", String(pass));
    const report = await readAllRepositories(this.rebuildTarget, pass, changes);
    await this.transaction(async (tx) => {
      for (const id of await tx.unseen(pass)) await tx.deleteRepository(id);
    });
    await this.transaction(async (tx) => {
      await tx.setMeta("generation", this.generation);
      await tx.setMeta("built_at", String(started));
      // A failure here, or a mark by another instance or tool since the start, keeps it dirty.
      if (this.failures === failuresBefore && (await tx.getMeta("dirty")) === dirtyBefore) await tx.setMeta("dirty", "0");
    });
    report.durationMs = Date.now() - started;
    return report;
  }


  // ---- writes for callers that build an index themselves (tests, tools) ----

  /** Replaces what the index holds about each repository, in one transaction. */
  async replaceRepositories(snapshots: readonly RepositorySnapshot[]): Promise<void> {
    await this.transaction((tx) => tx.replaceRepositories(snapshots.map((snapshot) => ({ snapshot })), this.pass));
  }

  // ---- queries ----

  listRepositories(input: ListRepositoriesInput = {}): Promise<RepositoryPage> {
    return this.store.listRepositories(input);
  }

  namespaces(): Promise<NamespaceRow[]> {
    return this.store.namespaces();
  }

  /** One repository's row; IndexNotFoundError when the index does not know it. */
  async repository(name: string): Promise<RepositoryRow> {
    const row = await this.store.repository(name);
    if (!row) throw new IndexNotFoundError(`repository ${name} not found`);
    return row;
  }

  /** Tags of a repository; IndexNotFoundError when the index does not know the repository. */
  async listTags(repository: string, input: ListTagsInput = {}): Promise<TagPage> {
    return this.store.listTags(await this.repositoryId(repository), input);
  }

  /** The repository's tags pointing at `digest` (what deleting that manifest would also delete). */
  async tagsSharing(repository: string, digest: string): Promise<string[]> {
    return this.store.tagsSharing(await this.repositoryId(repository), digest);
  }

  /** Tags and images across repositories by tag name, `repository:tag` or digest prefix (search.ts). */
  search(text: string, limit: number): Promise<SearchResult> {
    return searchIndex(this.db, this.db.dialect, text, limit);
  }

  async stats(): Promise<StatsResult> {
    const [stats, index] = await Promise.all([this.store.stats(), this.status()]);
    return { ...stats, index };
  }

  recentActivity(limit = 50): Promise<ActivityRow[]> {
    return this.store.recentActivity(limit);
  }

  private async repositoryId(repository: string): Promise<number> {
    const id = await this.store.repositoryId(repository);
    if (id === undefined) throw new IndexNotFoundError(`repository ${repository} not found`);
    return id;
  }

  /** A manifest's detail (see imageDetail); `reference` is a tag or a digest. */
  image(repository: string, reference: string): Promise<ImageDetail> {
    return imageDetail(this.services, this.store, repository, reference);
  }
}


function markDirty(store: IndexStore): Promise<void> {
  // A fresh value each time, so a rebuild can tell a mark made while it ran (see runRebuild).
  return store.setMeta("dirty", randomUUID());
}

/** Opens (creating when missing) the index's database; call `start()` to follow events and catch up. */
export async function openMetadataIndex(options: MetadataIndexOptions): Promise<MetadataIndex> {
  const db = await openDatabase(options.database);
  try {
    const pass = Number((await new IndexStore(db, db.dialect).getMeta("pass")) ?? "0");
    return new MetadataIndex(db, options, pass);
  } catch (error) {
    await db.close();
    throw error;
  }
}

/**
 * For tools that change storage while no Berth instance follows it (offline garbage collection):
 * marks the index, if there is one, for a rebuild at the next start. Returns whether it did: a
 * missing SQLite file needs no mark (it is built at the next start anyway).
 */
export async function markIndexStale(settings: IndexDatabaseSettings): Promise<boolean> {
  if (settings.backend === "sqlite" && (settings.path === ":memory:" || !existsSync(settings.path))) return false;
  const db = await openDatabase(settings);
  try {
    await markDirty(new IndexStore(db, db.dialect));
  } finally {
    await db.close();
  }
  return true;
}
