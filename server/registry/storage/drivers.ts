/**
 * The one list of storage driver names, as written under `storage:` in config.yml: the config
 * schema, the feature report and the driver factory all read it. A leaf module (no imports), so
 * the schema can use it without loading any driver.
 */
export const storageDrivers = [
  { name: "filesystem", local: true },
  { name: "inmemory", local: true },
  { name: "s3" },
  { name: "oss" },
  { name: "azure" },
  { name: "swift" },
  {
    name: "gcs",
    unimplemented:
      "Berth has no gcs driver yet: no Google Cloud Storage server (or emulator) can run where Berth is tested, and a driver is not shipped untested",
  },
  { name: "rados", unimplemented: "distribution removed its rados driver in 2.7; use radosgw through the s3 or swift driver" },
] as const satisfies readonly { name: string; local?: true; unimplemented?: string }[];

type Descriptor = (typeof storageDrivers)[number];

/** A driver Berth can open. */
export type ImplementedDriverName = Exclude<Descriptor, { unimplemented: string }>["name"];

/** Every driver name distribution has (or had): a config naming one of them is not mistyped. */
export const knownStorageDriverNames: readonly string[] = storageDrivers.map((driver) => driver.name);

export const implementedStorageDriverNames: readonly ImplementedDriverName[] = storageDrivers.flatMap((driver) =>
  "unimplemented" in driver ? [] : [driver.name],
);

/** A driver that lives on this machine: opening and probing it connects to nothing. */
export function isLocalDriver(name: string): boolean {
  return storageDrivers.some((driver) => driver.name === name && "local" in driver);
}

/** Why Berth cannot open a driver distribution knows, or undefined when it can. */
export function unimplementedReason(name: string): string | undefined {
  const driver = storageDrivers.find((candidate) => candidate.name === name);
  return driver && "unimplemented" in driver ? driver.unimplemented : undefined;
}
