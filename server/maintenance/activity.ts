import { randomBytes } from "node:crypto";
import type { Logger } from "../log.js";
import { layoutRoot } from "../registry/layout.js";
import type { StorageDriver } from "../registry/storage/driver.js";

/*
 * The console's activity log: who deleted, collected garbage, applied a configuration, toggled
 * auth. Kept in the registry storage (`_berth/activity/`), so every instance shows the same log.
 */
/** One console action, as kept in storage (shared by every instance on the same storage). */
export interface ActivityRecord {
  /** Sortable: `<UTC timestamp>-<random>`; also the file name. */
  id: string;
  time: string;
  user: string;
  /** `<area>.<verb>`; the console groups by area (config, auth, gc, manifest, tag, cleanup, readonly). */
  action: "config.apply" | "auth.enable-token" | "auth.disable-token" | (string & {});
  summary: string;
  details?: Record<string, unknown>;
}

export const activityDir = `${layoutRoot}/_berth/activity`;
const activityKept = 1000;

function activityId(at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
}

async function listNames(driver: StorageDriver, dir: string): Promise<string[]> {
  try {
    return (await driver.list(dir)).map((path) => path.slice(path.lastIndexOf("/") + 1)).filter((name) => name.endsWith(".json"));
  } catch {
    return [];
  }
}

/** Records a console action; never fails the action (a failure is logged). */
export async function recordActivity(
  services: { driver: StorageDriver; logger: Logger },
  entry: { user: string; action: ActivityRecord["action"]; summary: string; details?: Record<string, unknown> },
): Promise<void> {
  const { driver, logger } = services;
  const now = new Date();
  const record: ActivityRecord = { id: activityId(now), time: now.toISOString(), ...entry };
  try {
    await driver.putContent(`${activityDir}/${record.id}.json`, JSON.stringify(record));
    const names = (await listNames(driver, activityDir)).sort();
    for (const old of names.slice(0, Math.max(0, names.length - activityKept))) {
      await driver.delete(`${activityDir}/${old}`).catch(() => undefined);
    }
  } catch (error) {
    logger.warn("could not record console activity", { action: entry.action, error: String(error) });
  }
}

/** The most recent console actions first. */
export async function listActivity(driver: StorageDriver, limit: number): Promise<ActivityRecord[]> {
  const names = (await listNames(driver, activityDir)).sort().reverse().slice(0, limit);
  const records = await Promise.all(
    names.map(async (name) => {
      try {
        return JSON.parse((await driver.getContent(`${activityDir}/${name}`)).toString("utf8")) as ActivityRecord;
      } catch {
        return undefined;
      }
    }),
  );
  return records.filter((record): record is ActivityRecord => record !== undefined);
}
