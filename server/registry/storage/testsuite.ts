/**
 * The behaviour every storage driver must share, as one node:test suite. A driver's test file
 * only says how to build (and clean up) a base-wrapped instance of it.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, afterEach, before, describe, it } from "node:test";
import type { Readable } from "node:stream";
import { Readable as ReadableStream, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withBase } from "./base.js";
import { batchOf } from "./batch.js";
import { StorageError, type FileInfo, type StorageDriver, type StorageErrorKind } from "./driver.js";

export interface DriverFixture {
  driver: StorageDriver;
  cleanup: () => Promise<void>;
}

const MiB = 1 << 20;

export function driverSuite(name: string, makeDriver: () => Promise<DriverFixture>): void {
  describe(`storage driver: ${name}`, () => {
    let fixture: DriverFixture;
    let rootBefore: string[];
    let counter = 0;
    const created = new Set<string>();
    const d = () => fixture.driver;

    /** A fresh top-level directory per test, deleted after it. */
    const scratch = () => {
      const dir = `/suite-${process.pid}-${++counter}`;
      created.add(dir);
      return dir;
    };

    before(async () => {
      fixture = await makeDriver();
      rootBefore = (await d().list("/")).sort();
    });

    afterEach(async () => {
      for (const dir of created) {
        await d().delete(dir).catch((error: unknown) => {
          if (!(error instanceof StorageError && error.kind === "not-found")) throw error;
        });
      }
      created.clear();
    });

    after(async () => {
      await fixture?.cleanup();
    });

    describe("getContent / putContent", () => {
      it("round-trips binary, empty and string content", async () => {
        const dir = scratch();
        const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await d().putContent(`${dir}/binary`, binary);
        await d().putContent(`${dir}/empty`, Buffer.alloc(0));
        await d().putContent(`${dir}/text`, "héllo wörld");
        assert.deepEqual(await d().getContent(`${dir}/binary`), binary);
        assert.equal((await d().getContent(`${dir}/empty`)).length, 0);
        assert.equal((await d().getContent(`${dir}/text`)).toString("utf8"), "héllo wörld");
      });

      it("overwrites, including with shorter content", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/obj`, "a much longer first value");
        await d().putContent(`${dir}/obj`, "short");
        assert.equal((await d().getContent(`${dir}/obj`)).toString(), "short");
      });

      it("creates nested paths", async () => {
        const dir = scratch();
        const path = `${dir}/a/b/c/d/_e-f.g`;
        await d().putContent(path, "deep");
        assert.equal((await d().getContent(path)).toString(), "deep");
        assert.equal((await d().stat(`${dir}/a/b`)).isDir, true);
      });

      it("is not affected by later mutation of the buffers passed in or returned", async () => {
        const dir = scratch();
        const input = Buffer.from("original");
        await d().putContent(`${dir}/obj`, input);
        input.fill(0);
        const first = await d().getContent(`${dir}/obj`);
        first.fill(0);
        assert.equal((await d().getContent(`${dir}/obj`)).toString(), "original");
      });

      it("reports not-found for missing objects and directories", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/sub/obj`, "x");
        await rejectsWith(d().getContent(`${dir}/missing`), "not-found", d().name);
        await rejectsWith(d().getContent(`${dir}/sub/obj/below`), "not-found", d().name);
        await rejectsWith(d().getContent(`${dir}/sub`), "not-found", d().name);
      });

      it("leaves one complete value when puts to one path race", async () => {
        const dir = scratch();
        const values = Array.from({ length: 16 }, (_, i) => Buffer.alloc(64 * 1024 + i * 1000, 65 + i));
        await Promise.all(values.map((value) => d().putContent(`${dir}/race`, value)));
        const final = await d().getContent(`${dir}/race`);
        assert.ok(
          values.some((value) => value.equals(final)),
          `final content (${final.length} bytes) is not one of the written values`,
        );
        assert.deepEqual(await d().list(dir), [`${dir}/race`]);
      });
    });

    describe("sendTo", () => {
      const collect = async (path: string, offset: number, end: number) => {
        const chunks: Buffer[] = [];
        const out = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(Buffer.from(chunk));
            callback();
          },
        });
        await d().sendTo!(path, out, offset, end);
        return Buffer.concat(chunks);
      };

      it("writes exact byte ranges, also across its internal buffers", async () => {
        const dir = scratch();
        const big = randomBytes(9 * MiB + 123);
        await d().putContent(`${dir}/big`, big);
        assert.ok((await collect(`${dir}/big`, 0, big.length)).equals(big));
        assert.ok((await collect(`${dir}/big`, 5, 5 * MiB + 7)).equals(big.subarray(5, 5 * MiB + 7)));
        assert.ok((await collect(`${dir}/big`, 100, big.length + 50)).equals(big.subarray(100)));
        assert.equal((await collect(`${dir}/big`, 10, 10)).length, 0);
      });

      it("reports invalid ranges and missing objects", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/digits`, "0123456789");
        await rejectsWith(collect(`${dir}/digits`, 11, 12), "invalid-offset", d().name);
        await rejectsWith(collect(`${dir}/digits`, 6, 3), "invalid-offset", d().name);
        await rejectsWith(collect(`${dir}/missing`, 0, 1), "not-found", d().name);
      });
    });

    describe("reader", () => {
      it("streams whole objects and byte ranges", async () => {
        const dir = scratch();
        const path = `${dir}/digits`;
        await d().putContent(path, "0123456789");
        assert.equal(await readText(d().reader(path)), "0123456789");
        assert.equal(await readText(d().reader(path, 3)), "3456789");
        assert.equal(await readText(d().reader(path, 3, 6)), "345");
        assert.equal(await readText(d().reader(path, 2, 100)), "23456789");
        assert.equal(await readText(d().reader(path, 5, 5)), "");
        assert.equal(await readText(d().reader(path, 10)), "");
      });

      it("rejects invalid offsets and ranges", async () => {
        const dir = scratch();
        const path = `${dir}/digits`;
        await d().putContent(path, "0123456789");
        await rejectsWith(d().reader(path, 11), "invalid-offset", d().name);
        await rejectsWith(d().reader(path, -1), "invalid-offset", d().name);
        await rejectsWith(d().reader(path, 1.5), "invalid-offset", d().name);
        await rejectsWith(d().reader(path, 6, 3), "invalid-offset", d().name);
      });

      it("reports not-found for missing objects and directories", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/sub/obj`, "x");
        await rejectsWith(d().reader(`${dir}/missing`), "not-found", d().name);
        await rejectsWith(d().reader(`${dir}/sub`), "not-found", d().name);
      });
    });

    describe("writer", () => {
      it("writes and commits", async () => {
        const dir = scratch();
        const writer = await d().writer(`${dir}/upload`, false);
        assert.equal(writer.size, 0);
        await write(writer, "hello ");
        await write(writer, Buffer.from("world"));
        await writer.commit();
        assert.equal(writer.size, 11);
        assert.equal((await d().getContent(`${dir}/upload`)).toString(), "hello world");
        assert.equal((await d().stat(`${dir}/upload`)).size, 11);
      });

      it("commits after a pipeline has ended it", async () => {
        const dir = scratch();
        const writer = await d().writer(`${dir}/upload`, false);
        await pipeline(ReadableStream.from([Buffer.from("piped "), Buffer.from("data")]), writer);
        await writer.commit();
        assert.equal(writer.size, 10);
        assert.equal((await d().getContent(`${dir}/upload`)).toString(), "piped data");
      });

      it("continues an object across writers with append", async () => {
        const dir = scratch();
        const path = `${dir}/upload`;
        const first = await d().writer(path, false);
        await write(first, "part one, ");
        await first.commit();
        const second = await d().writer(path, true);
        assert.equal(second.size, 10);
        await write(second, "part two");
        await second.commit();
        assert.equal(second.size, 18);
        assert.equal((await d().getContent(path)).toString(), "part one, part two");

        const restart = await d().writer(path, false);
        assert.equal(restart.size, 0);
        await restart.commit();
        assert.equal((await d().getContent(path)).length, 0);
      });

      it("appending to a missing object starts it empty", async () => {
        const dir = scratch();
        const writer = await d().writer(`${dir}/fresh`, true);
        assert.equal(writer.size, 0);
        await write(writer, "abc");
        await writer.commit();
        assert.equal((await d().getContent(`${dir}/fresh`)).toString(), "abc");
      });

      it("cancel removes the object", async () => {
        const dir = scratch();
        const path = `${dir}/upload`;
        const writer = await d().writer(path, false);
        await write(writer, "doomed");
        await writer.cancel();
        await rejectsWith(d().stat(path), "not-found", d().name);
        await assert.rejects(writer.commit());
      });

      it(`streams a large object (64 MiB in 1 MiB chunks)`, async () => {
        const dir = scratch();
        const path = `${dir}/big`;
        const writer = await d().writer(path, false);
        const written = createHash("sha256");
        const chunk = Buffer.alloc(MiB);
        for (let i = 0; i < 64; i++) {
          // Distinct chunks so reordering or duplication would change the digest.
          chunk.fill(i * 7);
          chunk.writeUInt32BE(i, 0);
          written.update(chunk);
          if (!writer.write(Buffer.from(chunk))) await once(writer, "drain");
        }
        await writer.commit();
        assert.equal(writer.size, 64 * MiB);
        assert.equal((await d().stat(path)).size, 64 * MiB);

        const read = createHash("sha256");
        let bytes = 0;
        for await (const piece of await d().reader(path)) {
          read.update(piece as Buffer);
          bytes += (piece as Buffer).length;
        }
        assert.equal(bytes, 64 * MiB);
        assert.equal(read.digest("hex"), written.digest("hex"));

        const tail = await readBuffer(d().reader(path, 63 * MiB + 4, 63 * MiB + 8));
        assert.deepEqual(tail, Buffer.alloc(4, (63 * 7) & 0xff));
      });
    });

    describe("stat", () => {
      it("describes files and directories", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/sub/file`, "12345");
        const file = await d().stat(`${dir}/sub/file`);
        assert.equal(file.path, `${dir}/sub/file`);
        assert.equal(file.isDir, false);
        assert.equal(file.size, 5);
        assert.ok(file.modTime instanceof Date && !Number.isNaN(file.modTime.getTime()));
        const sub = await d().stat(`${dir}/sub`);
        assert.equal(sub.isDir, true);
        assert.equal(sub.path, `${dir}/sub`);
        assert.equal((await d().stat("/")).isDir, true);
      });

      it("reports not-found", async () => {
        const dir = scratch();
        await rejectsWith(d().stat(`${dir}/missing`), "not-found", d().name);
      });
    });

    describe("fileExists", () => {
      it("is true for an object only: not for a directory, a missing path or one below a file", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/sub/file`, "12345");
        const fileExists = (path: string) => withBase(d()).fileExists?.(path);
        assert.equal(await fileExists(`${dir}/sub/file`), true);
        assert.equal(await fileExists(`${dir}/sub`), false);
        assert.equal(await fileExists(`${dir}/sub/fil`), false);
        assert.equal(await fileExists(`${dir}/sub/missing`), false);
        assert.equal(await fileExists(`${dir}/sub/file/below`), false);
        await d().delete(`${dir}/sub/file`);
        assert.equal(await fileExists(`${dir}/sub/file`), false);
      });
    });

    describe("list", () => {
      it("returns full paths of direct children only", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/a`, "a");
        await d().putContent(`${dir}/b/c`, "c");
        await d().putContent(`${dir}/b/d/e`, "e");
        assert.deepEqual((await d().list(dir)).sort(), [`${dir}/a`, `${dir}/b`]);
        assert.deepEqual((await d().list(`${dir}/b`)).sort(), [`${dir}/b/c`, `${dir}/b/d`]);
        assert.ok((await d().list("/")).includes(dir));
      });

      it("reports not-found for missing directories and for objects", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/a`, "a");
        await rejectsWith(d().list(`${dir}/missing`), "not-found", d().name);
        await rejectsWith(d().list(`${dir}/a`), "not-found", d().name);
      });
    });

    describe("move", () => {
      it("replaces the destination and removes the source", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/src`, "new");
        await d().putContent(`${dir}/dst`, "old");
        await d().move(`${dir}/src`, `${dir}/dst`);
        assert.equal((await d().getContent(`${dir}/dst`)).toString(), "new");
        await rejectsWith(d().stat(`${dir}/src`), "not-found", d().name);
      });

      it("creates the destination's parents", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/uploads/x/data`, "blob");
        await d().move(`${dir}/uploads/x/data`, `${dir}/blobs/ab/abcdef/data`);
        assert.equal((await d().getContent(`${dir}/blobs/ab/abcdef/data`)).toString(), "blob");
        await rejectsWith(d().stat(`${dir}/uploads/x/data`), "not-found", d().name);
      });

      it("reports not-found when the source is missing", async () => {
        const dir = scratch();
        await rejectsWith(d().move(`${dir}/missing`, `${dir}/dst`), "not-found", d().name);
        await rejectsWith(d().stat(`${dir}/dst`), "not-found", d().name);
      });

      it("refuses to move a tree into itself", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/tree/obj`, "x");
        await rejectsWith(d().move(`${dir}/tree`, `${dir}/tree/inner`), "invalid-path", d().name);
        assert.equal((await d().getContent(`${dir}/tree/obj`)).toString(), "x");
      });
    });

    describe("putContentIfAbsent", () => {
      it("creates a missing object and never replaces one", async () => {
        const dir = scratch();
        assert.equal(await d().putContentIfAbsent(`${dir}/new/obj`, "first"), true);
        assert.equal(await d().putContentIfAbsent(`${dir}/new/obj`, "second"), false);
        assert.equal((await d().getContent(`${dir}/new/obj`)).toString(), "first");
        assert.deepEqual(await d().list(`${dir}/new`), [`${dir}/new/obj`]);
      });

      it("lets exactly one of racing creators win, and keeps the winner's content", async () => {
        const dir = scratch();
        const values = Array.from({ length: 12 }, (_, i) => `writer-${i}-${"x".repeat(i * 100)}`);
        const results = await Promise.all(values.map((value) => d().putContentIfAbsent(`${dir}/claim`, value)));
        assert.equal(results.filter(Boolean).length, 1, `winners: ${results.join(",")}`);
        const winner = values[results.indexOf(true)];
        assert.equal((await d().getContent(`${dir}/claim`)).toString(), winner);
        assert.deepEqual(await d().list(dir), [`${dir}/claim`]);
      });

      it("creates again once the object was deleted", async () => {
        const dir = scratch();
        assert.equal(await d().putContentIfAbsent(`${dir}/lock`, "a"), true);
        await d().delete(`${dir}/lock`);
        assert.equal(await d().putContentIfAbsent(`${dir}/lock`, "b"), true);
        assert.equal((await d().getContent(`${dir}/lock`)).toString(), "b");
      });
    });

    describe("moveIfAbsent", () => {
      it("moves to a free destination, creating its parents, and removes the source", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/uploads/x/data`, "blob");
        assert.equal(await d().moveIfAbsent(`${dir}/uploads/x/data`, `${dir}/blobs/ab/abcdef/data`), true);
        assert.equal((await d().getContent(`${dir}/blobs/ab/abcdef/data`)).toString(), "blob");
        await rejectsWith(d().stat(`${dir}/uploads/x/data`), "not-found", d().name);
      });

      it("leaves an existing destination and the source as they were", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/src`, "other bytes");
        await d().putContent(`${dir}/dst`, "committed");
        assert.equal(await d().moveIfAbsent(`${dir}/src`, `${dir}/dst`), false);
        assert.equal((await d().getContent(`${dir}/dst`)).toString(), "committed");
        assert.equal((await d().getContent(`${dir}/src`)).toString(), "other bytes");
      });

      it("does not let a late append to the source's name reach the moved object", async () => {
        const dir = scratch();
        const writer = await d().writer(`${dir}/src`, false);
        writer.write(Buffer.from("verified"));
        await writer.commit();
        assert.equal(await d().moveIfAbsent(`${dir}/src`, `${dir}/dst`), true);
        // A late append (a request body that arrived after the commit) must not reach the blob.
        const late = await d().writer(`${dir}/src`, true);
        late.write(Buffer.from("late"));
        await late.commit();
        assert.equal((await d().getContent(`${dir}/dst`)).toString(), "verified");
      });

      it("reports not-found when the source is missing", async () => {
        const dir = scratch();
        await rejectsWith(d().moveIfAbsent(`${dir}/missing`, `${dir}/dst`), "not-found", d().name);
        await rejectsWith(d().stat(`${dir}/dst`), "not-found", d().name);
      });
    });

    describe("delete", () => {
      it("deletes an object", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/obj`, "x");
        await d().putContent(`${dir}/keep`, "y");
        await d().delete(`${dir}/obj`);
        await rejectsWith(d().stat(`${dir}/obj`), "not-found", d().name);
        assert.equal((await d().getContent(`${dir}/keep`)).toString(), "y");
      });

      it("deletes a whole directory tree", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/tree/a/b/c`, "1");
        await d().putContent(`${dir}/tree/a/x`, "2");
        await d().putContent(`${dir}/tree/y`, "3");
        await d().putContent(`${dir}/keep`, "4");
        await d().delete(`${dir}/tree`);
        await rejectsWith(d().stat(`${dir}/tree`), "not-found", d().name);
        await rejectsWith(d().getContent(`${dir}/tree/a/b/c`), "not-found", d().name);
        assert.deepEqual(await d().list(dir), [`${dir}/keep`]);
      });

      it("reports not-found", async () => {
        const dir = scratch();
        await rejectsWith(d().delete(`${dir}/missing`), "not-found", d().name);
      });
    });

    describe("batch (the driver's own, or one call per path)", () => {
      const b = () => batchOf(d());

      it("lists many directories, undefined where there is none", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/a`, "a");
        await d().putContent(`${dir}/b/c`, "c");
        const [top, below, missing, object] = await b().list([dir, `${dir}/b`, `${dir}/missing`, `${dir}/a`]);
        assert.deepEqual(top?.sort(), [`${dir}/a`, `${dir}/b`]);
        assert.deepEqual(below, [`${dir}/b/c`]);
        assert.equal(missing, undefined);
        assert.equal(object, undefined);
        assert.ok((await b().list(["/"]))[0]?.includes(dir));
      });

      it("reads many objects in input order, undefined for missing paths and directories", async () => {
        const dir = scratch();
        const paths = Array.from({ length: 150 }, (_, i) => `${dir}/o/${String(i).padStart(3, "0")}`);
        for (const [i, path] of paths.entries()) await d().putContent(path, `content ${i}`);
        const asked = [...paths].reverse().concat(`${dir}/missing`, `${dir}/o`, `${dir}/o/000/below`);
        const found = await b().getContent(asked);
        assert.equal(found.length, asked.length);
        assert.deepEqual(
          found.slice(0, 150).map((content) => content?.toString("utf8")),
          paths.map((_, i) => `content ${i}`).reverse(),
        );
        assert.deepEqual(found.slice(150), [undefined, undefined, undefined]);
        assert.ok(Buffer.isBuffer(found[0]));
      });

      it("stats many paths as stat does", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/sub/file`, "12345");
        const [file, sub, missing] = await b().stat([`${dir}/sub/file`, `${dir}/sub`, `${dir}/missing`]);
        const single = await d().stat(`${dir}/sub/file`);
        assert.equal(file?.size, 5);
        assert.equal(file?.isDir, false);
        assert.equal(file?.path, `${dir}/sub/file`);
        assert.equal(file?.modTime.getTime(), single.modTime.getTime());
        assert.equal(sub?.isDir, true);
        assert.equal(missing, undefined);
        assert.equal((await b().stat(["/"]))[0]?.isDir, true);
      });

      it("deletes objects and trees, and paths already gone, leaving their siblings", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/keep`, "k");
        await d().putContent(`${dir}/object`, "o");
        for (let i = 0; i < 70; i++) await d().putContent(`${dir}/tree/${i}/data`, `${i}`);
        await d().putContent(`${dir}/tree/deep/er/still`, "s");
        await b().delete([`${dir}/object`, `${dir}/tree`, `${dir}/missing`, `${dir}/object/below`]);
        assert.deepEqual(await d().list(dir), [`${dir}/keep`]);
        await b().delete([]);
      });

      it("deletes sibling trees that differ from the ones before them", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/keep/data`, "k");
        const doomed: string[] = [];
        for (let i = 0; i < 40; i++) {
          await d().putContent(`${dir}/${i}/data`, `${i}`);
          doomed.push(`${dir}/${i}`);
        }
        // Each unlike the one before: more files, the same name as a directory, an object,
        // nothing at all, other names, then alike again.
        await d().putContent(`${dir}/more/data`, "d");
        await d().putContent(`${dir}/more/extra`, "e");
        await d().putContent(`${dir}/nested/data/inner`, "i");
        await d().putContent(`${dir}/object`, "o");
        await d().putContent(`${dir}/other/link`, "l");
        await d().putContent(`${dir}/last/data`, "l");
        doomed.push(`${dir}/more`, `${dir}/nested`, `${dir}/object`, `${dir}/missing`, `${dir}/other`, `${dir}/last`);
        await b().delete(doomed);
        assert.deepEqual(await d().list(dir), [`${dir}/keep`]);
        assert.equal((await d().getContent(`${dir}/keep/data`)).toString("utf8"), "k");
      });

      it("refuses invalid paths, and the root where it is not a directory to inspect", async () => {
        const n = d().name;
        await rejectsWith(b().getContent(["/ok", "../x"]), "invalid-path", n);
        await rejectsWith(b().list(["/a//b"]), "invalid-path", n);
        await rejectsWith(b().stat(["/.hidden"]), "invalid-path", n);
        await rejectsWith(b().delete(["/ok", "/"]), "invalid-path", n);
        await rejectsWith(b().getContent(["/"]), "invalid-path", n);
      });
    });

    describe("walk", () => {
      async function seed(dir: string) {
        for (const path of ["a/2", "a/1", "b/x/y", "_u", "B", "c", "a-b/z"]) {
          await d().putContent(`${dir}/${path}`, path);
        }
      }

      it("visits depth first with children in lexical (byte) order", async () => {
        const dir = scratch();
        await seed(dir);
        const seen: FileInfo[] = [];
        await d().walk(dir, async (info) => {
          seen.push(info);
        });
        const rel = (info: FileInfo) => info.path.slice(dir.length + 1) + (info.isDir ? "/" : "");
        assert.deepEqual(seen.map(rel), ["B", "_u", "a/", "a/1", "a/2", "a-b/", "a-b/z", "b/", "b/x/", "b/x/y", "c"]);
        assert.equal(seen.find((info) => info.path === `${dir}/a/1`)?.size, 3);
      });

      it("does not descend into directories the visitor skips", async () => {
        const dir = scratch();
        await seed(dir);
        const seen: string[] = [];
        await d().walk(dir, (info) => {
          seen.push(info.path.slice(dir.length + 1));
          return info.path.endsWith("/a") || info.path.endsWith("/b") ? "skip" : undefined;
        });
        assert.deepEqual(seen, ["B", "_u", "a", "a-b", "a-b/z", "b", "c"]);
      });

      it("passes the visitor's errors through unchanged", async () => {
        const dir = scratch();
        await seed(dir);
        const failure = new Error("visitor failed");
        await assert.rejects(
          d().walk(dir, () => {
            throw failure;
          }),
          (error) => error === failure,
        );
      });

      it("reports not-found for a missing directory", async () => {
        const dir = scratch();
        await rejectsWith(d().walk(`${dir}/missing`, () => {}), "not-found", d().name);
      });
    });

    describe("redirectURL", () => {
      it("returns a URL or null", async () => {
        const dir = scratch();
        await d().putContent(`${dir}/obj`, "x");
        const url = await d().redirectURL(`${dir}/obj`, "GET");
        assert.ok(url === null || typeof url === "string");
      });
    });

    describe("path validation", () => {
      const invalid = ["../x", "a/b", "/a//b", "/a/./b", "/a/../b", "/a/", "", "/a b", "/.hidden", "/a/b\u0000", "/ü"];

      for (const path of invalid) {
        it(`rejects ${JSON.stringify(path)} on every method`, async () => {
          const kind = "invalid-path";
          const n = d().name;
          await rejectsWith(d().getContent(path), kind, n);
          await rejectsWith(d().putContent(path, "x"), kind, n);
          await rejectsWith(d().reader(path), kind, n);
          await rejectsWith(d().writer(path, false), kind, n);
          await rejectsWith(d().stat(path), kind, n);
          await rejectsWith(d().list(path), kind, n);
          await rejectsWith(d().move(path, "/valid"), kind, n);
          await rejectsWith(d().move("/valid", path), kind, n);
          await rejectsWith(d().delete(path), kind, n);
          await rejectsWith(d().walk(path, () => {}), kind, n);
          await rejectsWith(d().redirectURL(path, "GET"), kind, n);
        });
      }

      it("accepts the root only where it names a directory to inspect", async () => {
        const n = d().name;
        await d().stat("/");
        await d().list("/");
        await d().walk("/", () => "skip");
        await rejectsWith(d().getContent("/"), "invalid-path", n);
        await rejectsWith(d().putContent("/", "x"), "invalid-path", n);
        await rejectsWith(d().writer("/", false), "invalid-path", n);
        await rejectsWith(d().delete("/"), "invalid-path", n);
        await rejectsWith(d().move("/", "/x"), "invalid-path", n);
      });
    });

    // Declared last: node:test runs a suite's tests in order, after every other test's cleanup.
    it("leaves nothing behind once its objects are deleted", async () => {
      assert.deepEqual((await d().list("/")).sort(), rootBefore);
    });
  });
}

async function rejectsWith(promise: Promise<unknown>, kind: StorageErrorKind, driver: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.equal(error.driver, driver);
    return true;
  });
}

async function write(writer: NodeJS.WritableStream, chunk: string | Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    writer.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

async function readBuffer(stream: Promise<Readable>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readText(stream: Promise<Readable>): Promise<string> {
  return (await readBuffer(stream)).toString("utf8");
}
