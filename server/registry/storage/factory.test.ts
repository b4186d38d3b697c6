import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { storageSchema } from "../../config/schema.js";
import { shapeOf } from "../../config/shape.js";
import { knownStorageDriverNames } from "./drivers.js";
import { createDriver, knownDrivers } from "./factory.js";
import { FilesystemDriver } from "./filesystem.js";

describe("createDriver", () => {
  it("builds the known drivers under their config names", () => {
    assert.deepEqual(knownDrivers(), ["filesystem", "inmemory", "s3", "oss", "azure", "swift"]);
    assert.equal(createDriver("inmemory", {}).name, "inmemory");
    assert.equal(createDriver("filesystem", { rootdirectory: "/tmp/x" }).name, "filesystem");
    assert.equal(createDriver("azure", { accountname: "a", accountkey: "a2V5", container: "c" }).name, "azure");
    assert.equal(createDriver("swift", { authurl: "https://swift.example/auth/v1.0", username: "u", password: "p", container: "c" }).name, "swift");
  });

  it("defaults the filesystem root to /var/lib/registry", () => {
    assert.equal(new FilesystemDriver({ rootdirectory: "/var/lib/registry" }).root, "/var/lib/registry");
    assert.doesNotThrow(() => createDriver("filesystem", {}));
  });

  it("rejects a non-string rootdirectory", () => {
    assert.throws(() => createDriver("filesystem", { rootdirectory: 42 }), /rootdirectory/);
  });

  it("says why a driver distribution has is not implemented, and names the known drivers for others", () => {
    assert.throws(() => createDriver("gcs", {}), /no gcs driver yet: no Google Cloud Storage server/);
    assert.throws(() => createDriver("rados", {}), /removed its rados driver/);
    assert.throws(() => createDriver("nfs", {}), /unknown storage driver "nfs"; known drivers: filesystem, inmemory/);
    assert.throws(() => createDriver("toString", {}), /unknown storage driver/);
  });

  it("has every driver name in the config schema's storage section", () => {
    const shape = shapeOf(storageSchema);
    assert.equal(shape.kind, "object");
    for (const name of knownStorageDriverNames) assert.ok(shape.kind === "object" && shape.keys.has(name), name);
  });
});
