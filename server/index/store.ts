import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { IndexQueryError } from "./errors.js";
import { schemaSql, schemaVersion } from "./schema.js";
import type {
  ActivityRow,
  ActivityType,
  ListRepositoriesInput,
  ListTagsInput,
  ManifestKind,
  ManifestRecord,
  NamespaceRow,
  Platform,
  RepositoryPage,
  RepositoryRow,
  RepositorySnapshot,
  RepositorySort,
  SortOrder,
  StatsResult,
  TagPage,
  TagRow,
  TagSort,
} from "./types.js";

export const defaultPageSize = 50;
export const maxPageSize = 1000;

/** The namespace of a repository: its first path component when it has several, "" otherwise. */
export function namespaceOf(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? "" : name.slice(0, slash);
}

const repositoryColumns: Record<RepositorySort, string> = { name: "name", tags: "tag_count", size: "size", pushed: "last_push" };
const tagColumns: Record<TagSort, string> = { name: "name", created: "created", size: "size", pushed: "pushed" };

interface RepositoryDbRow {
  id: number;
  name: string;
  namespace: string;
  tag_count: number;
  manifest_count: number;
  size: number;
  last_push: number;
}

interface TagDbRow {
  tag: string;
  digest: string;
  size: number;
  created: number | null;
  pushed: number;
  media_type: string | null;
  kind: string | null;
  platforms: string | null;
  children: number | null;
}

interface ActivityDbRow {
  id: number;
  time: number;
  type: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  media_type: string | null;
  size: number | null;
}

export interface ActivityInput {
  time: number;
  type: ActivityType;
  repository: string;
  tag?: string;
  digest?: string;
  mediaType?: string;
  size?: number;
}

/**
 * The SQLite side of the index: synchronous reads and writes over one better-sqlite3 connection.
 * Callers group writes with `transaction`.
 */
