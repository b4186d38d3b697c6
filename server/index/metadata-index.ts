import { existsSync } from "node:fs";
import type { Logger } from "../log.js";
import { RegistryError } from "../registry/errors.js";
import type { RegistryEvent } from "../registry/events.js";
import type { Services } from "../registry/http/context.js";
import { layout } from "../registry/layout.js";
import { parseManifest } from "../registry/media-types.js";
import { parseDigest, parseName, parseReference, tryParseDigest, type Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import {
  configHistory,
  imageConfigMediaTypes,
  isMissingOrInvalid,
  ManifestDescriber,
  maxConfigBytes,
  parseImageConfig,
  servicesSource,
  summarizeConfig,
  type DescribeSource,
} from "./describe.js";
import { IndexNotFoundError } from "./errors.js";
import { createLimiter, type Limiter } from "../concurrency.js";
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
  /** The SQLite file (its directory is created), or ":memory:". */
  path: string;
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
 * The console's metadata index: repositories, tags and manifests in an embedded SQLite file, so
 * the console pages, sorts and filters without walking storage. Storage stays the source of
 * truth: registry events update the index off the request path (a failed update is logged and
 * marks the index for rebuild), and `rebuild()` re-reads everything from storage.
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
  private rebuilding: Promise<RebuildReport> | undefined;
  private ageTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The current rebuild pass; rows the last rebuild did not see are stale. */
  private pass: number;
  /** Failed event updates so far. */
  private failures = 0;
  /** Events received per repository: a rebuild's snapshot is written only if none arrived meanwhile. */
  private readonly versions = new Map<string, number>();

  constructor(options: MetadataIndexOptions) {
    this.store = new IndexStore(options.path);
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
    this.pass = Number(this.store.getMeta("pass") ?? "0");
  }

  get path(): string {
    return this.store.path;
  }

  /**
   * Follows the registry's events from now on and, when the stored index is missing or stale,
   * starts a rebuild in the background (queries answer from the old rows meanwhile). The
   * returned promise is already handled: failures are logged.
   */
  start(): { stale: StaleReason | undefined; rebuild: Promise<RebuildReport> | undefined } {
    if (this.closed) throw new Error("metadata index is closed");
    this.unsubscribe ??= this.services.events.subscribe((event) => this.receive(event));
    if (!this.ageTimer && Number.isFinite(this.maxAgeMs)) {
      const every = Math.max(60_000, Math.min(this.maxAgeMs / 4, 3600_000));
      this.ageTimer = setInterval(() => {
        if (!this.rebuilding && this.staleness() === "age") this.backgroundRebuild("age");
      }, every);
      this.ageTimer.unref();
    }
    const stale = this.staleness();
    return { stale, rebuild: stale ? this.backgroundRebuild(stale) : undefined };
  }

  private backgroundRebuild(reason: StaleReason): Promise<RebuildReport> {
    this.logger.info("rebuilding the console's metadata index from storage", { reason, path: this.path });
    const rebuild = this.rebuild();
    rebuild.then(
      (report) => this.logger.info("metadata index rebuilt", { ...report }),
      (error: unknown) => this.logger.error("metadata index rebuild failed", { error: String(error) }),
    );
    return rebuild;
  }

  /** Why the stored index should be rebuilt, or undefined when it is fresh. */
  staleness(): StaleReason | undefined {
    const builtAt = this.store.getMeta("built_at");
    if (!builtAt) return "missing";
    if ((this.store.getMeta("generation") ?? "") !== this.generation) return "generation";
    if (this.store.getMeta("dirty") === "1") return "dirty";
    if (Date.now() - Number(builtAt) > this.maxAgeMs) return "age";
    return undefined;
  }

  /** Marks the index for a rebuild at the next start (or by the running age check). */
  invalidate(): void {
    this.store.setMeta("dirty", "1");
  }

  status(): IndexStatus {
    const builtAt = this.store.getMeta("built_at");
    return {
      builtAt: builtAt ? Number(builtAt) : null,
      rebuilding: this.rebuilding !== undefined,
      pending: this.queue.length,
      stale: this.staleness() ?? null,
    };
  }

  /** Resolves once every event received so far has been applied. */
  idle(): Promise<void> {
    if (!this.pumping && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops following events, lets queued updates and a running rebuild finish, closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.ageTimer) clearInterval(this.ageTimer);
    await this.idle();
    this.closed = true;
    await this.rebuilding?.catch(() => undefined);
    this.store.close();
  }

  // ---- events ----

  private receive(event: RegistryEvent): void {
    if (this.closed) return;
    this.versions.set(event.repository, (this.versions.get(event.repository) ?? 0) + 1);
    if (this.queue.length >= this.maxQueue) {
      // Far behind: stop queueing and let a rebuild catch up instead.
      this.logger.warn("metadata index update queue full; the index will be rebuilt", { repository: event.repository });
      this.failures += 1;
      this.invalidate();
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
          try {
            this.invalidate();
          } catch {
            // the database itself is failing: nothing more to record
          }
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
        this.store.transaction(() => this.store.addActivity(activity, this.activityLimit));
        return;
      }
      this.store.transaction(() => {
        const id = this.store.ensureRepository(repository, this.pass);
        this.store.putManifest(id, record);
        if (event.tag && tagPushed !== undefined) this.store.setTag(id, event.tag, event.digest, tagPushed);
        this.store.refreshRepository(id);
        this.store.addActivity(activity, this.activityLimit);
      });
      return;
    }
    // A repository is a directory holding `_manifests`; on drivers without real directories
    // (S3, in-memory) deleting its last manifest removes it from storage, and from the catalog.
    const gone = event.type === "manifest.delete" && !(await this.exists(layout.manifestsDir(repository)));
    this.store.transaction(() => {
      const id = this.store.repositoryId(repository);
      if (id !== undefined) {
        if (event.type === "tag.delete") this.store.deleteTag(id, event.tag);
        else this.store.deleteManifest(id, event.digest);
        if (gone) this.store.deleteRepository(id);
        else this.store.refreshRepository(id);
      }
      this.store.addActivity(
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
   * end. Concurrent calls share one run. Queries keep answering throughout.
   */
  rebuild(): Promise<RebuildReport> {
    if (this.closed) return Promise.reject(new Error("metadata index is closed"));
    this.rebuilding ??= this.runRebuild().finally(() => {
      this.rebuilding = undefined;
    });
    return this.rebuilding;
  }

  private async runRebuild(): Promise<RebuildReport> {
    const started = Date.now();
    const failuresBefore = this.failures;
    // Another process (`berth index rebuild`) may have run passes on the same file meanwhile.
    this.pass = Math.max(this.pass, Number(this.store.getMeta("pass") ?? "0")) + 1;
    const pass = this.pass;
    this.store.setMeta("pass", String(pass));
    const limit = createLimiter(this.concurrency);
    // Rebuild reads bypass the engine's manifest cache, so serving keeps its hot entries.
    const source: DescribeSource = {
      manifest: async (_repository, digest) => {
        const content = await this.services.blobs.getContent(parseDigest(digest));
        return { content, parsed: parseManifest(content, undefined, { stored: true }) };
      },
      blob: (digest) => this.services.blobs.getContent(parseDigest(digest)),
    };
    const describer = new ManifestDescriber(source, limit, 10_000);
    // The walk bounds its own concurrency (16 directory listings at once).
    const names = await walkRepositories(this.driver);
    const report: RebuildReport = { repositories: 0, tags: 0, manifests: 0, errors: 0, skipped: 0, durationMs: 0 };

    const pending = names.map((name) => ({ name, attempts: 0 }));
    let batch: { snapshot: RepositorySnapshot; version: number; attempts: number }[] = [];
    const flush = () => {
      if (this.closed) {
        batch = [];
        return;
      }
      const ready: RepositorySnapshot[] = [];
      for (const item of batch) {
        const { name } = item.snapshot;
        if ((this.versions.get(name) ?? 0) === item.version) {
          ready.push(item.snapshot);
        } else if (item.attempts < 3) {
          // Events arrived while it was read: read it again.
          pending.push({ name, attempts: item.attempts + 1 });
        } else {
          // Busy repository: its rows stay as the events left them.
          this.store.markSeen(name, pass);
        }
      }
      batch = [];
      if (ready.length === 0) return;
      this.store.replaceRepositories(ready, pass);
      for (const snapshot of ready) {
        report.repositories += 1;
        report.manifests += snapshot.manifests.length;
        report.tags += snapshot.tags.length;
      }
    };
    const worker = async () => {
      for (let next = pending.shift(); next && !this.closed; next = pending.shift()) {
        const version = this.versions.get(next.name) ?? 0;
        try {
          const { snapshot, skipped } = await this.readRepository(next.name, describer, limit);
          report.skipped += skipped;
          batch.push({ snapshot, version, attempts: next.attempts });
          if (batch.length >= this.batchSize) flush();
        } catch (error) {
          report.errors += 1;
          this.logger.warn("metadata index: cannot read repository; keeping its previous rows", { repository: next.name, error: String(error) });
          if (!this.closed) this.store.markSeen(next.name, pass);
        }
      }
    };
    const workers = Math.max(1, Math.ceil(this.concurrency / 2));
    while (pending.length > 0 || batch.length > 0) {
      await Promise.all(Array.from({ length: workers }, worker));
      flush();
      if (this.closed) throw new Error("metadata index closed during rebuild");
    }
    this.store.removeUnseen(pass);
    this.store.transaction(() => {
      this.store.setMeta("generation", this.generation);
      this.store.setMeta("built_at", String(started));
      if (this.failures === failuresBefore) this.store.setMeta("dirty", "0");
    });
    report.durationMs = Date.now() - started;
    return report;
  }

  private async readRepository(name: string, describer: ManifestDescriber, limit: Limiter): Promise<{ snapshot: RepositorySnapshot; skipped: number }> {
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

  private async listRevisions(name: string, limit: Limiter): Promise<Digest[]> {
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
          const digest = quietDigest(`${algorithm}:${entry.slice(entry.lastIndexOf("/") + 1)}`);
          return digest ? [digest] : [];
        });
      }),
    );
    return lists.flat();
  }

  // ---- writes for callers that build an index themselves (tests, tools) ----

  /** Replaces what the index holds about each repository, in one transaction. */
  replaceRepositories(snapshots: readonly RepositorySnapshot[]): void {
    this.store.replaceRepositories(snapshots, this.pass);
  }

  // ---- queries ----

  listRepositories(input: ListRepositoriesInput = {}): RepositoryPage {
    return this.store.listRepositories(input);
  }

  namespaces(): NamespaceRow[] {
    return this.store.namespaces();
  }

  /** One repository's row; IndexNotFoundError when the index does not know it. */
  repository(name: string): RepositoryRow {
    const row = this.store.repository(name);
    if (!row) throw new IndexNotFoundError(`repository ${name} not found`);
    return row;
  }

  /** Tags of a repository; IndexNotFoundError when the index does not know the repository. */
  listTags(repository: string, input: ListTagsInput = {}): TagPage {
    return this.store.listTags(this.repositoryId(repository), input);
  }

  /** The repository's tags pointing at `digest` (what deleting that manifest would also delete). */
  tagsSharing(repository: string, digest: string): string[] {
    return this.store.tagsSharing(this.repositoryId(repository), digest);
  }

  stats(): StatsResult {
    return { ...this.store.stats(), index: this.status() };
  }

  recentActivity(limit = 50): ActivityRow[] {
    return this.store.recentActivity(limit);
  }

  private repositoryId(repository: string): number {
    const id = this.store.repositoryId(repository);
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
    const id = this.store.repositoryId(repository);
    const row = id === undefined ? undefined : this.store.manifest(id, digest.value);
    const { parsed } = stored;
    const base = {
      repository,
      digest: digest.value,
      mediaType: stored.mediaType,
      manifestSize: stored.content.length,
      tags: id === undefined ? [] : this.store.tagsSharing(id, digest.value),
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
      const children: ChildRow[] = parsed.manifest.manifests.map((child) => ({
        digest: child.digest,
        mediaType: child.mediaType,
        platform: child.platform
          ? { os: child.platform.os, architecture: child.platform.architecture, ...(child.platform.variant ? { variant: child.platform.variant } : {}) }
          : null,
        manifestSize: child.size,
        size: id === undefined ? null : (this.store.manifest(id, child.digest)?.size ?? null),
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
        const raw = parseImageConfig(await this.services.blobs.getContent(parseDigest(config.digest)));
        configSummary = summarizeConfig(raw);
        history = configHistory(raw);
      } catch (error) {
        if (!isMissingOrInvalid(error)) throw error;
        configError = isNotFound(error) ? "the config blob is missing from storage" : `the config blob is not valid JSON: ${(error as Error).message}`;
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

function quietDigest(value: string): Digest | undefined {
  try {
    return tryParseDigest(value);
  } catch {
    return undefined;
  }
}

/** Opens (creating when missing) the index file; call `start()` to follow events and catch up. */
export function openMetadataIndex(options: MetadataIndexOptions): MetadataIndex {
  return new MetadataIndex(options);
}

/**
 * For tools that change storage while no Berth instance follows it (offline garbage collection):
 * marks the index file, if there is one, for a rebuild at the next start. Returns whether it did.
 */
export function markIndexStale(path: string): boolean {
  if (path === ":memory:" || !existsSync(path)) return false;
  const store = new IndexStore(path);
  try {
    store.setMeta("dirty", "1");
  } finally {
    store.close();
  }
  return true;
}
