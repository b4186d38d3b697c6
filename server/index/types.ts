/**
 * The console's metadata index: what it stores and what its queries answer. Times are epoch
 * milliseconds (plain numbers travel through tRPC unchanged), sizes are bytes.
 */

export type ManifestKind = "image" | "index" | "schema1";
export type SortOrder = "asc" | "desc";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface BlobRef {
  digest: string;
  size: number;
  mediaType: string;
}

/** What a manifest's content says about it; immutable per digest. */
export interface ManifestFacts {
  digest: string;
  mediaType: string;
  kind: ManifestKind;
  /** Bytes of the manifest itself. */
  manifestSize: number;
  /** Config + layers for an image; the sum of the children's sizes for an index. */
  size: number;
  /** Children of an index (0 for an image). */
  children: number;
  /** The image config's `created`; for an index the newest child's; null when unknown. */
  created: number | null;
  /** The image's platform (from its config), or one entry per child of an index that declares one. */
  platforms: Platform[];
  artifactType: string | null;
  config: BlobRef | null;
  layers: BlobRef[];
}

/** A manifest as stored in one repository: its facts and when its revision was pushed. */
export interface ManifestRecord extends ManifestFacts {
  pushed: number;
}

export interface TagRecord {
  tag: string;
  digest: string;
  /** When the tag was last pointed at its digest (its `current/link` mtime). */
  pushed: number;
}

/** Everything the index holds about one repository, as read from storage by a rebuild. */
export interface RepositorySnapshot {
  name: string;
  manifests: ManifestRecord[];
  /** Tags must point at manifests listed in `manifests`; others are ignored. */
  tags: TagRecord[];
}

export type RepositorySort = "name" | "tags" | "size" | "pushed";
export type TagSort = "name" | "created" | "size" | "pushed";

export interface ListRepositoriesInput {
  /** Case-insensitive substring of the name. */
  search?: string;
  /** Exact namespace ("" for repositories without one). */
  namespace?: string;
  sort?: RepositorySort;
  order?: SortOrder;
  limit?: number;
  /** From a previous page's `nextCursor`, for the same sort, order and filters; wins over `offset`. */
  cursor?: string;
  offset?: number;
}

export interface RepositoryRow {
  name: string;
  /** The first path component of a name with several ("library" for "library/nginx"); "" otherwise. */
  namespace: string;
  tagCount: number;
  manifestCount: number;
  /** Distinct config and layer blobs of the repository's manifests, each counted once. */
  size: number;
  lastPush: number | null;
}

export interface RepositoryPage {
  rows: RepositoryRow[];
  /** Rows matching the filters, across all pages. */
  total: number;
  /** Keyset cursor for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface NamespaceRow {
  namespace: string;
  repositories: number;
}

export interface ListTagsInput {
  /** Case-insensitive substring of the tag. */
  filter?: string;
  sort?: TagSort;
  order?: SortOrder;
  limit?: number;
  offset?: number;
}

export interface TagRow {
  tag: string;
  digest: string;
  mediaType: string;
  kind: ManifestKind;
  size: number;
  created: number | null;
  pushed: number;
  platforms: Platform[];
  /** Children of an index (0 for an image). */
  children: number;
}

export interface TagPage {
  rows: TagRow[];
  total: number;
}

export interface StatsResult {
  repositories: number;
  tags: number;
  /** Manifests per repository (the same digest in two repositories counts twice). */
  manifests: number;
  /** Distinct config and layer digests across the registry. */
  blobs: number;
  /** The sum over tags of their image sizes. */
  logicalBytes: number;
  /** The sum of the distinct blobs' sizes. */
  dedupBytes: number;
  largestRepositories: { name: string; size: number; tagCount: number }[];
  index: IndexStatus;
}

export interface IndexStatus {
  /** When the last full rebuild finished; null before the first. */
  builtAt: number | null;
  rebuilding: boolean;
  /** Registry events waiting to be applied. */
  pending: number;
  /** Why the index should be rebuilt, if it should. */
  stale: StaleReason | null;
}

export type StaleReason = "missing" | "generation" | "age" | "dirty";

export type ActivityType = "push" | "tag-delete" | "manifest-delete";

export interface ActivityRow {
  id: number;
  time: number;
  type: ActivityType;
  repository: string;
  tag: string | null;
  digest: string | null;
  mediaType: string | null;
  /** Bytes of the pushed manifest. */
  size: number | null;
}

export interface RebuildReport {
  repositories: number;
  tags: number;
  manifests: number;
  /** Repositories that could not be read (their previous rows were kept). */
  errors: number;
  /** Manifests skipped as unreadable or invalid. */
  skipped: number;
  durationMs: number;
}

export interface ConfigSummary {
  os: string | null;
  architecture: string | null;
  variant: string | null;
  created: number | null;
  author: string | null;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  workingDir: string | null;
  user: string | null;
  stopSignal: string | null;
}

export interface HistoryRow {
  created: number | null;
  createdBy: string;
  emptyLayer: boolean;
  comment: string | null;
}

export interface ReferrerRow {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  annotations: Record<string, string>;
}

export interface ChildRow {
  digest: string;
  mediaType: string;
  platform: Platform | null;
  /** Bytes of the child manifest. */
  manifestSize: number;
  /** The child image's size (config + layers) when the index knows it. */
  size: number | null;
  annotations: Record<string, string>;
  artifactType: string | null;
}

interface ImageDetailBase {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  /** Bytes of the manifest itself. */
  manifestSize: number;
  /** Tags of the repository pointing at this digest (from the index). */
  tags: string[];
  /** When the manifest's revision was pushed, when the index knows it. */
  pushed: number | null;
  annotations: Record<string, string>;
  subject: string | null;
  referrers: ReferrerRow[];
  /** The manifest exactly as stored. */
  raw: string;
}

export interface ImageManifestDetail extends ImageDetailBase {
  kind: "image";
  /** Config + layers. */
  size: number;
  config: BlobRef;
  layers: BlobRef[];
  /** Null when the config is not an image config or could not be read (see `configError`). */
  configSummary: ConfigSummary | null;
  configError: string | null;
  history: HistoryRow[];
}

export interface IndexManifestDetail extends ImageDetailBase {
  kind: "index";
  /** The sum of the children's sizes the index knows. */
  size: number;
  children: ChildRow[];
}

export interface Schema1ManifestDetail extends ImageDetailBase {
  kind: "schema1";
  size: number;
}

export type ImageDetail = ImageManifestDetail | IndexManifestDetail | Schema1ManifestDetail;
