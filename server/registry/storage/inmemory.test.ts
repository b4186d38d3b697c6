import { createDriver } from "./factory.js";
import { driverSuite } from "./testsuite.js";

driverSuite("inmemory", async () => ({ driver: createDriver("inmemory", {}), cleanup: async () => {} }));
