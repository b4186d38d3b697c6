import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Writable } from "node:stream";
import { MiB, readText, rejectsWith, type SuiteContext } from "./support.js";

/** The driver suite's getContent/putContent, sendTo and reader: whole objects and byte ranges. */
export function contentTests({ d, scratch }: SuiteContext): void {
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
}
