import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDriver, knownDrivers } from "./factory.js";
import { FilesystemDriver } from "./filesystem.js";

describe("createDriver", () => {
  it("builds the known drivers under their config names", () => {
    assert.deepEqual(knownDrivers(), ["filesystem", "inmemory", "s3", "oss"]);
    assert.equal(createDriver("inmemory", {}).name, "inmemory");
    assert.equal(createDriver("filesystem", { rootdirectory: "/tmp/x" }).name, "filesystem");
  });

  it("defaults the filesystem root to /var/lib/registry", () => {
    assert.equal(new FilesystemDriver({ rootdirectory: "/var/lib/registry" }).root, "/var/lib/registry");
    assert.doesNotThrow(() => createDriver("filesystem", {}));
  });

  it("rejects a non-string rootdirectory", () => {
    assert.throws(() => createDriver("filesystem", { rootdirectory: 42 }), /rootdirectory/);
  });

  it("names the known drivers when the name is unknown", () => {
    assert.throws(() => createDriver("gcs", {}), /unknown storage driver "gcs"; known drivers: filesystem, inmemory/);
    assert.throws(() => createDriver("toString", {}), /unknown storage driver/);
  });
});
