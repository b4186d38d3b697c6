import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cron } from "croner";
import { validateConfigText } from "../../server/config/validate.js";
import { acquireGcLock } from "../../server/gc/lock.js";
import { listHistory, runGarbageCollection } from "../../server/gc/runner.js";
import { baseName } from "../../server/gc/scan.js";
import { GcSchedule, gcScheduleClaimsDir } from "../../server/gc/schedule.js";
import { createLogger, type Logger } from "../../server/log.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";
import { deleteManifest, pushImage, removeDir, startBerth, storageBlobs, tempDir, type GcBerth } from "./harness.js";
import { eventually } from "../support/eventually.js";

const quiet = createLogger({ level: "error", write: () => undefined });
const validate = (text: string, env: Record<string, string> = {}) => validateConfigText(`version: 0.1\nstorage: inmemory\n${text}`, { env, checkFiles: false });

describe("gc.schedule in the configuration", () => {
  it("takes a 5-field cron expression, from REGISTRY_GC_SCHEDULE too", async () => {
    const written = await validate("gc:\n  schedule: '*/15 2-4 * * 1-5'\n");
    assert.deepEqual(written.problems, []);
    assert.equal(written.config?.gc.schedule, "*/15 2-4 * * 1-5");
    assert.equal((await validate("")).config?.gc.schedule, undefined);

    const fromEnv = await validate("gc:\n  schedule: '0 1 * * *'\n", { REGISTRY_GC_SCHEDULE: "30 3 * * 0" });
    assert.deepEqual(fromEnv.problems, []);
    assert.deepEqual(fromEnv.warnings, []);
    assert.equal(fromEnv.config?.gc.schedule, "30 3 * * 0");
  });

  it("names what is wrong with a bad expression, at gc.schedule", async () => {
    const cases: [string, RegExp][] = [
      ["'0 3 * *'", /expected a cron expression of 5 fields \(minute hour day-of-month month day-of-week\) such as "0 3 \* \* \*", got 4/],
      ["'0 0 3 * * *'", /got 6 in "0 0 3 \* \* \*"/],
      ["'61 3 * * *'", /"61 3 \* \* \*" is not a valid cron expression \(minute hour day-of-month month day-of-week\): .*minute/i],
      ["'0 3 30 2 *'", /matches no date to come/],
      ["''", /must not be empty/],
      ["[0, 3]", /expected a cron expression .*, got a list/],
    ];
    for (const [value, message] of cases) {
      const result = await validate(`gc:\n  schedule: ${value}\n`);
      assert.equal(result.ok, false, value);
      assert.deepEqual(result.problems.map((p) => [p.path, p.line]), [["gc.schedule", 4]], value);
      assert.match(result.problems[0]!.message, message, value);
    }
    const fromEnv = await validate("", { REGISTRY_GC_SCHEDULE: "every night" });
    assert.deepEqual(fromEnv.problems.map((p) => [p.path, p.source]), [["gc.schedule", "env"]]);
    assert.match(fromEnv.problems[0]!.message, /got 2 in "every night".*REGISTRY_GC_SCHEDULE/);
  });

  it("the console's GC settings show the schedule and its next run", async () => {
    const caller = callerFor(await createTestApiServices(createDriver("inmemory", {}), { gcSchedule: "0 3 * * *" }));
    const settings = await caller.maintenance.gcSettings();
    assert.equal(settings.schedule?.expression, "0 3 * * *");
    assert.equal(settings.schedule?.nextRun, new Cron("0 3 * * *").nextRun()?.toISOString());
  });
});

