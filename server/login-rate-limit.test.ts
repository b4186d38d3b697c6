import assert from "node:assert/strict";
import { test } from "node:test";
import { LoginRateLimit } from "./login-rate-limit.js";

test("failures past the limit are refused until the oldest leaves the window; success clears", () => {
  const limit = new LoginRateLimit(2, 60_000);
  limit.fail("a", 1_000);
  assert.equal(limit.retryAfter("a", 1_000), 0);
  limit.fail("a", 11_000);
  assert.equal(limit.retryAfter("a", 11_000), 50, "until the first failure is 60 s old");
  assert.equal(limit.retryAfter("b", 11_000), 0, "other clients are not affected");
  assert.equal(limit.retryAfter("a", 61_001), 0, "the first failure left the window");
  limit.fail("a", 61_001);
  assert.ok(limit.retryAfter("a", 61_001) > 0);
  limit.succeed("a");
  assert.equal(limit.retryAfter("a", 61_001), 0);
});

test("at most maxKeys clients are remembered: the ones that failed least recently are forgotten", () => {
  const limit = new LoginRateLimit(1, 60_000, 3);
  for (const [i, client] of ["a", "b", "c"].entries()) limit.fail(client, 1_000 + i);
  limit.fail("a", 2_000);
  limit.fail("d", 2_001);
  assert.equal(limit.retryAfter("b", 2_002), 0, "b failed least recently and was dropped");
  for (const client of ["a", "c", "d"]) assert.ok(limit.retryAfter(client, 2_002) > 0, client);
});
