import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MiB, readBuffer, rejectsWith, write, type SuiteContext } from "./support.js";

/** The driver suite's writer: streaming, appending across writers, cancelling. */
export function writerTests({ d, scratch }: SuiteContext): void {
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
      await pipeline(Readable.from([Buffer.from("piped "), Buffer.from("data")]), writer);
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
}
