import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { batchOf } from "../batch.js";
import { rejectsWith, type SuiteContext } from "./support.js";

/** The driver suite's batch: the driver's own many-path calls, or one call per path. */
export function batchTests({ d, scratch }: SuiteContext): void {
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
}
