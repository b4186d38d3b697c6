import { Cron } from "croner";
import { describeValue, duration, Failure, leaf, toText } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

// Berth's own: garbage collection.

/** `gc.hold` when the file has none: a push's HEADs and its manifest are rarely minutes apart. */
export const defaultGcHoldMs = 2 * 60_000;

/** `gc.grace` when the file has none: uploads and pushes of the last minutes outlive a collection. */
export const defaultGcGraceMs = 10 * 60_000;

const cronFields = "minute hour day-of-month month day-of-week";

/**
 * A 5-field cron expression (or a croner nickname such as `@daily`), checked at load: a typo in a
 * schedule would otherwise only show as collections that never happen.
 */
function cronExpression() {
  return leaf(`a cron expression (${cronFields}) such as "0 3 * * *"`, (value) => {
    const text = toText(value)?.trim();
    if (text === undefined) return new Failure(`expected a cron expression (${cronFields}) such as "0 3 * * *", got ${describeValue(value)}`);
    if (text === "") return new Failure("must not be empty; leave gc.schedule out for no scheduled runs");
    const fields = text.split(/\s+/).length;
    if (!text.startsWith("@") && fields !== 5) {
      return new Failure(`expected a cron expression of 5 fields (${cronFields}) such as "0 3 * * *", got ${fields} in ${JSON.stringify(text)}`);
    }
    let next: Date | null;
    try {
      next = new Cron(text, { mode: "5-part" }).nextRun();
    } catch (error) {
      return new Failure(`${JSON.stringify(text)} is not a valid cron expression (${cronFields}): ${(error as Error).message.replace(/^CronPattern: /, "")}`);
    }
    return next ? text : new Failure(`${JSON.stringify(text)} matches no date to come, so nothing would ever run`);
  });
}

/**
 * `gc`: garbage collection, one setting for `berth garbage-collect` (whose `--grace` overrides it)
 * and the console (where a run may override it). `grace`: unreferenced blobs (and, deleting
 * untagged manifests, revisions) modified less than this long ago are kept: a push writes its
 * blobs before the manifest that references them.
 */
export const gcSchema = section({
  grace: withDefault(duration(), defaultGcGraceMs),
  /**
   * Online collection: how long pushes that checked a blob before the run published it as
   * garbage have to push the manifest that uses it (server/gc/README.md).
   */
  hold: withDefault(duration(), defaultGcHoldMs),
  /**
   * When `berth serve` collects by itself: a 5-field cron expression in the process's time zone
   * (server/gc/schedule.ts). Absent: only when asked.
   */
  schedule: optional(cronExpression()),
});
