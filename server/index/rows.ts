import { IndexQueryError } from "./errors.js";
import type { ManifestKind, Platform, RepositoryRow, RepositorySort, SortOrder, TagRow, TagSort } from "./types.js";

// The index's SQL rows as the API's rows, and the pieces of its paged queries.

export const defaultPageSize = 50;
export const maxPageSize = 1000;

export const repositoryColumns: Record<RepositorySort, string> = { name: "name", tags: "tag_count", size: "size", pushed: "last_push" };
export const tagColumns: Record<TagSort, string> = { name: "name", created: "created", size: "size", pushed: "pushed" };

export interface RepositoryDbRow {
  id: number;
  name: string;
  namespace: string;
  tag_count: number;
  manifest_count: number;
  size: number;
  last_push: number;
}

export interface TagDbRow {
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

export interface ActivityDbRow {
  id: number;
  time: number;
  type: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  media_type: string | null;
  size: number | null;
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return defaultPageSize;
  return Math.min(maxPageSize, Math.max(1, Math.floor(limit)));
}

export function whereClause(filters: string[]): string {
  return filters.length > 0 ? `WHERE ${filters.join(" AND ")}` : "";
}

/** Makes user input match literally inside a LIKE pattern (with ESCAPE '\'). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function repositoryRow(row: RepositoryDbRow): RepositoryRow {
  return {
    name: row.name,
    namespace: row.namespace,
    tagCount: row.tag_count,
    manifestCount: row.manifest_count,
    size: row.size,
    lastPush: row.last_push > 0 ? row.last_push : null,
  };
}

export function tagRow(row: TagDbRow): TagRow {
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

export function sortValue(row: RepositoryDbRow, sort: RepositorySort): number | string {
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

export function encodeCursor(sort: RepositorySort, order: SortOrder, value: number | string, name: string): string {
  return Buffer.from(JSON.stringify([sort, order, value, name])).toString("base64url");
}

export function decodeCursor(cursor: string, sort: RepositorySort, order: SortOrder): Cursor {
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
