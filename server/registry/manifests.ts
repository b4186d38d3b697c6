import { LRUCache } from "lru-cache";
import pLimit from "p-limit";
import type { BlobStore } from "./blobs.js";
import { digestOf } from "./digest.js";
import { RegistryError } from "./errors.js";
import type { RegistryEvents } from "./events.js";
import { layout } from "./layout.js";
import {
  artifactTypeOf,
  descriptorCount,
  ManifestFormatError,
  parseManifest,
  referencedBlobs,
  referencedManifests,
  type Descriptor,
  type ParsedManifest,
} from "./media-types.js";
import { parseDigest, tryParseDigest, type Digest } from "./reference.js";
import { checkLayerUrls, defaultManifestRules, requiredChildren, type ManifestRules } from "./manifest-validation.js";
import type { RepositoryList } from "./repositories.js";
import { ignoreNotFound, isNotFound, objectExists, type StorageDriver } from "./storage/driver.js";
import type { TagStore } from "./tags.js";

const manifestCacheBytes = 32 * 1024 * 1024;
const taggedRevisionEntries = 65_536;

/**
 * Descriptors (config and layers, or an index's children) one pushed manifest may carry. Docker
 * runs images of at most 125 layers and a multi-platform index lists a few dozen, so this leaves
 * room for large artifacts while bounding the storage lookups one PUT can cause.
 */
export const maxManifestReferences = 1_000;
/** Lookups of one PUT's references in flight at once, so one large manifest cannot flood storage. */
const referenceCheckConcurrency = 16;

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  content: Buffer;
  parsed: ParsedManifest;
}

/** Where a manifest GET finds manifests: the repository itself, or a pull-through cache in front of it. */
export interface ManifestSource {
  byTag(tag: string): Promise<StoredManifest>;
  byDigest(digest: Digest): Promise<StoredManifest>;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: Digest;
}

/**
 * Manifests: content in the blob store, presence in a repository through a revision link, and
 * the referrers index for manifests with a `subject`.
 */
export class ManifestStore {
  /** Manifest content is immutable per digest, so parsed manifests are cached by digest alone. */
  private readonly cache = new LRUCache<string, { content: Buffer; parsed: ParsedManifest }>({
    maxSize: manifestCacheBytes,
    // Never 0: a stored manifest parsed before it is cached, and an empty document does not parse.
    sizeCalculation: (entry) => entry.content.length,
  });

