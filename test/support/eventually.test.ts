import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eventually } from "./eventually.js";

describe("eventually", () => {
  test("retries a predicate until it is true, and a throwing check until it stops throwing", async () => {
    let calls = 0;
    await eventually(() => ++calls === 3, 2_000, "the third call", { intervalMs: 1 });
    assert.equal(calls, 3);
    let attempts = 0;
    await eventually(() => assert.ok(++attempts >= 2, "first attempt fails"), 2_000, "the second attempt", { intervalMs: 1 });
    assert.equal(attempts, 2);
  });

  test("resolves with the time waited", async () => {
    const started = Date.now();
    const waited = await eventually(() => Date.now() - started >= 50, 2_000, "50 ms", { intervalMs: 5 });
    assert.ok(waited >= 50 && waited < 1_000, `${waited} ms`);
  });

  test("times out naming what it waited for and the last failure", async () => {
    let n = 0;
    await assert.rejects(
      eventually(() => assert.equal(++n, -1), 100, () => `the impossible after ${n} tries`),
      (error: Error) => /^timed out after 100 ms waiting for the impossible after \d+ tries \(last: Expected values to be strictly equal/.test(error.message) && n > 1,
    );
    await assert.rejects(eventually(() => false, 50, "never"), /waiting for never \(last: the check returned false\)/);
  });

  test("gives up at once when abort gives a reason", async () => {
    const started = Date.now();
    await assert.rejects(eventually(() => false, 10_000, "a dead server", { abort: () => "it exited (code 1)" }), /gave up waiting for a dead server: it exited \(code 1\)/);
    assert.ok(Date.now() - started < 1_000);
  });
});
