import type { SqlDatabase, SqlDialect, SqlSession, SqlValue } from "./sql.js";
import { IndexQueryError } from "./errors.js";
import {
  decodeCursor,
  encodeCursor,
  escapeLike,
  pageSize,
  repositoryColumns,
  repositoryRow,
  sortValue,
  tagColumns,
  tagRow,
  whereClause,
  type ActivityDbRow,
  type RepositoryDbRow,
  type TagDbRow,
} from "./rows.js";
import type {
  ActivityRow,
  ActivityType,
  ListRepositoriesInput,
  ListTagsInput,
  ManifestKind,
  ManifestRecord,
  NamespaceRow,
  RepositoryPage,
  RepositoryRow,
  RepositorySnapshot,
  StatsResult,
  TagPage,
} from "./types.js";

/** The namespace of a repository: its first path component when it has several, "" otherwise. */
export function namespaceOf(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? "" : name.slice(0, slash);
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

/** A repository's event updates so far, as `IndexStore.changeCounts` reports them. */
export type ChangeCounts = Map<string, number>;

/** The stored pass when the caller has none: writes by events count as seen by the running rebuild. */
const currentPass = "COALESCE(?, (SELECT value FROM berth_meta WHERE name = 'pass') + 0, 0)";

/**
 * The index's reads and writes, in SQL both backends accept (`SqlDialect` covers the rest). A
 * store is bound to a session: the database, or one transaction of it (`transaction`).
 */
export class IndexStore {
  constructor(
    private readonly db: SqlSession,
    private readonly dialect: SqlDialect,
  ) {}

  /** Runs `fn` on a store bound to one transaction of `database`. */
  static transaction<T>(database: SqlDatabase, fn: (tx: IndexStore) => Promise<T>): Promise<T> {
    return database.transaction((session) => fn(new IndexStore(session, database.dialect)));
  }

  // ---- meta ----

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>("SELECT value FROM berth_meta WHERE name = ?", [key]))?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.run(
      `INSERT INTO berth_meta (name, value) VALUES (?, ?) ${this.dialect.onConflict(["name"], (incoming) => [`value = ${incoming("value")}`])}`,
      [key, value],
    );
  }

  // ---- writes ----

  /**
   * The repository's id, creating its row; `pass` marks it seen by that rebuild pass, or, when
   * null, by the stored pass (another process's rebuild must not drop a repository an event just
   * created), and an event's write counts as a change.
   */
  async ensureRepository(name: string, pass: number | null): Promise<number> {
    const changed = pass === null ? 1 : 0;
    await this.db.run(
      `INSERT INTO berth_repositories (name, namespace, seen, changes) VALUES (?, ?, ${currentPass}, ?)
       ${this.dialect.onConflict(["name"], (incoming) => [`seen = ${this.dialect.greatest("seen", incoming("seen"))}`, `changes = changes + ${incoming("changes")}`])}`,
      [name, namespaceOf(name), pass, changed],
    );
    return (await this.repositoryId(name))!;
  }

  async repositoryId(name: string): Promise<number | undefined> {
    return (await this.db.get<{ id: number }>("SELECT id FROM berth_repositories WHERE name = ?", [name]))?.id;
  }

  /** Counts an event's write to a repository (see `changeCounts`). */
  async touch(repositoryId: number): Promise<void> {
    await this.db.run("UPDATE berth_repositories SET changes = changes + 1 WHERE id = ?", [repositoryId]);
  }

  /** Event updates per repository so far: a rebuild writes a snapshot only if its count did not move meanwhile. */
  async changeCounts(): Promise<ChangeCounts> {
    const rows = await this.db.all<{ name: string; changes: number }>("SELECT name, changes FROM berth_repositories");
    return new Map(rows.map((row) => [row.name, row.changes]));
  }

  /** null when the index has no row for the repository. */
  async changeCount(name: string): Promise<number | null> {
    return (await this.db.get<{ changes: number }>("SELECT changes FROM berth_repositories WHERE name = ?", [name]))?.changes ?? null;
  }

  /** Adds a manifest to a repository, or refreshes its push time when it is there already. */
  async putManifest(repositoryId: number, record: ManifestRecord): Promise<void> {
    const refreshed = await this.db.run("UPDATE berth_manifests SET pushed = ? WHERE repository_id = ? AND digest = ?", [record.pushed, repositoryId, record.digest]);
    if (refreshed.changes > 0) return;
    await this.insertManifests(repositoryId, [record]);
  }

  private async insertManifests(repositoryId: number, records: readonly ManifestRecord[]): Promise<void> {
    await this.db.insertRows(
      "berth_manifests",
      ["repository_id", "digest", "media_type", "kind", "manifest_size", "size", "children", "created", "platforms", "artifact_type", "pushed"],
      records.map((r) => [repositoryId, r.digest, r.mediaType, r.kind, r.manifestSize, r.size, r.children, r.created, JSON.stringify(r.platforms), r.artifactType, r.pushed]),
    );
    const layers: SqlValue[][] = [];
    for (const record of records) {
      if (record.config) layers.push([repositoryId, record.digest, -1, record.config.digest, record.config.size, record.config.mediaType]);
      record.layers.forEach((layer, position) => layers.push([repositoryId, record.digest, position, layer.digest, layer.size, layer.mediaType]));
    }
    await this.db.insertRows("berth_layers", ["repository_id", "manifest", "position", "digest", "size", "media_type"], layers, true);
  }

  /** Points a tag at a manifest of the repository; nothing when the index does not know that manifest. */
  async setTag(repositoryId: number, tag: string, digest: string, pushed: number): Promise<void> {
    await this.db.run(
      `INSERT INTO berth_tags (repository_id, name, digest, size, created, pushed)
       SELECT repository_id, ?, digest, size, created, ? FROM berth_manifests WHERE repository_id = ? AND digest = ?
       ${this.dialect.onConflict(["repository_id", "name"], (incoming) => ["digest", "size", "created", "pushed"].map((c) => `${c} = ${incoming(c)}`))}`,
      [tag, pushed, repositoryId, digest],
    );
  }

  async deleteTag(repositoryId: number, tag: string): Promise<void> {
    await this.db.run("DELETE FROM berth_tags WHERE repository_id = ? AND name = ?", [repositoryId, tag]);
  }

  /** Removes a manifest from a repository with its layers and the tags pointing at it. */
  async deleteManifest(repositoryId: number, digest: string): Promise<void> {
    await this.db.run("DELETE FROM berth_layers WHERE repository_id = ? AND manifest = ?", [repositoryId, digest]);
    await this.db.run("DELETE FROM berth_tags WHERE repository_id = ? AND digest = ?", [repositoryId, digest]);
    await this.db.run("DELETE FROM berth_manifests WHERE repository_id = ? AND digest = ?", [repositoryId, digest]);
  }

  private async clearRepository(repositoryId: number): Promise<void> {
    await this.db.run("DELETE FROM berth_layers WHERE repository_id = ?", [repositoryId]);
    await this.db.run("DELETE FROM berth_tags WHERE repository_id = ?", [repositoryId]);
    await this.db.run("DELETE FROM berth_manifests WHERE repository_id = ?", [repositoryId]);
  }

  /** Recomputes a repository's aggregates from its rows (after any change to them). */
  async refreshRepository(repositoryId: number): Promise<void> {
    const { greatest } = this.dialect;
    await this.db.run(
      `UPDATE berth_repositories SET
         tag_count = (SELECT COUNT(*) FROM berth_tags WHERE repository_id = ?),
         manifest_count = (SELECT COUNT(*) FROM berth_manifests WHERE repository_id = ?),
         size = (SELECT COALESCE(SUM(s), 0) FROM (SELECT MAX(size) AS s FROM berth_layers WHERE repository_id = ? GROUP BY digest) AS distinct_blobs),
         logical_size = (SELECT COALESCE(SUM(size), 0) FROM berth_tags WHERE repository_id = ?),
         last_push = ${greatest("(SELECT COALESCE(MAX(pushed), 0) FROM berth_tags WHERE repository_id = ?)", "(SELECT COALESCE(MAX(pushed), 0) FROM berth_manifests WHERE repository_id = ?)")}
       WHERE id = ?`,
      Array<number>(7).fill(repositoryId),
    );
  }

  /**
   * Replaces everything known about each repository by its snapshot, unless events changed the
   * repository since `changes` was read (the snapshot may be older than they are): returns the
   * names left alone for that reason. One transaction when the store is bound to one.
   */
  async replaceRepositories(snapshots: readonly { snapshot: RepositorySnapshot; changes?: number | null }[], pass: number): Promise<string[]> {
    const moved: string[] = [];
    for (const { snapshot, changes } of snapshots) {
      if (changes !== undefined && (await this.changeCount(snapshot.name)) !== changes) {
        moved.push(snapshot.name);
        continue;
      }
      const id = await this.ensureRepository(snapshot.name, pass);
      await this.clearRepository(id);
      await this.insertManifests(id, snapshot.manifests);
      const byDigest = new Map(snapshot.manifests.map((m) => [m.digest, m]));
      const tags: SqlValue[][] = [];
      for (const tag of snapshot.tags) {
        const target = byDigest.get(tag.digest);
        if (target) tags.push([id, tag.tag, tag.digest, target.size, target.created, tag.pushed]);
      }
      await this.db.insertRows("berth_tags", ["repository_id", "name", "digest", "size", "created", "pushed"], tags);
      await this.refreshRepository(id);
    }
    return moved;
  }

  /** Marks a repository seen by a rebuild pass without touching its rows (it could not be read). */
  async markSeen(name: string, pass: number): Promise<void> {
    await this.db.run(`UPDATE berth_repositories SET seen = ${this.dialect.greatest("seen", "?")} WHERE name = ?`, [pass, name]);
  }

  /** Deletes a repository with everything in it. */
  async deleteRepository(repositoryId: number): Promise<void> {
    await this.clearRepository(repositoryId);
    await this.db.run("DELETE FROM berth_repositories WHERE id = ?", [repositoryId]);
  }

  /** The repositories a rebuild pass did not see (gone from storage). */
  async unseen(pass: number): Promise<number[]> {
    return (await this.db.all<{ id: number }>("SELECT id FROM berth_repositories WHERE seen < ?", [pass])).map((row) => row.id);
  }

  async addActivity(entry: ActivityInput, keep: number): Promise<void> {
    await this.db.insertRows(
      "berth_activity",
      ["time", "type", "repository", "tag", "digest", "media_type", "size"],
      [[entry.time, entry.type, entry.repository, entry.tag ?? null, entry.digest ?? null, entry.mediaType ?? null, entry.size ?? null]],
    );
    // A range delete on the primary key: usually nothing, at most one row. The bound is read
    // first: MySQL refuses a DELETE whose subquery reads the same table.
    const newest = await this.db.get<{ id: number | null }>("SELECT MAX(id) AS id FROM berth_activity");
    if (newest?.id != null) await this.db.run("DELETE FROM berth_activity WHERE id <= ?", [newest.id - keep]);
  }

  // ---- queries ----

  async listRepositories(input: ListRepositoriesInput): Promise<RepositoryPage> {
    const sort = input.sort ?? "name";
    const order = input.order ?? "asc";
    const limit = pageSize(input.limit);
    const column = repositoryColumns[sort];
    if (!column) throw new IndexQueryError(`unknown sort ${JSON.stringify(sort)}`);
    const direction = order === "desc" ? "DESC" : "ASC";
    const filters: string[] = [];
    const params: (string | number)[] = [];
    if (input.search) {
      filters.push(this.dialect.likeInsensitive("name"));
      params.push(`%${escapeLike(input.search)}%`);
    }
    if (input.namespace !== undefined) {
      filters.push("namespace = ?");
      params.push(input.namespace);
    }
    const total = (await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM berth_repositories ${whereClause(filters)}`, params))!.n;

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
    const rows = await this.db.all<RepositoryDbRow>(
      `SELECT name, namespace, tag_count, manifest_count, size, last_push FROM berth_repositories ${whereClause(pageFilters)}
       ORDER BY ${orderBy} LIMIT ? OFFSET ?`,
      [...pageParams, limit + 1, offset],
    );
    const more = rows.length > limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return {
      rows: rows.map(repositoryRow),
      total,
      nextCursor: more && last ? encodeCursor(sort, order, sortValue(last, sort), last.name) : null,
    };
  }

  async namespaces(): Promise<NamespaceRow[]> {
    const rows = await this.db.all<NamespaceRow>("SELECT namespace, COUNT(*) AS repositories FROM berth_repositories GROUP BY namespace ORDER BY namespace");
    return rows.map((row) => ({ namespace: row.namespace, repositories: row.repositories }));
  }

  async repository(name: string): Promise<RepositoryRow | undefined> {
    const row = await this.db.get<RepositoryDbRow>("SELECT name, namespace, tag_count, manifest_count, size, last_push FROM berth_repositories WHERE name = ?", [name]);
    return row ? repositoryRow(row) : undefined;
  }

  async listTags(repositoryId: number, input: ListTagsInput): Promise<TagPage> {
    const sort = input.sort ?? "name";
    const column = tagColumns[sort];
    if (!column) throw new IndexQueryError(`unknown sort ${JSON.stringify(sort)}`);
    const direction = input.order === "desc" ? "DESC" : "ASC";
    const limit = pageSize(input.limit);
    const offset = Math.max(0, Math.floor(input.offset ?? 0));
    const filters = ["t.repository_id = ?"];
    const params: (string | number)[] = [repositoryId];
    if (input.filter) {
      filters.push(this.dialect.likeInsensitive("t.name"));
      params.push(`%${escapeLike(input.filter)}%`);
    }
    const total = (await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM berth_tags t ${whereClause(filters)}`, params))!.n;
    const orderBy = sort === "name" ? `t.name ${direction}` : `t.${column} ${direction}, t.name ${direction}`;
    const rows = await this.db.all<TagDbRow>(
      `SELECT t.name AS tag, t.digest, t.size, t.created, t.pushed, m.media_type, m.kind, m.platforms, m.children
       FROM berth_tags t LEFT JOIN berth_manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
       ${whereClause(filters)} ORDER BY ${orderBy} LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return { rows: rows.map(tagRow), total };
  }

  async tagsSharing(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db.all<{ name: string }>("SELECT name FROM berth_tags WHERE repository_id = ? AND digest = ? ORDER BY name", [repositoryId, digest]);
    return rows.map((row) => row.name);
  }

  manifest(repositoryId: number, digest: string): Promise<{ size: number; pushed: number; kind: ManifestKind } | undefined> {
    return this.db.get("SELECT size, pushed, kind FROM berth_manifests WHERE repository_id = ? AND digest = ?", [repositoryId, digest]);
  }

  async stats(): Promise<Omit<StatsResult, "index">> {
    const totals = (await this.db.get<Omit<StatsResult, "index" | "largestRepositories">>(
      `SELECT COUNT(*) AS repositories,
              COALESCE(SUM(tag_count), 0) AS tags,
              COALESCE(SUM(manifest_count), 0) AS manifests,
              (SELECT count FROM berth_blob_totals WHERE id = 1) AS blobs,
              COALESCE(SUM(logical_size), 0) AS logicalBytes,
              (SELECT bytes FROM berth_blob_totals WHERE id = 1) AS dedupBytes
       FROM berth_repositories`,
    ))!;
    const largest = await this.db.all<RepositoryDbRow>("SELECT name, size, tag_count FROM berth_repositories ORDER BY size DESC, name ASC LIMIT 10");
    return { ...totals, largestRepositories: largest.map((row) => ({ name: row.name, size: row.size, tagCount: row.tag_count })) };
  }

  async recentActivity(limit: number): Promise<ActivityRow[]> {
    const rows = await this.db.all<ActivityDbRow>("SELECT id, time, type, repository, tag, digest, media_type, size FROM berth_activity ORDER BY id DESC LIMIT ?", [
      pageSize(limit),
    ]);
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
