import type { ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import type { BlobInfo, BlobStore } from "../registry/blobs.js";
import { digestOf } from "../registry/digest.js";
import { RegistryError } from "../registry/errors.js";
import type { ManifestSource, ManifestStore, StoredManifest } from "../registry/manifests.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { compareStrings, type TagStore } from "../registry/tags.js";
import type { UploadStore } from "../registry/uploads.js";
import { ClientTee } from "./client-tee.js";
import type { MirrorMatch, Mirrors } from "./mirrors.js";
import { PullRecords } from "./records.js";
import { MirrorStats } from "./stats.js";
import { UpstreamError } from "./upstream.js";

export interface PullThroughServices {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  tags: TagStore;
  logger: Logger;
}

const expireEveryMs = 3_600_000;

/** Where a blob GET stands once the cache has looked at it. */
export type BlobAnswer =
  | { kind: "local"; blob: BlobInfo }
  /** Answered already: the blob was streamed to the client while it was stored. */
  | { kind: "sent" }
  /** A HEAD of a blob only the upstream holds: its size, nothing stored. */
  | { kind: "remote"; size: number };

/**
 * The pull-through cache in front of the repositories that mirror an upstream (server/proxy/README.md):
 * manifests and blobs not held locally are fetched, stored and served; tags are checked against
 * the upstream on every pull by tag (a HEAD, which Docker Hub does not count against its limits)
 * so a moved tag is followed; what is cached is served when the upstream cannot answer.
 */
export class PullThroughCache {
  readonly stats = new MirrorStats();
  readonly records: PullRecords;
  /** Blob fills in flight, by digest: concurrent pulls of one blob make one upstream fetch. */
  private readonly fills = new Map<string, Promise<void>>();
  private readonly expiry: NodeJS.Timeout;

  constructor(
    readonly mirrors: Mirrors,
    private readonly services: PullThroughServices,
    driver: StorageDriver,
  ) {
    this.records = new PullRecords(driver, services.logger);
    // Every upstream has its series from the first scrape, zeros included.
    for (const mirror of mirrors.list) this.stats.of(mirror.id);
    // Every instance expires: the removals are idempotent, and no instance is special.
    this.expiry = setInterval(() => {
      this.expire().then(
        (removed) => removed.length > 0 && services.logger.info("expired cached manifests", { count: removed.length }),
        (error: unknown) => services.logger.warn("expiring cached manifests failed", { error: String(error) }),
      );
    }, expireEveryMs);
    this.expiry.unref();
  }

  match(name: string): MirrorMatch | undefined {
    return this.mirrors.match(name);
  }

  /** Manifests of a mirrored repository, through the cache. */
  manifestSource(match: MirrorMatch, name: string): ManifestSource {
    return { byTag: (tag) => this.byTag(match, name, tag), byDigest: (digest) => this.byDigest(match, name, digest) };
  }

  private async byTag(match: MirrorMatch, name: string, tag: string): Promise<StoredManifest> {
    const { manifests, tags } = this.services;
    const counts = this.stats.of(match.mirror.id);
    let remote: Awaited<ReturnType<typeof match.mirror.upstream.manifest>>;
    try {
      remote = await match.mirror.upstream.manifest(match.remote, tag, "HEAD");
    } catch (error) {
      return this.localTag(match, name, tag, this.upstreamFailed(match, error));
    }
    if (!remote) return this.localTag(match, name, tag, new RegistryError("MANIFEST_UNKNOWN", { tag }, `tag ${tag} is unknown upstream (${match.mirror.remoteurl})`));
    const digest = remote.digest ? tryParseDigest(remote.digest) : undefined;
    if (digest && (await manifests.exists(name, digest))) {
      // The tag moved upstream to a manifest cached already (or was never set here).
      if ((await tags.resolve(name, tag))?.value !== digest.value) await tags.tag(name, tag, digest);
      counts.hits += 1;
      this.records.pulled(name, digest);
      return manifests.get(name, digest);
    }
    try {
      return await this.fetchManifest(match, name, digest?.value ?? tag, tag);
    } catch (error) {
      if (error instanceof UpstreamError) return this.localTag(match, name, tag, this.upstreamFailed(match, error));
      throw error;
    }
  }

  private async byDigest(match: MirrorMatch, name: string, digest: Digest): Promise<StoredManifest> {
    const { manifests } = this.services;
    if (await manifests.exists(name, digest)) {
      this.stats.of(match.mirror.id).hits += 1;
      this.records.pulled(name, digest);
      return manifests.get(name, digest);
    }
    try {
      return await this.fetchManifest(match, name, digest.value);
    } catch (error) {
      throw error instanceof UpstreamError ? this.upstreamFailed(match, error) : error;
    }
  }

  /** Fetches a manifest by digest (or by tag), verifies it and stores it, tagged when `tag` is given. */
  private async fetchManifest(match: MirrorMatch, name: string, reference: string, tag?: string): Promise<StoredManifest> {
    const fetched = await match.mirror.upstream.manifest(match.remote, reference, "GET");
    if (!fetched?.body) throw new RegistryError("MANIFEST_UNKNOWN", { reference }, `manifest ${reference} is unknown upstream (${match.mirror.remoteurl})`);
    const wanted = tryParseDigest(reference) ?? (fetched.digest ? tryParseDigest(fetched.digest) : undefined);
    const actual = digestOf(fetched.body, wanted?.algorithm ?? "sha256");
    if (wanted && wanted.value !== actual.value) {
      this.stats.of(match.mirror.id).upstreamErrors += 1;
      throw new RegistryError("UNAVAILABLE", { expected: wanted.value, actual: actual.value }, `the upstream (${match.mirror.remoteurl}) answered with a manifest that does not match its digest`, { status: 502 });
    }
    await this.services.manifests.put(name, fetched.body, fetched.mediaType, { tag, digest: actual }, { cached: true });
    await this.records.cached(name, actual);
    this.stats.of(match.mirror.id).misses += 1;
    return this.services.manifests.get(name, actual);
  }

  /** The tag as cached, when the upstream could not say where it points now. */
  private async localTag(match: MirrorMatch, name: string, tag: string, cause: RegistryError): Promise<StoredManifest> {
    const digest = await this.services.tags.resolve(name, tag);
    if (!digest) throw cause;
    this.stats.of(match.mirror.id).hits += 1;
    this.records.pulled(name, digest);
    return this.services.manifests.getTagged(name, digest);
  }

  /**
   * A blob of a mirrored repository: the local one when the repository has it; else fetched from
   * the upstream and sent to `res` while it is stored (answered here: "sent"). A HEAD asks the
   * upstream only; a Range request, or a pull that joins a fill in flight, waits for the blob to
   * be stored and is then served locally.
   */
  async blob(match: MirrorMatch, name: string, digest: Digest, res: ServerResponse, how: { headOnly: boolean; range: boolean; headers: Record<string, string> }): Promise<BlobAnswer> {
    const counts = this.stats.of(match.mirror.id);
    const served = (blob: BlobInfo): BlobAnswer => {
      counts.hits += 1;
      if (!how.headOnly) counts.bytesFromCache += blob.size;
      return { kind: "local", blob };
    };
    const local = await this.localBlob(name, digest);
    if (local) return served(local);
    let stored = await this.storedElsewhere(digest);
    if (stored === undefined && !how.headOnly) {
      // Nothing awaited between this look and the set below: concurrent pulls find the fill.
      const inFlight = this.fills.get(digest.value);
      if (!inFlight) return this.fillFor(match, name, digest, res, how, served);
      await inFlight.catch(() => undefined);
      const filled = await this.localBlob(name, digest);
      if (filled) return served(filled);
      // Filled for another repository, or the fill failed.
      stored = await this.storedElsewhere(digest);
      if (stored === undefined) throw new RegistryError("UNAVAILABLE", { digest: digest.value }, `fetching ${digest.value} from the upstream (${match.mirror.remoteurl}) failed; try again`);
    }
    // The upstream must say this repository has the blob before it is linked or announced here.
    const size = await this.upstreamCall(match, () => match.mirror.upstream.blobSize(match.remote, digest.value));
    if (size === undefined) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    if (stored === undefined) return { kind: "remote", size };
    await this.services.blobs.link(name, digest);
    return served({ digest, size: stored });
  }

  /** Fetches the blob as the one fill of its digest, streaming it to `res` unless a range was asked for. */
  private async fillFor(match: MirrorMatch, name: string, digest: Digest, res: ServerResponse, how: { range: boolean; headers: Record<string, string> }, served: (blob: BlobInfo) => BlobAnswer): Promise<BlobAnswer> {
    const fill = this.fill(match, name, digest, how.range ? undefined : res, how.headers);
    this.fills.set(digest.value, fill);
    try {
      await fill;
    } finally {
      this.fills.delete(digest.value);
    }
    if (!how.range) return { kind: "sent" };
    const filled = await this.localBlob(name, digest);
    if (!filled) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    return served(filled);
  }

  /** The size of the blob when it is stored (for another repository) and no collection is deleting it. */
  private async storedElsewhere(digest: Digest): Promise<number | undefined> {
    const size = await this.services.blobs.statData(digest);
    return size !== undefined && !(await this.services.blobs.hidden(digest)) ? size : undefined;
  }

  /** The blob as the repository has it; one stored for another repository is not served here until the upstream confirms it. */
  private async localBlob(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    try {
      return await this.services.blobs.stat(name, digest);
    } catch (error) {
      if (error instanceof RegistryError && error.code === "BLOB_UNKNOWN") return undefined;
      throw error;
    }
  }

  /**
   * Streams the upstream blob into an upload of `name` (verified and committed like a push) and,
   * when `res` is given, to that client at the same time.
   */
  private async fill(match: MirrorMatch, name: string, digest: Digest, res: ServerResponse | undefined, headers: Record<string, string>): Promise<void> {
    const { uploads } = this.services;
    const counts = this.stats.of(match.mirror.id);
    const remote = await this.upstreamCall(match, () => match.mirror.upstream.blob(match.remote, digest.value));
    if (!remote) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    const tee = new ClientTee(res);
    res?.writeHead(200, { ...headers, "Content-Type": "application/octet-stream", "Content-Length": remote.size });
    const upload = await uploads.start(name);
    counts.misses += 1;
    try {
      remote.body.on("error", (error) => tee.destroy(error));
      // The client's last chunk goes as soon as every byte is hashed and matches, not after the
      // fsync and commit (a GiB's fsync took as long as the whole pull from the upstream).
      const verified = (hex: string, bytes: number) => {
        if (digest.algorithm === "sha256" && hex === digest.hex && bytes === remote.size) tee.release();
      };
      const written = await uploads.append(upload, remote.body.pipe(tee), remote.size, undefined, verified);
      counts.bytesFetched += written.offset;
      await uploads.finish(written, digest);
      tee.release();
    } catch (error) {
      tee.abort();
      await uploads.cancel(name, upload.id).catch(() => undefined);
      if (error instanceof RegistryError && (error.code === "DIGEST_INVALID" || error.code === "SIZE_INVALID")) {
        counts.upstreamErrors += 1;
        this.services.logger.warn("the upstream sent a blob that does not match its digest", { upstream: match.mirror.remoteurl, digest: digest.value });
        throw new RegistryError("UNAVAILABLE", { digest: digest.value }, `the upstream (${match.mirror.remoteurl}) sent bytes that do not match the digest`, { status: 502 });
      }
      throw error;
    }
  }

  private async upstreamCall<T>(match: MirrorMatch, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.upstreamFailed(match, error);
    }
  }

  /** An upstream failure as the client sees it: 429 passed on, anything else 503 UNAVAILABLE. */
  private upstreamFailed(match: MirrorMatch, error: unknown): RegistryError {
    if (!(error instanceof UpstreamError)) throw error;
    this.stats.of(match.mirror.id).upstreamErrors += 1;
    this.services.logger.warn("upstream request failed", { upstream: match.mirror.remoteurl, error: error.message });
    if (error.status === 429) return new RegistryError("TOOMANYREQUESTS", undefined, `the upstream (${match.mirror.remoteurl}) limits requests: ${error.message}`);
    return new RegistryError("UNAVAILABLE", undefined, `the upstream (${match.mirror.remoteurl}) cannot answer: ${error.message}`);
  }

  /**
   * The upstream's tags of a mirrored repository; the cached ones (undefined) when the upstream
   * cannot say.
   */
  async tags(match: MirrorMatch, name: string): Promise<string[] | undefined> {
    try {
      return (await match.mirror.upstream.tags(match.remote))?.sort(compareStrings);
    } catch (error) {
      this.upstreamFailed(match, error);
      this.services.logger.info("serving the cached tag list", { repository: name });
      return undefined;
    }
  }

  /**
   * Removes the cached manifests not pulled within their mirror's ttl (with their tags); their
   * blobs are then garbage for the next collection. Returns what it removed.
   */
  async expire(now = Date.now()): Promise<{ repository: string; digest: string }[]> {
    await this.records.flush();
    const removed: { repository: string; digest: string }[] = [];
    for (const { name, digest, record } of await this.records.all()) {
      const match = this.match(name);
      if (match && (match.mirror.ttlMs === 0 || record.pulledAt + match.mirror.ttlMs > now)) continue;
      await this.evict(name, digest);
      removed.push({ repository: name, digest: digest.value });
    }
    return removed;
  }

  /** Removes a cached manifest and its tags; the next pull fetches it again. */
  async evict(name: string, digest: Digest): Promise<void> {
    await this.services.manifests.delete(name, digest).catch((error: unknown) => {
      if (!(error instanceof RegistryError && error.code === "MANIFEST_UNKNOWN")) throw error;
    });
    await this.records.remove(name, digest);
  }

  async close(): Promise<void> {
    clearInterval(this.expiry);
    await this.records.close();
    await this.mirrors.close();
  }
}
