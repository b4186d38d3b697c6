import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import pLimit from "p-limit";
import { ChunkedWriter, type PieceSink } from "./chunked-writer.js";
import { StorageError, type FileInfo, type FileWriter, type StorageDriver } from "./driver.js";
import { childPaths, walkObjects, type ListedObject } from "./flat-walk.js";
import { ROOT } from "./paths.js";
import { SwiftClient, SwiftError, bytes, drain, header, text, type SwiftResponse } from "./swift-client.js";
import type { SwiftDriverOptions } from "./swift-options.js";
import type { WalkVisitor } from "./walk.js";

/** Requests a delete or a tree move keeps in flight. */
const PARALLEL = 16;
const PAGE = 10_000;
/** How many of a manifest's segments its last commit counted (later ones are an abandoned writer's). */
const SEGMENTS_META = "x-object-meta-berth-segments";

interface Listed {
  name?: string;
  subdir?: string;
  bytes?: number;
  last_modified?: string;
}

/**
 * OpenStack Swift (and radosgw's Swift API), in distribution's layout: path `/a/b` is the object
 * `<prefix>/files/a/b` in one container; directories are name prefixes. Large objects are Dynamic
 * Large Objects: a writer uploads segments under `<prefix>/segments/<random>/` and its commit
 * writes the object as a manifest naming that segment prefix, so a resumed upload only adds
 * segments and rewrites the manifest.
 */
export class SwiftDriver implements StorageDriver {
  readonly name = "swift";
  readonly client: SwiftClient;
  private readonly files: string;
  private readonly segments: string;
  private readonly chunkSize: number;
  private readonly container: string;
  /** Conditional creates of this instance, one at a time per name (see putContentIfAbsent). */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(options: SwiftDriverOptions) {
    const base = options.prefix === "" ? "" : `${options.prefix}/`;
    this.files = `${base}files`;
    this.segments = `${base}segments/`;
    this.chunkSize = options.chunkSize;
    this.container = options.container;
    this.client = new SwiftClient(options);
  }

  async getContent(path: string): Promise<Buffer> {
    const response = await this.object("GET", this.key(path));
    return bytes(await this.expect(response, path, [200]));
  }

