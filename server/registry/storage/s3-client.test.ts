import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { runLimited } from "./s3-client.js";

test("runLimited: at most `limit` at once, results in task order", async () => {
  let running = 0;
  let peak = 0;
  const tasks = Array.from({ length: 10 }, (_, i) => async () => {
    running += 1;
    peak = Math.max(peak, running);
    await sleep(10 - i);
    running -= 1;
    return i;
  });
  assert.deepEqual(await runLimited(3, tasks), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(peak, 3);
});

test("runLimited: after a failure no task starts, and it is rethrown once the started ones finished", async () => {
  const started: number[] = [];
  let finished = 0;
  const tasks = Array.from({ length: 6 }, (_, i) => async () => {
    started.push(i);
    if (i === 1) throw new Error("part 1 failed");
    await sleep(30);
    finished += 1;
    return i;
  });
  await assert.rejects(runLimited(2, tasks), /part 1 failed/);
  assert.deepEqual(started, [0, 1]);
  assert.equal(finished, 1);
});
