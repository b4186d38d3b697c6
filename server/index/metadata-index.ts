import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "../log.js";
import { BlobTooLargeError } from "../registry/blobs.js";
import { RegistryError } from "../registry/errors.js";
import type { RegistryEvent } from "../registry/events.js";
import type { Services } from "../registry/http/context.js";
import { layout } from "../registry/layout.js";
import { parseManifest } from "../registry/media-types.js";
import { parseDigest, parseName, parseReference, digestFromParts, type Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import {
  configHistory,
  imageConfigMediaTypes,
  isMissingOrInvalid,
  ManifestDescriber,
  maxConfigBytes,
  parseImageConfig,
  readConfig,
  servicesSource,
  summarizeConfig,
  type DescribeSource,
} from "./describe.js";
import { IndexNotFoundError } from "./errors.js";
import { openDatabase, type IndexDatabaseSettings, type SqlDatabase } from "./database.js";
import { IndexStore, type ActivityInput } from "./store.js";
import type {
  ActivityRow,
  ChildRow,
  ConfigSummary,
  HistoryRow,
  ImageDetail,
  IndexStatus,
  ListRepositoriesInput,
  ListTagsInput,
  ManifestRecord,
  NamespaceRow,
  RebuildReport,
  RepositoryPage,
  RepositoryRow,
  RepositorySnapshot,
  StaleReason,
  StatsResult,
  TagPage,
  TagRecord,
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

interface QueuedEvent {
  event: RegistryEvent;
  time: number;
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
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly activityLimit: number;
  private readonly maxQueue: number;
  /** Reads for the event path: the engine's own stores (with their manifest cache). */
  private readonly describer: ManifestDescriber;

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
    this.concurrency = Math.max(1, options.concurrency ?? 16);
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.activityLimit = Math.max(1, options.activityLimit ?? 10_000);
    this.maxQueue = Math.max(1, options.maxQueue ?? 100_000);
    this.describer = new ManifestDescriber(servicesSource(this.services), undefined, 2_000);
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
          await this.apply(item);
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

  private async apply({ event, time }: QueuedEvent): Promise<void> {
    const repository = event.repository;
    if (event.type === "manifest.put") {
      const activity: ActivityInput = {
        time,
        type: "push",
        repository,
        tag: event.tag,
        digest: event.digest,
        mediaType: event.mediaType,
        size: event.size,
      };
      let record: ManifestRecord;
      let tagPushed: number | undefined;
      try {
        const digest = parseDigest(event.digest);
        const [facts, pushed] = await Promise.all([this.describer.describe(repository, event.digest), this.mtime(layout.revisionLink(repository, digest))]);
        record = { ...facts, pushed };
        if (event.tag) tagPushed = await this.mtime(layout.tagCurrentLink(repository, event.tag)).catch(ignoreMissing);
      } catch (error) {
        if (!isMissingOrInvalid(error)) throw error;
        // Deleted again before the update ran: the delete's own event follows.
        this.logger.debug("pushed manifest gone before it was indexed", { repository, digest: event.digest });
        await this.transaction((tx) => tx.addActivity(activity, this.activityLimit));
        return;
      }
      await this.transaction(async (tx) => {
        const id = await tx.ensureRepository(repository, null);
        await tx.putManifest(id, record);
        if (event.tag && tagPushed !== undefined) await tx.setTag(id, event.tag, event.digest, tagPushed);
        await tx.refreshRepository(id);
        await tx.addActivity(activity, this.activityLimit);
      });
      return;
    }
    // A repository is a directory holding `_manifests`; on drivers without real directories
    // (S3, in-memory) deleting its last manifest removes it from storage, and from the catalog.
    const gone = event.type === "manifest.delete" && !(await this.exists(layout.manifestsDir(repository)));
    await this.transaction(async (tx) => {
      const id = await tx.repositoryId(repository);
      if (id !== undefined) {
        if (event.type === "tag.delete") await tx.deleteTag(id, event.tag);
        else await tx.deleteManifest(id, event.digest);
        if (gone) {
          await tx.deleteRepository(id);
        } else {
          await tx.refreshRepository(id);
          await tx.touch(id);
        }
      }
      await tx.addActivity(
        event.type === "tag.delete"
          ? { time, type: "tag-delete", repository, tag: event.tag }
          : { time, type: "manifest-delete", repository, digest: event.digest },
        this.activityLimit,
      );
    });
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.driver.stat(path);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  private async mtime(path: string): Promise<number> {
    return (await this.driver.stat(path)).modTime.getTime();
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
    const limit = pLimit(this.concurrency);
    // Rebuild reads bypass the engine's manifest cache, so serving keeps its hot entries.
    const source: DescribeSource = {
      manifest: async (_repository, digest) => {
        const content = await this.services.blobs.getContent(parseDigest(digest));
        return { content, parsed: parseManifest(content, undefined, { stored: true }) };
      },
      config: (digest) => readConfig(this.services.blobs, digest),
    };
    const describer = new ManifestDescriber(source, limit, 10_000);
    // The walk bounds its own concurrency (16 directory listings at once).
    const names = await walkRepositories(this.driver);
    const report: RebuildReport = { repositories: 0, tags: 0, manifests: 0, errors: 0, skipped: 0, durationMs: 0 };

    const pending = names.map((name) => ({ name, attempts: 0 }));
    let batch: { snapshot: RepositorySnapshot; changes: number | null; attempts: number }[] = [];
    const flush = async () => {
      const items = batch;
      batch = [];
      if (this.closed || items.length === 0) return;
      const moved = new Set(await this.transaction((tx) => tx.replaceRepositories(items, pass)));
      for (const item of items) {
        const { name } = item.snapshot;
        if (!moved.has(name)) {
          report.repositories += 1;
          report.manifests += item.snapshot.manifests.length;
          report.tags += item.snapshot.tags.length;
        } else if (item.attempts < 3) {
          // Events changed it while it was read: read it again.
          pending.push({ name, attempts: item.attempts + 1 });
        } else {
          // Busy repository: its rows stay as the events left them.
          await this.store.markSeen(name, pass);
        }
      }
    };
    const readOne = async (next: { name: string; attempts: number }) => {
      if (this.closed) return;
      try {
        const before = next.attempts === 0 ? (changes.get(next.name) ?? null) : await this.store.changeCount(next.name);
        const { snapshot, skipped } = await this.readRepository(next.name, describer, limit);
        report.skipped += skipped;
        batch.push({ snapshot, changes: before, attempts: next.attempts });
        if (batch.length >= this.batchSize) await flush();
      } catch (error) {
        report.errors += 1;
        this.logger.warn("metadata index: cannot read repository; keeping its previous rows", { repository: next.name, error: String(error) });
        if (!this.closed) await this.store.markSeen(next.name, pass);
      }
    };
    const repositoryReads = pLimit(Math.max(1, Math.ceil(this.concurrency / 2)));
    // A flush puts back repositories that changed while they were read; the next round reads them.
    while (pending.length > 0 || batch.length > 0) {
      await repositoryReads.map(pending.splice(0), readOne);
      await flush();
      if (this.closed) throw new Error("metadata index closed during rebuild");
    }
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

  private async readRepository(name: string, describer: ManifestDescriber, limit: LimitFunction): Promise<{ snapshot: RepositorySnapshot; skipped: number }> {
    const [tagNames, revisions] = await Promise.all([limit(() => this.services.tags.list(name)), this.listRevisions(name, limit)]);
    let skipped = 0;
    const manifests = await Promise.all(
      revisions.map(async (digest): Promise<ManifestRecord | undefined> => {
        try {
          const [info, facts] = await Promise.all([limit(() => this.driver.stat(layout.revisionLink(name, digest))), describer.describe(name, digest.value)]);
          return { ...facts, pushed: info.modTime.getTime() };
        } catch (error) {
          if (!isMissingOrInvalid(error)) throw error;
          skipped += 1;
          return undefined;
        }
      }),
    );
    const present = manifests.filter((m): m is ManifestRecord => m !== undefined);
    const known = new Set(present.map((m) => m.digest));
    const tags = await Promise.all(
      (tagNames ?? []).map(async (tag): Promise<TagRecord | undefined> => {
        try {
          const [digest, info] = await Promise.all([
            limit(() => this.services.tags.resolve(name, tag)),
            limit(() => this.driver.stat(layout.tagCurrentLink(name, tag))),
          ]);
          // A tag on a manifest the repository lacks cannot be pulled: not listed.
          if (!digest || !known.has(digest.value)) return undefined;
          return { tag, digest: digest.value, pushed: info.modTime.getTime() };
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      }),
    );
    return { snapshot: { name, manifests: present, tags: tags.filter((t): t is TagRecord => t !== undefined) }, skipped };
  }

  private async listRevisions(name: string, limit: LimitFunction): Promise<Digest[]> {
    let algorithms: string[];
    try {
      algorithms = await limit(() => this.driver.list(layout.revisionsDir(name)));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const lists = await Promise.all(
      algorithms.map(async (dir) => {
        const algorithm = dir.slice(dir.lastIndexOf("/") + 1);
        const entries = await limit(() => this.driver.list(dir)).catch((error: unknown) => {
          if (isNotFound(error)) return [] as string[];
          throw error;
        });
        return entries.flatMap((entry) => {
          const digest = digestFromParts(algorithm, entry.slice(entry.lastIndexOf("/") + 1));
          return digest ? [digest] : [];
        });
      }),
    );
    return lists.flat();
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

  /**
   * A manifest's detail, read from storage (one manifest and, for an image, its config blob):
   * children of an index, or layers, config summary and history of an image; referrers; the
   * raw manifest. `reference` is a tag or a digest.
   */
  async image(repository: string, reference: string): Promise<ImageDetail> {
    parseName(repository);
    const ref = parseReference(reference);
    let digest: Digest;
    if (ref.kind === "tag") {
      const resolved = await this.services.tags.resolve(repository, ref.tag);
      if (!resolved) throw new IndexNotFoundError(`tag ${repository}:${ref.tag} not found`);
      digest = resolved;
    } else {
      digest = ref.digest;
    }
    let stored;
    try {
      stored = await this.services.manifests.get(repository, digest);
    } catch (error) {
      if (error instanceof RegistryError && error.code === "MANIFEST_UNKNOWN") {
        throw new IndexNotFoundError(`manifest ${repository}@${digest.value} not found`, { cause: error });
      }
      throw error;
    }
    const referrers = await this.services.manifests.referrers(repository, digest);
    const id = await this.store.repositoryId(repository);
    const [row, tags] = id === undefined ? [undefined, []] : await Promise.all([this.store.manifest(id, digest.value), this.store.tagsSharing(id, digest.value)]);
    const { parsed } = stored;
    const base = {
      repository,
      digest: digest.value,
      mediaType: stored.mediaType,
      manifestSize: stored.content.length,
      tags,
      pushed: row?.pushed ?? null,
      annotations: parsed.manifest.annotations ?? {},
      subject: parsed.manifest.subject?.digest ?? null,
      referrers: referrers.map((d) => ({
        digest: d.digest,
        mediaType: d.mediaType,
        artifactType: d.artifactType ?? null,
        size: d.size,
        annotations: d.annotations ?? {},
      })),
      raw: stored.content.toString("utf8"),
    };
    if (parsed.kind === "index") {
      const sizes = await Promise.all(parsed.manifest.manifests.map(async (child) => (id === undefined ? undefined : await this.store.manifest(id, child.digest))?.size ?? null));
      const children: ChildRow[] = parsed.manifest.manifests.map((child, i) => ({
        digest: child.digest,
        mediaType: child.mediaType,
        platform: child.platform
          ? { os: child.platform.os, architecture: child.platform.architecture, ...(child.platform.variant ? { variant: child.platform.variant } : {}) }
          : null,
        manifestSize: child.size,
        size: sizes[i] ?? null,
        annotations: child.annotations ?? {},
        artifactType: child.artifactType ?? null,
      }));
      return {
        ...base,
        kind: "index",
        artifactType: parsed.manifest.artifactType ?? null,
        size: children.reduce((sum, child) => sum + (child.size ?? 0), 0),
        children,
      };
    }
    if (parsed.kind === "schema1") return { ...base, kind: "schema1", artifactType: null, size: 0 };
    const manifest = parsed.manifest;
    const config = { digest: manifest.config.digest, size: manifest.config.size, mediaType: manifest.config.mediaType };
    const layers = manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType }));
    let configSummary: ConfigSummary | null = null;
    let history: HistoryRow[] = [];
    let configError: string | null = null;
    if (!imageConfigMediaTypes.has(config.mediaType)) {
      configError = `the config is a ${config.mediaType}, not an image config`;
    } else if (config.size > maxConfigBytes) {
      configError = `the config is too large to show (${config.size} bytes)`;
    } else {
      try {
        const raw = parseImageConfig(await readConfig(this.services.blobs, config.digest));
        configSummary = summarizeConfig(raw);
        history = configHistory(raw);
      } catch (error) {
        if (!isMissingOrInvalid(error)) throw error;
        configError = isNotFound(error)
          ? "the config blob is missing from storage"
          : error instanceof BlobTooLargeError
            ? `the config is too large to show (${error.size} bytes stored, though the manifest says ${config.size})`
            : `the config blob is not valid JSON: ${(error as Error).message}`;
      }
    }
    return {
      ...base,
      kind: "image",
      artifactType: manifest.artifactType ?? (imageConfigMediaTypes.has(config.mediaType) ? null : config.mediaType),
      size: config.size + layers.reduce((sum, layer) => sum + layer.size, 0),
      config,
      layers,
      configSummary,
      configError,
      history,
    };
  }
}

function ignoreMissing(error: unknown): undefined {
  if (isNotFound(error)) return undefined;
  throw error;
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