describe("scheduled garbage collection: two instances on one storage", () => {
  let root: string;
  let a: GcBerth;
  let b: GcBerth;

  before(async () => {
    root = await tempDir("schedule");
    a = await startBerth(root);
    b = await startBerth(root);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await removeDir(root);
  });

  /** Each instance's scheduler the way createMaintenance wires it, without the waits of a loaded registry. */
  const scheduleOn = (berth: GcBerth, options: { logger?: Logger; now?: () => number } = {}) =>
    new GcSchedule({
      driver: berth.driver,
      expression: "* * * * *",
      collect: ({ user, deleteUntagged }) =>
        runGarbageCollection({
          driver: berth.driver,
          readOnly: berth.readOnly,
          writes: berth.writes,
          logger: quiet,
          user,
          deleteUntagged,
          graceMs: 0,
          holdMs: 0,
          settleMs: 0,
          local: berth.registry.services.blobs.gc,
        }),
      logger: options.logger ?? quiet,
      readOnly: () => berth.readOnly.isReadOnly(),
      now: options.now,
    });

  /** Pushes an image and deletes it through `berth`: its blobs (manifest, config, layer) are garbage. */
  const garbage = async (berth: GcBerth, repository: string) => {
    const image = await pushImage(berth.url, repository, "gone", { layers: [300] });
    await deleteManifest(berth.url, repository, image.digest);
    return image.blobs;
  };
  const scheduledRuns = async () => (await listHistory(a.driver, 100)).filter((run) => run.user === "schedule");
  const claims = async () => (await a.driver.list(gcScheduleClaimsDir)).map(baseName).sort();

  it("both instances run the same slot: one online collection deletes the garbage, recorded by schedule; old claims go", async () => {
    const kept = await pushImage(a.url, "sched/app", "v1", { layers: [200] });
    const doomed = await garbage(b, "sched/app");
    const slot = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
    await a.driver.putContent(`${gcScheduleClaimsDir}/20000101T000000000Z`, "{}");

    const records = await Promise.all([scheduleOn(a).runSlot(slot), scheduleOn(b).runSlot(slot)]);
    assert.equal(records.filter(Boolean).length, 1, "exactly one instance ran the slot");
    const runs = await scheduledRuns();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, "succeeded");
    assert.equal(runs[0]!.deleteUntagged, false);
    assert.deepEqual(runs[0]!.report!.blobsDeleted.map((blob) => blob.digest).sort(), [...doomed].sort());
    const blobs = await storageBlobs(root);
    for (const digest of doomed) assert.ok(!blobs.has(digest), `${digest} deleted`);
    for (const digest of kept.blobs) assert.ok(blobs.has(digest), `${digest} kept`);
    assert.deepEqual(await claims(), [slot.toISOString().replace(/[-:.]/g, "")], "the slot's claim stays, a years-old one went");

    // An instance whose clock lags reaches the slot after the run ended: still nothing to do.
    assert.equal(await scheduleOn(b).runSlot(slot), undefined);
    assert.equal((await scheduledRuns()).length, 1);
  });

  it("their timers fire at the slot and one of them collects", async () => {
    const doomed = await garbage(a, "sched/timer");
    const before = (await scheduledRuns()).length;
    // Both clocks 300 ms before a minute to come, so the slot is due without waiting for it.
    const slot = Math.ceil(Date.now() / 60_000) * 60_000 + 120_000;
    const offset = slot - 300 - Date.now();
    const now = () => Date.now() + offset;
    const lines: string[][] = [[], []];
    const schedules = [a, b].map((berth, i) => scheduleOn(berth, { now, logger: createLogger({ level: "debug", write: (line) => lines[i]!.push(line) }) }));
    try {
      for (const schedule of schedules) {
        assert.equal(schedule.nextRun()?.getTime(), slot);
        schedule.start();
      }
      await eventually(async () => (await scheduledRuns()).length > before, 10_000, "the scheduled run");
      const atSlot = /scheduled garbage collection (starting|runs on another instance)/;
      await eventually(() => lines.every((log) => log.some((line) => atSlot.test(line) && line.includes(new Date(slot).toISOString()))), 5_000, "both instances at the slot");
      for (const schedule of schedules) assert.equal(schedule.nextRun()?.getTime(), slot + 60_000);
    } finally {
      for (const schedule of schedules) schedule.stop();
    }
    const runs = await scheduledRuns();
    assert.equal(runs.length, before + 1);
    assert.deepEqual(runs[0]!.report!.blobsDeleted.map((blob) => blob.digest).sort(), [...doomed].sort());
    const started = lines.map((log) => log.some((line) => line.includes("scheduled garbage collection starting")));
    assert.deepEqual(started.sort(), [false, true]);
    assert.ok(lines.flat().some((line) => line.includes("runs on another instance")));
  });

  it("a slot that finds a collection running, or the registry read-only, passes without a run", async () => {
    const before = (await scheduledRuns()).length;
    const lines: string[] = [];
    const schedule = scheduleOn(a, { logger: createLogger({ level: "info", write: (line) => lines.push(line) }) });
    const lock = await acquireGcLock({ driver: a.driver, owner: "alice", dryRun: false });
    try {
      assert.equal(await schedule.runSlot(new Date("2030-01-01T00:00:00Z")), undefined);
    } finally {
      await lock.release();
    }
    assert.ok(lines.some((line) => line.includes("skipped: one is already running") && line.includes("alice")), lines.join("\n"));

    await a.readOnly.set(true, { owner: "test", reason: "maintenance" });
    try {
      assert.equal(await schedule.runSlot(new Date("2030-01-01T00:01:00Z")), undefined);
    } finally {
      await a.readOnly.set(false);
    }
    assert.ok(lines.some((line) => line.includes("skipped: the registry is read-only")));
    assert.ok(!(await claims()).includes("20300101T000100000Z"), "a read-only registry claims nothing");
    assert.equal((await scheduledRuns()).length, before);
  });
});
