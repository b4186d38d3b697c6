import { isNotFound, type StorageDriver } from "./storage/driver.js";

/** Reads a link file; undefined when it does not exist. */
export async function readLink(driver: StorageDriver, path: string): Promise<string | undefined> {
  try {
    return (await driver.getContent(path)).toString("utf8").trim();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
