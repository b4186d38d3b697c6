import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rejectsWith, type SuiteContext } from "./support.js";

/** The driver suite's move, the create-if-absent operations, and delete. */
export function moveTests({ d, scratch }: SuiteContext): void {
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
}
