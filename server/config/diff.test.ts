import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { unifiedDiff } from "./diff.js";

const names = { from: "config.yml (running)", to: "config.yml (edited)" };

describe("unifiedDiff", () => {
  test("changes apart: diff -u hunks with three lines of context, and the counts", () => {
    const before = "log:\n  level: warn\nhttp:\n  addr: :5000\n  secret: x\n  tls: {}\n  debug: {}\n  headers: {}\nstorage:\n  filesystem:\n    rootdirectory: /v\n";
    const after = before.replace("level: warn", "level: info") + "new: 1\n";
    assert.deepEqual(unifiedDiff(before, after, names), {
      unified: [
        "--- config.yml (running)",
        "+++ config.yml (edited)",
        "@@ -1,5 +1,5 @@",
        " log:",
        "-  level: warn",
        "+  level: info",
        " http:",
        "   addr: :5000",
        "   secret: x",
        "@@ -9,3 +9,4 @@",
        " storage:",
        "   filesystem:",
        "     rootdirectory: /v",
        "+new: 1",
        "",
      ].join("\n"),
      added: 2,
      removed: 1,
    });
  });

  test("nothing changed, or only the final newline: empty", () => {
    assert.deepEqual(unifiedDiff("a\nb\n", "a\nb\n", names), { unified: "", added: 0, removed: 0 });
    assert.deepEqual(unifiedDiff("a\nb\n", "a\nb", names), { unified: "", added: 0, removed: 0 });
  });

  test("from an empty file: every line added, starting at line 0 of the old side", () => {
    const result = unifiedDiff("", "x\ny\n", names);
    assert.equal(result.unified, "--- config.yml (running)\n+++ config.yml (edited)\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    assert.deepEqual([result.added, result.removed], [2, 0]);
  });
});