  async putContent(path: string, content: Buffer | string): Promise<void> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    drain(await this.expect(await this.object("PUT", this.key(path), { "Content-Type": "application/octet-stream" }, body), path, [201]));
  }

  /**
   * A PUT with `If-None-Match: *`, which Swift refuses (412) when the object exists. radosgw's
   * Swift API ignores the header: there only the HEAD before it, and the serialization of this
   * instance's own creates of one name, keep a second creator out.
   */
  async putContentIfAbsent(path: string, content: Buffer | string): Promise<boolean> {
    const key = this.key(path);
    const previous = this.creating.get(key) ?? Promise.resolve();
    const attempt = previous.catch(() => undefined).then(async () => {
      if ((await this.head(key)) !== undefined) return false;
      const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      const response = await this.object("PUT", key, { "Content-Type": "application/octet-stream", "If-None-Match": "*" }, body);
      if (response.status === 412) {
        drain(response);
        return false;
      }
      drain(await this.expect(response, path, [201]));
      return true;
    });
    this.creating.set(key, attempt);
    try {
      return await attempt;
    } finally {
      if (this.creating.get(key) === attempt) this.creating.delete(key);
    }
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    if (end !== undefined && end <= offset) {
      await this.checkOffset(path, offset);
      return Readable.from([]);
    }
    const range: Record<string, string> = offset === 0 && end === undefined ? {} : { Range: `bytes=${offset}-${end === undefined ? "" : end - 1}` };
    const response = await this.object("GET", this.key(path), range);
    if (response.status === 416) {
      drain(response);
      await this.checkOffset(path, offset);
      return Readable.from([]);
    }
    return (await this.expect(response, path, [200, 206])).body;
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const key = this.key(path);
    const start = append ? await this.resume(key, path) : { segments: this.newSegmentPrefix(), count: 0, size: 0 };
    return new ChunkedWriter(new SegmentSink(this, key, start.segments, start.count, !append), this.chunkSize, start.size);
  }

  async stat(path: string): Promise<FileInfo> {
    if (path !== ROOT) {
      const head = await this.head(this.key(path));
      if (head) return { path, size: Number(header(head, "content-length") ?? 0), modTime: httpDate(header(head, "last-modified")), isDir: false };
    }
    const [first] = await this.listing(this.dirPrefix(path), undefined, 1);
    if (!first && path !== ROOT) throw new StorageError("not-found", path, this.name);
    return { path, size: 0, modTime: listedDate(first?.last_modified), isDir: true };
  }

  async fileExists(path: string): Promise<boolean> {
    return (await this.head(this.key(path))) !== undefined;
  }

  async list(path: string): Promise<string[]> {
    const prefix = this.dirPrefix(path);
    const names = (await this.listing(prefix, "/")).map((entry) => (entry.subdir !== undefined ? entry.subdir.slice(0, -1) : (entry.name ?? "")));
    return childPaths(this.name, path, prefix, names);
  }

  /**
   * A manifest moves as a new manifest naming the same segments (the source's is deleted, its
   * segments kept); any other object by a server-side copy. A directory moves object by object.
   */
  async move(source: string, dest: string): Promise<void> {
    const from = this.key(source);
    const to = this.key(dest);
    const head = await this.head(from);
    if (!head) return this.moveTree(source, dest);
    if (from === to) return;
    await this.moveObject(from, to, head);
  }

  /** A HEAD of the destination, then the move: Swift has no conditional copy. */
  async moveIfAbsent(source: string, dest: string): Promise<boolean> {
    if ((await this.head(this.key(dest))) !== undefined) return false;
    await this.move(source, dest);
    return true;
  }

  async delete(path: string): Promise<void> {
    if (path === ROOT) throw new StorageError("invalid-path", path, this.name);
    const key = this.key(path);
    const names = (await this.listing(`${key}/`)).flatMap((entry) => (entry.name ? [{ name: entry.name, bytes: entry.bytes ?? 0 }] : []));
    const own = await this.head(key);
    if (own) names.push({ name: key, bytes: 0 });
    if (names.length === 0) throw new StorageError("not-found", path, this.name);
    // Manifests are empty objects: only those can own segments.
    await pLimit(PARALLEL).map(names, async ({ name, bytes: size }) => {
      const manifest = size === 0 ? this.manifestOf(name === key ? own : await this.head(name)) : undefined;
      await this.deleteObject(name);
      if (manifest !== undefined) await this.deleteSegments(manifest, 0);
    });
  }

  async walk(path: string, visit: WalkVisitor): Promise<void> {
    const prefix = this.dirPrefix(path);
    const entries = (await this.listing(prefix)).filter((entry) => entry.name !== undefined);
    const objects: ListedObject[] = await pLimit(PARALLEL).map(entries, async (entry) => {
      // A manifest lists as 0 bytes; its HEAD says how big the object is.
      const head = entry.bytes === 0 ? await this.head(entry.name!) : undefined;
      const size = head ? Number(header(head, "content-length") ?? 0) : (entry.bytes ?? 0);
      return { rel: entry.name!.slice(prefix.length), size, modTime: listedDate(entry.last_modified) };
    });
    await walkObjects(this.name, path, objects, visit);
  }

  /** Swift's temporary URLs need a key set on the account; Berth serves the bytes itself. */
  async redirectURL(): Promise<string | null> {
    return null;
  }

  /** A request for an object, by its full name in the container. */
  object(method: string, name: string, headers: Record<string, string> = {}, body?: Buffer): Promise<SwiftResponse> {
    return this.client.request(method, encodeName(name), headers, body);
  }

  /** HEAD of an object, or undefined when there is none. */
  async head(name: string): Promise<SwiftResponse | undefined> {
    const response = await this.object("HEAD", name);
    drain(response);
    if (response.status === 404) return undefined;
    if (response.status >= 300) throw new SwiftError(response.status, `swift: HEAD ${name}: HTTP ${response.status}`);
    return response;
  }

  async deleteObject(name: string): Promise<void> {
    const response = await this.object("DELETE", name);
    drain(response);
    if (response.status >= 300 && response.status !== 404) throw new SwiftError(response.status, `swift: DELETE ${name}: HTTP ${response.status}`);
  }

  /** Deletes the segments under `prefix` from number `from` on. */
  async deleteSegments(prefix: string, from: number): Promise<void> {
    const names = (await this.listing(prefix)).flatMap((entry) => (entry.name ? [entry.name] : [])).slice(from);
    await pLimit(PARALLEL).map(names, (name) => this.deleteObject(name));
  }

  /** Every entry under `prefix` (sorted by name), paged by marker. */
  async listing(prefix: string, delimiter?: string, limit?: number): Promise<Listed[]> {
    const all: Listed[] = [];
    let marker = "";
    for (;;) {
      const page = Math.min(PAGE, limit === undefined ? PAGE : limit - all.length);
      const query = new URLSearchParams({ format: "json", prefix, limit: String(page), ...(delimiter ? { delimiter } : {}), ...(marker ? { marker } : {}) });
      const response = await this.client.request("GET", `?${query}`);
      if (response.status === 204) {
        drain(response);
        return all;
      }
      const body = await text(response);
      if (response.status !== 200) throw new SwiftError(response.status, `swift: listing ${prefix}: HTTP ${response.status}: ${body.slice(0, 200)}`);
      const entries = JSON.parse(body) as Listed[];
      all.push(...entries);
      if (entries.length < page || (limit !== undefined && all.length >= limit)) return all;
      const last = entries.at(-1)!;
      marker = last.name ?? last.subdir ?? "";
    }
  }

  segmentName(prefix: string, index: number): string {
    return `${prefix}${String(index).padStart(16, "0")}`;
  }

  newSegmentPrefix(): string {
    return `${this.segments}${randomBytes(16).toString("hex")}/`;
  }

  /** The segment prefix a manifest's X-Object-Manifest names, when it is one of this container's. */
  manifestOf(head: SwiftResponse | undefined): string | undefined {
    const value = head && header(head, "x-object-manifest");
    if (!value) return undefined;
    const decoded = decodeURIComponent(value);
    return decoded.startsWith(`${this.container}/`) ? decoded.slice(this.container.length + 1) : undefined;
  }

  /** The manifest header naming `prefix` in this container. */
  manifestHeader(prefix: string): string {
    return `${this.container}/${prefix}`;
  }

  /**
   * Where an appending writer continues: a manifest's segments (dropping any an abandoned writer
   * left past its last commit), a plain object copied in as the first segment, or nothing.
   */
  private async resume(key: string, path: string): Promise<{ segments: string; count: number; size: number }> {
    const head = await this.head(key);
    if (!head) return { segments: this.newSegmentPrefix(), count: 0, size: 0 };
    const manifest = this.manifestOf(head);
    if (manifest === undefined) {
      const segments = this.newSegmentPrefix();
      const copy = await this.object("PUT", this.segmentName(segments, 0), { "X-Copy-From": `/${this.container}/${encodeName(key)}` });
      drain(await this.expect(copy, path, [201]));
      return { segments, count: 1, size: Number(header(head, "content-length") ?? 0) };
    }
    const listed = (await this.listing(manifest)).filter((entry) => entry.name !== undefined);
    // A manifest distribution wrote records no count: all its segments are committed.
    const recorded = Number.parseInt(header(head, SEGMENTS_META) ?? "", 10);
    const counted = Number.isSafeInteger(recorded) && recorded >= 0 ? recorded : listed.length;
    if (listed.length > counted) await this.deleteSegments(manifest, counted);
    const kept = listed.slice(0, counted);
    return { segments: manifest, count: kept.length, size: kept.reduce((sum, entry) => sum + (entry.bytes ?? 0), 0) };
  }

  private async moveObject(from: string, to: string, head: SwiftResponse): Promise<void> {
    const replaced = this.manifestOf(await this.head(to));
    const manifest = this.manifestOf(head);
    const response =
      manifest !== undefined
        ? await this.object("PUT", to, { "X-Object-Manifest": this.manifestHeader(manifest), ...copied(head, SEGMENTS_META) })
        : await this.object("PUT", to, { "X-Copy-From": `/${this.container}/${encodeName(from)}` });
    drain(response);
    if (response.status !== 201) throw new SwiftError(response.status, `swift: moving ${from} to ${to}: HTTP ${response.status}`);
    await this.deleteObject(from);
    if (replaced !== undefined && replaced !== manifest) await this.deleteSegments(replaced, 0);
  }

  private async moveTree(source: string, dest: string): Promise<void> {
    const prefix = this.dirPrefix(source);
    const names = (await this.listing(prefix)).flatMap((entry) => (entry.name ? [entry.name] : []));
    if (names.length === 0) throw new StorageError("not-found", source, this.name);
    const destPrefix = this.dirPrefix(dest);
    await pLimit(PARALLEL).map(names, async (name) => {
      const head = await this.head(name);
      if (head) await this.moveObject(name, destPrefix + name.slice(prefix.length), head);
    });
  }

  /** For empty reads: the object must exist and `offset` must not lie beyond its end. */
  private async checkOffset(path: string, offset: number): Promise<void> {
    const { size, isDir } = await this.stat(path);
    if (isDir) throw new StorageError("not-found", path, this.name);
    if (offset > size) throw new StorageError("invalid-offset", path, this.name, `${this.name}: offset ${offset} beyond size ${size} of ${path}`);
  }

  private async expect(response: SwiftResponse, path: string, statuses: number[]): Promise<SwiftResponse> {
    if (statuses.includes(response.status)) return response;
    const body = await text(response).catch(() => "");
    if (response.status === 404) throw new StorageError("not-found", path, this.name);
    throw new SwiftError(response.status, `swift: ${path}: HTTP ${response.status}: ${body.slice(0, 200)}`);
  }

  private key(path: string): string {
    return path === ROOT ? this.files : `${this.files}${path}`;
  }

  private dirPrefix(path: string): string {
    return `${this.key(path)}/`;
  }
}

