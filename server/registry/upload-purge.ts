import type { Logger } from "../log.js";
import { layout } from "./layout.js";
import { walkRepositories } from "./repositories.js";
import { ignoreNotFound, isNotFound, type StorageDriver } from "./storage/driver.js";

export interface PurgeOptions {
  /** Uploads started longer ago than this are abandoned (distribution's default: 168 h). */
  ageMs: number;
  /** Report what would go without deleting it. */
  dryRun: boolean;
}

export interface PurgeResult {
  purged: { repository: string; id: string; startedAt: string }[];
}

/**
 * Removes abandoned uploads (`storage.maintenance.uploadpurging`): an `_uploads/<id>` directory
 * whose `startedat` is older than the age, or unreadable and itself older than the age.
 */
export async function purgeUploads(driver: StorageDriver, options: PurgeOptions, now = Date.now()): Promise<PurgeResult> {
  const purged: PurgeResult["purged"] = [];
  for (const repository of await walkRepositories(driver, { marker: "_uploads" })) {
    let uploads: string[];
    try {
      uploads = await driver.list(layout.uploadsDir(repository));
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    for (const dir of uploads) {
      const id = dir.slice(dir.lastIndexOf("/") + 1);
      const startedAt = await startedAtOf(driver, repository, id);
      if (startedAt === undefined || now - startedAt.getTime() <= options.ageMs) continue;
      purged.push({ repository, id, startedAt: startedAt.toISOString() });
      if (!options.dryRun) await driver.delete(dir).catch(ignoreNotFound);
    }
  }
  return { purged };
}

async function startedAtOf(driver: StorageDriver, repository: string, id: string): Promise<Date | undefined> {
  try {
    const parsed = new Date((await driver.getContent(layout.uploadStartedAt(repository, id))).toString("utf8").trim());
    if (!Number.isNaN(parsed.getTime())) return parsed;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // No readable start time: judge by the directory itself.
  try {
    return (await driver.stat(layout.uploadDir(repository, id))).modTime;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Runs the purge every `intervalMs` (first run after a short random delay), unless read-only. */
export function schedulePurging(
  driver: StorageDriver,
  options: PurgeOptions & { intervalMs: number; readOnly: () => boolean; logger: Logger },
): () => void {
  const run = () => {
    if (options.readOnly()) return;
    purgeUploads(driver, options).then(
      ({ purged }) => {
        if (purged.length > 0) options.logger.info(options.dryRun ? "upload purge (dry run)" : "purged abandoned uploads", { count: purged.length });
      },
      (error: unknown) => options.logger.warn("upload purge failed", { error: String(error) }),
    );
  };
  // Spread instances sharing a storage over the first minutes instead of all at once.
  const first = setTimeout(run, 60_000 + Math.random() * 240_000);
  const every = setInterval(run, options.intervalMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
