import { randomBytes } from "node:crypto";
import type { StorageDriver } from "../registry/storage/driver.js";
import type { GcReport } from "./collect.js";
import { baseName, berthRoot, listOrEmpty } from "./scan.js";

/** One garbage-collection run as kept in storage and shown by the console. */
export interface GcRunRecord {
  /** Sortable: `<UTC timestamp>-<random>`; also the file name. */
  id: string;
  startedAt: string;
  finishedAt: string;
  /** Who started it (console user, `cli:<user>@<host>`). */
  user: string;
  dryRun: boolean;
  deleteUntagged: boolean;
  status: "succeeded" | "failed";
  report?: GcReport;
  error?: string;
}

/** `/docker/registry/v2/_berth/gc/history` (wanted: a `layout.gcHistoryDir` helper). */
export const gcHistoryDir = `${berthRoot}/gc/history`;

/** Runs kept; older records are pruned when a new one is written. */
export const historyLimit = 200;

/** 2024-05-01T12:00:00.123Z → 20240501T120000123Z: only characters storage paths accept, sorting as times do. */
export function pathTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, "");
}

export function newRunId(at: Date): string {
  return `${pathTimestamp(at)}-${randomBytes(3).toString("hex")}`;
}

export async function saveRun(driver: StorageDriver, record: GcRunRecord): Promise<void> {
  await driver.putContent(`${gcHistoryDir}/${record.id}.json`, JSON.stringify(record, null, 1));
  const files = (await listOrEmpty(driver, gcHistoryDir)).map(baseName).filter((name) => name.endsWith(".json")).sort();
  for (const old of files.slice(0, Math.max(0, files.length - historyLimit))) {
    await driver.delete(`${gcHistoryDir}/${old}`).catch(() => undefined);
  }
}

/** The most recent runs first. Unreadable records are skipped. */
export async function listHistory(driver: StorageDriver, limit = 20): Promise<GcRunRecord[]> {
  const files = (await listOrEmpty(driver, gcHistoryDir))
    .map(baseName)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .reverse()
    .slice(0, Math.max(0, limit));
  const records = await Promise.all(
    files.map(async (file) => {
      try {
        return JSON.parse((await driver.getContent(`${gcHistoryDir}/${file}`)).toString("utf8")) as GcRunRecord;
      } catch {
        return undefined;
      }
    }),
  );
  return records.filter((record): record is GcRunRecord => record !== undefined);
}
