import { azureOptionsFromParams } from "./azure-options.js";
import { withBase } from "./base.js";
import type { StorageDriver } from "./driver.js";
import { implementedStorageDriverNames, unimplementedReason, type ImplementedDriverName } from "./drivers.js";
import { FilesystemDriver } from "./filesystem.js";
import { InMemoryDriver } from "./inmemory.js";
import { lazyDriver } from "./lazy.js";
import { swiftOptionsFromParams } from "./swift-options.js";
import { ossOptionsFromParams } from "./oss.js";
import { s3OptionsFromParams, validatedChunkSize, type DriverParams, type S3DriverOptions } from "./s3-options.js";

/**
 * One entry per driver drivers.ts lists as implemented. Options are checked at once; the object
 * store drivers load their SDK on first use.
 */
const factories: Record<ImplementedDriverName, (params: DriverParams) => StorageDriver> = {
  filesystem: (params) => new FilesystemDriver({ rootdirectory: stringParam(params, "rootdirectory", "/var/lib/registry") }),
  inmemory: () => new InMemoryDriver(),
  s3: (params) => objectStoreDriver(s3OptionsFromParams(params)),
  oss: (params) => objectStoreDriver(ossOptionsFromParams(params)),
  azure: (params) => {
    const options = azureOptionsFromParams(params);
    return lazyDriver("azure", async () => new (await import("./azure.js")).AzureDriver(options));
  },
  swift: (params) => {
    const options = swiftOptionsFromParams(params);
    return lazyDriver("swift", async () => new (await import("./swift.js")).SwiftDriver(options));
  },
};

export function knownDrivers(): string[] {
  return [...implementedStorageDriverNames];
}

/** Builds a driver by name, already wrapped in the base (path validation, error tagging). */
export function createDriver(name: string, params: DriverParams = {}): StorageDriver {
  const make = Object.hasOwn(factories, name) ? factories[name as ImplementedDriverName] : undefined;
  if (!make) {
    const reason = unimplementedReason(name);
    throw new Error(reason ?? `unknown storage driver ${JSON.stringify(name)}; known drivers: ${knownDrivers().join(", ")}`);
  }
  return withBase(make(params));
}

/** Checks the options now, as the driver's constructor would, and loads the driver (and the AWS SDK) on first use. */
function objectStoreDriver(options: S3DriverOptions): StorageDriver {
  validatedChunkSize(options);
  return lazyDriver(options.name ?? "s3", async () => new (await import("./s3.js")).S3Driver(options));
}

function stringParam(params: DriverParams, key: string, fallback: string): string {
  const value = params[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string" || value === "") {
    throw new Error(`storage parameter ${key} must be a non-empty string`);
  }
  return value;
}
