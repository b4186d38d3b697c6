import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rejectsWith, type SuiteContext } from "./support.js";

/** The driver suite's redirectURL, and which paths every method refuses. */
export function pathTests({ d, scratch }: SuiteContext): void {
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
}