/**
 * A writer's segments and its commit: the manifest, rewritten with the new segment count. A
 * fresh (non-appending) writer's commit replaces the object: the segments of the manifest it
 * replaces are deleted after.
 */
class SegmentSink implements PieceSink {
  private count: number;
  private readonly first: number;

  constructor(
    private readonly driver: SwiftDriver,
    private readonly key: string,
    private readonly prefix: string,
    start: number,
    private readonly replaces: boolean,
  ) {
    this.count = start;
    this.first = start;
  }

  async piece(body: Buffer): Promise<void> {
    const name = this.driver.segmentName(this.prefix, this.count);
    const response = await this.driver.object("PUT", name, { "Content-Type": "application/octet-stream" }, body);
    drain(response);
    if (response.status !== 201) throw new SwiftError(response.status, `swift: PUT segment ${name}: HTTP ${response.status}`);
    this.count += 1;
  }

  async finish(): Promise<void> {
    const old = this.replaces ? this.driver.manifestOf(await this.driver.head(this.key)) : undefined;
    const response = await this.driver.object("PUT", this.key, {
      "X-Object-Manifest": this.driver.manifestHeader(this.prefix),
      [SEGMENTS_META]: String(this.count),
      "Content-Type": "application/octet-stream",
    });
    drain(response);
    if (response.status !== 201) throw new SwiftError(response.status, `swift: PUT manifest ${this.key}: HTTP ${response.status}`);
    if (old !== undefined && old !== this.prefix) await this.driver.deleteSegments(old, 0);
  }

  async discard(): Promise<void> {
    const manifest = this.driver.manifestOf(await this.driver.head(this.key));
    await this.driver.deleteObject(this.key);
    await this.driver.deleteSegments(this.prefix, 0);
    if (manifest !== undefined && manifest !== this.prefix) await this.driver.deleteSegments(manifest, 0);
  }

  async abandon(): Promise<void> {
    await this.driver.deleteSegments(this.prefix, this.first);
  }
}


/** A header of `head` to send again, when it has one. */
function copied(head: SwiftResponse, name: string): Record<string, string> {
  const value = header(head, name);
  return value === undefined ? {} : { [name]: value };
}

function encodeName(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

function httpDate(value: string | undefined): Date {
  const date = value ? new Date(value) : new Date(0);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}

/** Swift lists times in UTC without a zone ("2026-12-08T00:07:56.104360"); radosgw adds the Z. */
function listedDate(value: string | undefined): Date {
  if (!value) return new Date(0);
  return httpDate(/Z|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}