export class IndexStore {
  readonly db: Database.Database;
  /** True when the schema was (re)created by this open: the file was new or from another version. */
  readonly fresh: boolean;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    const version = this.db.pragma("user_version", { simple: true }) as number;
    this.fresh = version !== schemaVersion;
    if (this.fresh) this.recreate();
  }

  private recreate(): void {
    this.db.transaction(() => {
      const tables = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
      for (const { name } of tables) this.db.exec(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
      this.db.exec(schemaSql);
      this.db.pragma(`user_version = ${schemaVersion}`);
    })();
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  // ---- meta ----

  getMeta(key: string): string | undefined {
    return (this.stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmt("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  // ---- writes ----

  /** The repository's id, creating its row; `pass` marks it seen by the current rebuild. */
  ensureRepository(name: string, pass: number): number {
    const row = this.stmt(
      `INSERT INTO repositories (name, namespace, seen) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET seen = MAX(seen, excluded.seen) RETURNING id`,
    ).get(name, namespaceOf(name), pass) as { id: number };
    return row.id;
  }

  repositoryId(name: string): number | undefined {
    return (this.stmt("SELECT id FROM repositories WHERE name = ?").get(name) as { id: number } | undefined)?.id;
  }

  /** Adds a manifest to a repository, or refreshes its push time when it is there already. */
  putManifest(repositoryId: number, record: ManifestRecord): void {
    const existing = this.stmt("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?").get(repositoryId, record.digest);
    if (existing) {
      this.stmt("UPDATE manifests SET pushed = ? WHERE repository_id = ? AND digest = ?").run(record.pushed, repositoryId, record.digest);
      return;
    }
    this.stmt(
      `INSERT INTO manifests (repository_id, digest, media_type, kind, manifest_size, size, children, created, platforms, artifact_type, pushed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      repositoryId,
      record.digest,
      record.mediaType,
      record.kind,
      record.manifestSize,
      record.size,
      record.children,
      record.created,
      JSON.stringify(record.platforms),
      record.artifactType,
      record.pushed,
    );
    const insertLayer = this.stmt("INSERT OR IGNORE INTO layers (repository_id, manifest, position, digest, size, media_type) VALUES (?, ?, ?, ?, ?, ?)");
    if (record.config) insertLayer.run(repositoryId, record.digest, -1, record.config.digest, record.config.size, record.config.mediaType);
    record.layers.forEach((layer, position) => insertLayer.run(repositoryId, record.digest, position, layer.digest, layer.size, layer.mediaType));
  }

  /** Points a tag at a manifest of the repository; false when the index does not know that manifest. */
  setTag(repositoryId: number, tag: string, digest: string, pushed: number): boolean {
    const result = this.stmt(
      `INSERT INTO tags (repository_id, name, digest, size, created, pushed)
       SELECT repository_id, ?, digest, size, created, ? FROM manifests WHERE repository_id = ? AND digest = ?
       ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, size = excluded.size, created = excluded.created, pushed = excluded.pushed`,
    ).run(tag, pushed, repositoryId, digest);
    return result.changes > 0;
  }

  deleteTag(repositoryId: number, tag: string): void {
    this.stmt("DELETE FROM tags WHERE repository_id = ? AND name = ?").run(repositoryId, tag);
  }

  /** Removes a manifest from a repository with its layers and the tags pointing at it. */
  deleteManifest(repositoryId: number, digest: string): void {
    this.stmt("DELETE FROM layers WHERE repository_id = ? AND manifest = ?").run(repositoryId, digest);
    this.stmt("DELETE FROM tags WHERE repository_id = ? AND digest = ?").run(repositoryId, digest);
    this.stmt("DELETE FROM manifests WHERE repository_id = ? AND digest = ?").run(repositoryId, digest);
  }

  private clearRepository(repositoryId: number): void {
    this.stmt("DELETE FROM layers WHERE repository_id = ?").run(repositoryId);
    this.stmt("DELETE FROM tags WHERE repository_id = ?").run(repositoryId);
    this.stmt("DELETE FROM manifests WHERE repository_id = ?").run(repositoryId);
  }

  /** Recomputes a repository's aggregates from its rows (after any change to them). */
  refreshRepository(repositoryId: number): void {
    this.stmt(
      `UPDATE repositories SET
         tag_count = (SELECT COUNT(*) FROM tags WHERE repository_id = @id),
         manifest_count = (SELECT COUNT(*) FROM manifests WHERE repository_id = @id),
         size = (SELECT COALESCE(SUM(s), 0) FROM (SELECT MAX(size) AS s FROM layers WHERE repository_id = @id GROUP BY digest)),
         logical_size = (SELECT COALESCE(SUM(size), 0) FROM tags WHERE repository_id = @id),
         last_push = MAX((SELECT COALESCE(MAX(pushed), 0) FROM tags WHERE repository_id = @id),
                         (SELECT COALESCE(MAX(pushed), 0) FROM manifests WHERE repository_id = @id))
       WHERE id = @id`,
    ).run({ id: repositoryId });
  }

  /** Replaces everything known about each repository by its snapshot, in one transaction. */
  replaceRepositories(snapshots: readonly RepositorySnapshot[], pass: number): void {
    this.transaction(() => {
      for (const snapshot of snapshots) {
        const id = this.ensureRepository(snapshot.name, pass);
        this.clearRepository(id);
        for (const manifest of snapshot.manifests) this.putManifest(id, manifest);
        for (const tag of snapshot.tags) this.setTag(id, tag.tag, tag.digest, tag.pushed);
        this.refreshRepository(id);
      }
    });
  }

  /** Marks a repository seen by a rebuild pass without touching its rows (it could not be read). */
  markSeen(name: string, pass: number): void {
    this.stmt("UPDATE repositories SET seen = MAX(seen, ?) WHERE name = ?").run(pass, name);
  }

  /** Deletes a repository with everything in it. */
  deleteRepository(repositoryId: number): void {
    this.clearRepository(repositoryId);
    this.stmt("DELETE FROM repositories WHERE id = ?").run(repositoryId);
  }

  /** Deletes the repositories a rebuild pass did not see (gone from storage); returns how many. */
  removeUnseen(pass: number): number {
    return this.transaction(() => {
      const gone = this.stmt("SELECT id FROM repositories WHERE seen < ?").all(pass) as { id: number }[];
      for (const { id } of gone) this.deleteRepository(id);
      return gone.length;
    });
  }

  addActivity(entry: ActivityInput, keep: number): void {
    this.stmt("INSERT INTO activity (time, type, repository, tag, digest, media_type, size) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
      entry.time,
      entry.type,
      entry.repository,
      entry.tag ?? null,
      entry.digest ?? null,
      entry.mediaType ?? null,
      entry.size ?? null,
    );
    // A range delete on the primary key: usually nothing, at most one row.
    this.stmt("DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?").run(keep);
  }

  // ---- queries ----

  listRepositories(input: ListRepositoriesInput): RepositoryPage {
    const sort = input.sort ?? "name";
    const order = input.order ?? "asc";
    const limit = pageSize(input.limit);
    const column = repositoryColumns[sort];
    if (!column) throw new IndexQueryError(`unknown sort ${JSON.stringify(sort)}`);
    const direction = order === "desc" ? "DESC" : "ASC";
    const filters: string[] = [];
    const params: (string | number)[] = [];
    if (input.search) {
      filters.push("name LIKE ? ESCAPE '\\'");
      params.push(`%${escapeLike(input.search)}%`);
    }
    if (input.namespace !== undefined) {
      filters.push("namespace = ?");
      params.push(input.namespace);
    }
    const total = (this.stmt(`SELECT COUNT(*) AS n FROM repositories ${whereClause(filters)}`).get(...params) as { n: number }).n;

    const pageFilters = [...filters];
    const pageParams = [...params];
    let offset = Math.max(0, Math.floor(input.offset ?? 0));
    if (input.cursor) {
      const after = decodeCursor(input.cursor, sort, order);
      const comparison = order === "desc" ? "<" : ">";
      if (sort === "name") {
        pageFilters.push(`name ${comparison} ?`);
        pageParams.push(after.name);
      } else {
        pageFilters.push(`(${column}, name) ${comparison} (?, ?)`);
        pageParams.push(after.value as number, after.name);
      }
      offset = 0;
    }
    const orderBy = sort === "name" ? `name ${direction}` : `${column} ${direction}, name ${direction}`;
    const rows = this.stmt(
      `SELECT name, namespace, tag_count, manifest_count, size, last_push FROM repositories ${whereClause(pageFilters)}
       ORDER BY ${orderBy} LIMIT ? OFFSET ?`,
    ).all(...pageParams, limit + 1, offset) as RepositoryDbRow[];
    const more = rows.length > limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return {
      rows: rows.map(repositoryRow),
      total,
      nextCursor: more && last ? encodeCursor(sort, order, sortValue(last, sort), last.name) : null,
    };
  }

  namespaces(): NamespaceRow[] {
    return (this.stmt("SELECT namespace, COUNT(*) AS repositories FROM repositories GROUP BY namespace ORDER BY namespace").all() as NamespaceRow[]).map(
      (row) => ({ namespace: row.namespace, repositories: row.repositories }),
    );
  }

  repository(name: string): RepositoryRow | undefined {
    const row = this.stmt("SELECT name, namespace, tag_count, manifest_count, size, last_push FROM repositories WHERE name = ?").get(name) as
      | RepositoryDbRow
      | undefined;
    return row ? repositoryRow(row) : undefined;
  }

  listTags(repositoryId: number, input: ListTagsInput): TagPage {
    const sort = input.sort ?? "name";
    const column = tagColumns[sort];
    if (!column) throw new IndexQueryError(`unknown sort ${JSON.stringify(sort)}`);
    const direction = input.order === "desc" ? "DESC" : "ASC";
    const limit = pageSize(input.limit);
    const offset = Math.max(0, Math.floor(input.offset ?? 0));
    const filters = ["t.repository_id = ?"];
    const params: (string | number)[] = [repositoryId];
    if (input.filter) {
      filters.push("t.name LIKE ? ESCAPE '\\'");
      params.push(`%${escapeLike(input.filter)}%`);
    }
    const total = (this.stmt(`SELECT COUNT(*) AS n FROM tags t ${whereClause(filters)}`).get(...params) as { n: number }).n;
    const orderBy = sort === "name" ? `t.name ${direction}` : `t.${column} ${direction}, t.name ${direction}`;
    const rows = this.stmt(
      `SELECT t.name AS tag, t.digest, t.size, t.created, t.pushed, m.media_type, m.kind, m.platforms, m.children
       FROM tags t LEFT JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
       ${whereClause(filters)} ORDER BY ${orderBy} LIMIT ? OFFSET ?`,
    ).all(...params, limit, offset) as TagDbRow[];
    return { rows: rows.map(tagRow), total };
  }

  tagsSharing(repositoryId: number, digest: string): string[] {
    return (this.stmt("SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name").all(repositoryId, digest) as { name: string }[]).map(
      (row) => row.name,
    );
  }

  manifest(repositoryId: number, digest: string): { size: number; pushed: number; kind: ManifestKind } | undefined {
    return this.stmt("SELECT size, pushed, kind FROM manifests WHERE repository_id = ? AND digest = ?").get(repositoryId, digest) as
      | { size: number; pushed: number; kind: ManifestKind }
      | undefined;
  }

  stats(): Omit<StatsResult, "index"> {
    const totals = this.stmt(
      `SELECT COUNT(*) AS repositories,
              COALESCE(SUM(tag_count), 0) AS tags,
              COALESCE(SUM(manifest_count), 0) AS manifests,
              (SELECT count FROM blob_totals WHERE id = 1) AS blobs,
              COALESCE(SUM(logical_size), 0) AS logicalBytes,
              (SELECT bytes FROM blob_totals WHERE id = 1) AS dedupBytes
       FROM repositories`,
    ).get() as Omit<StatsResult, "index" | "largestRepositories">;
    const largest = this.stmt("SELECT name, size, tag_count FROM repositories ORDER BY size DESC, name ASC LIMIT 10").all() as RepositoryDbRow[];
    return { ...totals, largestRepositories: largest.map((row) => ({ name: row.name, size: row.size, tagCount: row.tag_count })) };
  }

  recentActivity(limit: number): ActivityRow[] {
    const rows = this.stmt("SELECT id, time, type, repository, tag, digest, media_type, size FROM activity ORDER BY id DESC LIMIT ?").all(
      pageSize(limit),
    ) as ActivityDbRow[];
    return rows.map((row) => ({
      id: row.id,
      time: row.time,
      type: row.type as ActivityType,
      repository: row.repository,
      tag: row.tag,
      digest: row.digest,
      mediaType: row.media_type,
      size: row.size,
    }));
  }
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined) return defaultPageSize;
  return Math.min(maxPageSize, Math.max(1, Math.floor(limit)));
}

function whereClause(filters: string[]): string {
  return filters.length > 0 ? `WHERE ${filters.join(" AND ")}` : "";
}

/** Makes user input match literally inside a LIKE pattern (with ESCAPE '\'). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function repositoryRow(row: RepositoryDbRow): RepositoryRow {
  return {
    name: row.name,
    namespace: row.namespace,
    tagCount: row.tag_count,
    manifestCount: row.manifest_count,
    size: row.size,
    lastPush: row.last_push > 0 ? row.last_push : null,
  };
}

function tagRow(row: TagDbRow): TagRow {
  return {
    tag: row.tag,
    digest: row.digest,
    mediaType: row.media_type ?? "",
    kind: (row.kind ?? "image") as ManifestKind,
    size: row.size,
    created: row.created,
    pushed: row.pushed,
    platforms: row.platforms ? (JSON.parse(row.platforms) as Platform[]) : [],
    children: row.children ?? 0,
  };
}

function sortValue(row: RepositoryDbRow, sort: RepositorySort): number | string {
  switch (sort) {
    case "name":
      return row.name;
    case "tags":
      return row.tag_count;
    case "size":
      return row.size;
    case "pushed":
      return row.last_push;
  }
}

interface Cursor {
  sort: RepositorySort;
  order: SortOrder;
  value: number | string;
  name: string;
}

function encodeCursor(sort: RepositorySort, order: SortOrder, value: number | string, name: string): string {
  return Buffer.from(JSON.stringify([sort, order, value, name])).toString("base64url");
}

function decodeCursor(cursor: string, sort: RepositorySort, order: SortOrder): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (error) {
    throw new IndexQueryError("invalid cursor", { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw new IndexQueryError("invalid cursor");
  const [cursorSort, cursorOrder, value, name] = parsed as unknown[];
  if (cursorSort !== sort || cursorOrder !== order) {
    throw new IndexQueryError("the cursor belongs to another sort order; start again from the first page");
  }
  const valueOk = sort === "name" ? typeof value === "string" : typeof value === "number" && Number.isFinite(value);
  if (!valueOk || typeof name !== "string") throw new IndexQueryError("invalid cursor");
  return { sort, order, value: value as number | string, name };
}
