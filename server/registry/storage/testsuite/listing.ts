import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withBase } from "../base.js";
import type { FileInfo } from "../driver.js";
import { rejectsWith, type SuiteContext } from "./support.js";

/** The driver suite's stat, fileExists, list and walk: what a driver says is there. */
export function listingTests({ d, scratch }: SuiteContext): void {
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
}
