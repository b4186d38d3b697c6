import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageIOError, withBase } from "./base.js";
import { StorageError, type StorageDriver } from "./driver.js";
import { InMemoryDriver } from "./inmemory.js";

/** An in-memory driver whose getContent fails the way a foreign backend would. */
function failing(failure: unknown): StorageDriver {
  const driver = new InMemoryDriver();
  driver.getContent = async () => {
    throw failure;
  };
  return driver;
}

describe("withBase", () => {
  it("tags unexpected errors with the driver name and keeps the native code", async () => {
    const native = Object.assign(new Error("disk full"), { code: "ENOSPC" });
    await assert.rejects(withBase(failing(native)).getContent("/x"), (error: unknown) => {
      assert.ok(error instanceof StorageIOError);
      assert.equal(error.driver, "inmemory");
      assert.equal(error.path, "/x");
      assert.equal(error.code, "ENOSPC");
      assert.equal(error.cause, native);
      assert.match(error.message, /^inmemory: \/x: disk full$/);
      return true;
    });
  });

  it("re-tags storage errors raised under another driver's name", async () => {
    const foreign = new StorageError("not-found", "/x", "inner");
    await assert.rejects(withBase(failing(foreign)).getContent("/x"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.kind, "not-found");
      assert.equal(error.driver, "inmemory");
      assert.equal(error.cause, foreign);
      return true;
    });
  });

  it("does not call the driver with an invalid path", async () => {
    let called = false;
    const driver = new InMemoryDriver();
    driver.stat = async () => {
      called = true;
      throw new Error("unreachable");
    };
    await assert.rejects(withBase(driver).stat("/a/../b"), { name: "StorageError", kind: "invalid-path" });
    assert.equal(called, false);
  });

  it("wraps a driver only once", () => {
    const wrapped = withBase(new InMemoryDriver());
    assert.equal(withBase(wrapped), wrapped);
  });

  it("tags writer commit failures", async () => {
    const driver = withBase(new InMemoryDriver());
    const writer = await driver.writer("/upload", false);
    await writer.cancel();
    await assert.rejects(writer.commit(), (error: unknown) => error instanceof StorageIOError && error.driver === "inmemory");
  });
});