  /** Revisions a tag lookup found (see getTagged), by `name@digest`. */
  private readonly taggedRevisions = new LRUCache<string, true>({ max: taggedRevisionEntries });

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly tags: TagStore,
    private readonly events: RegistryEvents,
    private readonly repositories: Pick<RepositoryList, "added">,
    private readonly rules: ManifestRules = defaultManifestRules,
  ) {}

  /** The repository's own manifests, through its tags. */
  source(name: string): ManifestSource {
    return {
      byTag: async (tag) => {
        const digest = await this.tags.resolve(name, tag);
        if (!digest) throw new RegistryError("MANIFEST_UNKNOWN", { tag });
        return this.getTagged(name, digest);
      },
      byDigest: (digest) => this.get(name, digest),
    };
  }

  async exists(name: string, digest: Digest): Promise<boolean> {
    return objectExists(this.driver, layout.revisionLink(name, digest));
  }

  async get(name: string, digest: Digest): Promise<StoredManifest> {
    if (!(await this.exists(name, digest))) throw new RegistryError("MANIFEST_UNKNOWN", { digest: digest.value });
    return this.load(digest);
  }

  /**
   * The manifest a tag of `name` names. A tag still naming a digest means no delete went through
   * it (the API untags before it removes the revision; garbage collection removes untagged
   * revisions only), so the revision check, once passed, is remembered for tag lookups: on S3
   * that halves the requests of a pull by tag. Lookups by digest always check storage.
   */
  async getTagged(name: string, digest: Digest): Promise<StoredManifest> {
    const key = `${name}@${digest.value}`;
    if (this.taggedRevisions.get(key)) return this.load(digest);
    const manifest = await this.get(name, digest);
    this.taggedRevisions.set(key, true);
    return manifest;
  }

  private async load(digest: Digest): Promise<StoredManifest> {
    const unknown = () => new RegistryError("MANIFEST_UNKNOWN", { digest: digest.value });
    let entry = this.cache.get(digest.value);
    if (!entry) {
      let content: Buffer;
      try {
        content = await this.blobs.getContent(digest);
      } catch (error) {
        if (isNotFound(error)) throw unknown();
        throw error;
      }
      entry = { content, parsed: parseManifest(content, undefined, { stored: true }) };
      this.cache.set(digest.value, entry);
    }
    return { digest, mediaType: entry.parsed.mediaType, content: entry.content, parsed: entry.parsed };
  }

  /**
   * Validates and stores a manifest, then tags it when `tag` is given. Everything it references
   * must already be in the repository; the revision link is written last among the manifest's
   * own records and the tag after it, so a crash never leaves a tag on a missing manifest.
   * `cached`: a pull-through cache's copy of an upstream manifest, whose blobs and children are
   * fetched when first pulled, so they are not required here.
   */
  async put(
    name: string,
    content: Buffer,
    contentType: string | undefined,
    reference: { tag?: string; digest?: Digest },
    options: { cached?: boolean } = {},
  ): Promise<PutManifestResult> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(content, contentType);
    } catch (error) {
      if (error instanceof ManifestFormatError) throw new RegistryError("MANIFEST_INVALID", { reason: error.message }, error.message);
      throw error;
    }
    const digest = digestOf(content, reference.digest?.algorithm ?? "sha256");
    if (reference.digest && reference.digest.value !== digest.value) {
      throw new RegistryError("DIGEST_INVALID", { expected: reference.digest.value, actual: digest.value });
    }
    if (!options.cached) await this.checkReferences(name, parsed);

    await this.blobs.putContent(digest, content);
    const subject = parsed.manifest.subject ? parseDigest(parsed.manifest.subject.digest) : undefined;
    if (subject) await this.driver.putContent(layout.referrerLink(name, subject, digest), digest.value);
    await this.driver.putContent(layout.revisionLink(name, digest), digest.value);
    if (reference.tag) await this.tags.tag(name, reference.tag, digest);
    await this.repositories.added(name);
    this.events.emit({ type: "manifest.put", repository: name, digest: digest.value, mediaType: parsed.mediaType, size: content.length, tag: reference.tag });
    return { digest, subject };
  }

  /**
   * Its layer URLs must pass the `validation` rules, and everything it references (of an index,
   * the children `validation.manifests.indexes` requires) must be in the repository with the size its descriptor
   * declares: clients and the console trust a descriptor's size (to allocate, to cap a read), so a
   * manifest that lies about one is refused rather than stored.
   */
  private async checkReferences(name: string, parsed: ParsedManifest): Promise<void> {
    const count = descriptorCount(parsed);
    if (count > maxManifestReferences) {
      throw new RegistryError(
        "MANIFEST_INVALID",
        { references: count, limit: maxManifestReferences },
        `manifest has ${count} descriptors; at most ${maxManifestReferences} are accepted`,
      );
    }
    checkLayerUrls(parsed, this.rules);
    const checks = [
      ...referencedBlobs(parsed).map((descriptor) => ({ descriptor, kind: "blob" as const })),
      ...requiredChildren(referencedManifests(parsed), this.rules).map((descriptor) => ({ descriptor, kind: "manifest" as const })),
    ];
    const keyOf = (check: (typeof checks)[number]) => `${check.kind} ${check.descriptor.digest}`;
    // A layer listed twice is looked up once.
    const unique = [...new Map(checks.map((check) => [keyOf(check), check])).values()];
    const found = await pLimit(referenceCheckConcurrency).map(unique, (check) => this.storedSize(name, check.kind, parseDigest(check.descriptor.digest)));
    const sizes = new Map(unique.map((check, i) => [keyOf(check), found[i]]));
    const missing = new Set<string>();
    const wrongSize: { digest: string; size: number; stored: number }[] = [];
    for (const check of checks) {
      const { digest, size } = check.descriptor;
      const stored = sizes.get(keyOf(check));
      if (stored === undefined) missing.add(digest);
      else if (stored !== size) wrongSize.push({ digest, size, stored });
    }
    if (missing.size > 0) {
      const digests = [...missing].sort();
      throw new RegistryError("MANIFEST_BLOB_UNKNOWN", { digests }, `manifest references unknown blobs or manifests: ${digests.join(", ")}`);
    }
    if (wrongSize.length > 0) {
      const list = wrongSize.map((d) => `${d.digest} is ${d.stored} bytes, not ${d.size}`).join("; ");
      throw new RegistryError("MANIFEST_INVALID", { sizes: wrongSize }, `manifest declares wrong sizes: ${list}`);
    }
  }

  /** The size of a blob or manifest as `name` sees it; undefined when it is not in the repository. */
  private async storedSize(name: string, kind: "blob" | "manifest", digest: Digest): Promise<number | undefined> {
    const [linked, size] = await Promise.all([
      kind === "blob" ? this.blobs.isLinked(name, digest) : this.exists(name, digest),
      this.blobs.reserve(digest),
    ]);
    return linked ? size : undefined;
  }

  /** Deletes a manifest from a repository with every tag pointing at it. */
  async delete(name: string, digest: Digest): Promise<void> {
    const manifest = await this.get(name, digest).catch(async (error: unknown) => {
      // A revision whose content is unreadable can still be removed from the repository.
      if (error instanceof RegistryError && error.code === "MANIFEST_UNKNOWN" && (await this.exists(name, digest))) return undefined;
      throw error;
    });
    for (const tag of await this.tags.tagsOf(name, digest)) await this.tags.untag(name, tag);
    const subject = manifest?.parsed.manifest.subject?.digest;
    const subjectDigest = subject ? tryParseDigest(subject) : undefined;
    if (subjectDigest) await this.driver.delete(layout.referrerDir(name, subjectDigest, digest)).catch(ignoreNotFound);
    await this.driver.delete(layout.revisionDir(name, digest));
    this.taggedRevisions.delete(`${name}@${digest.value}`);
    this.events.emit({ type: "manifest.delete", repository: name, digest: digest.value });
  }

  /** Descriptors of the manifests in `name` whose subject is `subject`. */
  async referrers(name: string, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    let algorithms: string[];
    try {
      algorithms = await this.driver.list(layout.referrersDir(name, subject));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const digests: Digest[] = [];
    for (const dir of algorithms) {
      const algorithm = dir.slice(dir.lastIndexOf("/") + 1);
      for (const entry of await this.driver.list(dir).catch(() => [] as string[])) {
        const digest = tryParseDigestQuiet(`${algorithm}:${entry.slice(entry.lastIndexOf("/") + 1)}`);
        if (digest) digests.push(digest);
      }
    }
    const descriptors = await Promise.all(
      digests.map(async (digest): Promise<Descriptor | undefined> => {
        const manifest = await this.get(name, digest).catch(() => undefined);
        if (!manifest) return undefined;
        const type = artifactTypeOf(manifest.parsed);
        const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: digest.value, size: manifest.content.length };
        if (type) descriptor.artifactType = type;
        if (manifest.parsed.manifest.annotations) descriptor.annotations = manifest.parsed.manifest.annotations;
        return descriptor;
      }),
    );
    return descriptors
      .filter((d): d is Descriptor => d !== undefined)
      .filter((d) => artifactType === undefined || d.artifactType === artifactType)
      .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }
}

function tryParseDigestQuiet(value: string): Digest | undefined {
  try {
    return tryParseDigest(value);
  } catch {
    return undefined;
  }
}
