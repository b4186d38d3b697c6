import assert from "node:assert/strict";
import { test } from "node:test";
import { matchesRepositoryGlob } from "./repository-glob.js";

test("repository globs: * and ? within a component, ** across whole components, the rest literal", () => {
  const cases: [string, string, boolean][] = [
    ["team/*", "team/app", true],
    ["team/*", "team/a/b", false],
    ["team/*", "team", false],
    ["team/**", "team/a/b", true],
    ["team/**", "team/app", true],
    // Access to a namespace is not access to the repository named like it.
    ["team/**", "team", false],
    ["**", "anything/at/all", true],
    ["**/app", "team/app", true],
    ["*", "app", true],
    ["*", "team/app", false],
    ["app?", "app1", true],
    ["app?", "app12", false],
    ["app?", "app/", false],
    ["a.b", "axb", false],
    ["a.b", "a.b", true],
    ["lib/*-base", "lib/node-base", true],
    // Glob syntax beyond * ** ? is literal text.
    ["a{b,c}", "ab", false],
    ["a[bc]", "ab", false],
    ["!team/*", "other/app", false],
    ["+(a)", "a", false],
  ];
  for (const [glob, name, expected] of cases) assert.equal(matchesRepositoryGlob(glob, name), expected, `${glob} ~ ${name}`);
});
