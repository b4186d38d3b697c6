import { escapeLike } from "./rows.js";
import type { SqlDialect, SqlSession } from "./sql.js";

/** A tag the console's search found: where it is and what it points at. */
export interface TagHit {
  repository: string;
  tag: string;
  digest: string;
}

/** A manifest found by a prefix of its digest, with the tags pointing at it in its repository. */
export interface ImageHit {
  repository: string;
  digest: string;
  tags: string[];
}

export interface SearchResult {
  tags: TagHit[];
  images: ImageHit[];
}

/** What the text asks for: a digest prefix, a `repository:tag`, or a tag name substring. */
export type SearchQuery =
  | { kind: "digest"; prefix: string }
  | { kind: "reference"; repository: string; tag: string }
  | { kind: "text"; text: string };

/**
 * `sha256:ab12…` (any algorithm) or 7+ hex digits is a digest prefix, as `docker images` shows
 * them; `name:tag` a tag of one repository (a name never holds `:`); anything else a tag substring.
 */
export function parseSearch(input: string): SearchQuery | undefined {
  const text = input.trim();
  if (!text) return undefined;
  const algorithm = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]*)$/i.exec(text);
  if (algorithm && /^sha(256|384|512)$/i.test(algorithm[1]!)) return { kind: "digest", prefix: text.toLowerCase() };
  if (/^[a-f0-9]{7,}$/i.test(text)) return { kind: "digest", prefix: `sha256:${text.toLowerCase()}` };
  const colon = text.lastIndexOf(":");
  if (colon > 0 && colon < text.length - 1) return { kind: "reference", repository: text.slice(0, colon), tag: text.slice(colon + 1) };
  return { kind: "text", text };
}

/**
 * Tags and images matching `input` across every repository, from the index's rows: at most
 * `limit` of each, ordered by repository then tag or digest.
 */
export async function searchIndex(db: SqlSession, dialect: SqlDialect, input: string, limit: number): Promise<SearchResult> {
  const query = parseSearch(input);
  if (!query) return { tags: [], images: [] };
  if (query.kind === "digest") {
    const rows = await db.all<{ repository: string; digest: string; tag: string | null }>(
      `SELECT r.name AS repository, m.digest, t.name AS tag
       FROM (SELECT repository_id, digest FROM berth_manifests WHERE digest LIKE ? ORDER BY repository_id, digest LIMIT ?) m
       JOIN berth_repositories r ON r.id = m.repository_id
       LEFT JOIN berth_tags t ON t.repository_id = m.repository_id AND t.digest = m.digest
       ORDER BY r.name, m.digest, t.name`,
      [`${escapeLike(query.prefix)}%`, limit],
    );
    const images = new Map<string, ImageHit>();
    for (const row of rows) {
      const key = `${row.repository}@${row.digest}`;
      let hit = images.get(key);
      if (!hit) images.set(key, (hit = { repository: row.repository, digest: row.digest, tags: [] }));
      if (row.tag !== null) hit.tags.push(row.tag);
    }
    return { tags: [], images: [...images.values()] };
  }
  const filters =
    query.kind === "reference"
      ? { sql: `r.name = ? AND ${dialect.likeInsensitive("t.name")}`, params: [query.repository, `${escapeLike(query.tag)}%`] }
      : { sql: dialect.likeInsensitive("t.name"), params: [`%${escapeLike(query.text)}%`] };
  const tags = await db.all<TagHit>(
    `SELECT r.name AS repository, t.name AS tag, t.digest FROM berth_tags t JOIN berth_repositories r ON r.id = t.repository_id
     WHERE ${filters.sql} ORDER BY r.name, t.name LIMIT ?`,
    [...filters.params, limit],
  );
  return { tags: tags.map((row) => ({ repository: row.repository, tag: row.tag, digest: row.digest })), images: [] };
}
