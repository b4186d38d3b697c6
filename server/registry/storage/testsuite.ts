/**
 * The behaviour every storage driver must share, as one node:test suite. A driver's test file
 * only says how to build (and clean up) a base-wrapped instance of it.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { StorageError, type StorageDriver } from "./driver.js";
import { batchTests } from "./testsuite/batch.js";
import { contentTests } from "./testsuite/content.js";
import { listingTests } from "./testsuite/listing.js";
import { moveTests } from "./testsuite/moves.js";
import { pathTests } from "./testsuite/paths.js";
import type { SuiteContext } from "./testsuite/support.js";
import { writerTests } from "./testsuite/writer.js";

export interface DriverFixture {
  driver: StorageDriver;
  cleanup: () => Promise<void>;
}

export function driverSuite(name: string, makeDriver: () => Promise<DriverFixture>): void {
  describe(`storage driver: ${name}`, () => {
    let fixture: DriverFixture;
    let rootBefore: string[];
    let counter = 0;
    const created = new Set<string>();
    const d = () => fixture.driver;

    /** A fresh top-level directory per test, deleted after it. */
    const scratch = () => {
      const dir = `/suite-${process.pid}-${++counter}`;
      created.add(dir);
      return dir;
    };

    before(async () => {
      fixture = await makeDriver();
      rootBefore = (await d().list("/")).sort();
    });

    afterEach(async () => {
      for (const dir of created) {
        await d().delete(dir).catch((error: unknown) => {
          if (!(error instanceof StorageError && error.kind === "not-found")) throw error;
        });
      }
      created.clear();
    });

    after(async () => {
      await fixture?.cleanup();
    });

    const context: SuiteContext = { d, scratch };
    contentTests(context);
    writerTests(context);
    listingTests(context);
    moveTests(context);
    batchTests(context);
    pathTests(context);

    // Declared last: node:test runs a suite's tests in order, after every other test's cleanup.
    it("leaves nothing behind once its objects are deleted", async () => {
      assert.deepEqual((await d().list("/")).sort(), rootBefore);
    });
  });
}
