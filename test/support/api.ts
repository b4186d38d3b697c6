import { createCaller } from "../../server/api/root.js";
import { defaultConfigDocument, parseConfig } from "../../server/config/load.js";
import type { ApiServices } from "../../server/api/trpc.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import { Sessions } from "../../server/console-auth/sessions.js";
import { ConsoleUsers, type Role } from "../../server/console-auth/users.js";
import { createLogger, type Logger } from "../../server/log.js";
import { ReadOnlyState, WriteTracker } from "../../server/maintenance/readonly.js";
import { createMaintenance } from "../../server/maintenance/services.js";
import type { Mirrors } from "../../server/proxy/mirrors.js";
import { createRegistry } from "../../server/registry/handler.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";

/**
 * Everything the console API needs, built around one storage driver the way serve.ts builds it
 * (no HTTP server): for tests that call procedures or mount the API handler.
 */
export async function createTestApiServices(
  driver: StorageDriver,
  options: { logger?: Logger; loginLimit?: LoginRateLimit; deleteEnabled?: () => boolean; gcSchedule?: string; mirrors?: Mirrors } = {},
): Promise<ApiServices> {
  const logger = options.logger ?? createLogger({ level: "error", write: () => undefined });
  const readOnly = await ReadOnlyState.create({ logger });
  const writes = new WriteTracker();
  const config = parseConfig(defaultConfigDocument());
  const users = new ConsoleUsers(driver, logger);
  const registry = createRegistry({ driver, logger, secret: "test", deleteEnabled: options.deleteEnabled ?? true, readOnly: () => readOnly.isReadOnly(), writes, mirrors: options.mirrors });
  return {
    registry,
    version: "test",
    startedAt: new Date(),
    users,
    sessions: await Sessions.open(driver, users),
    loginLimit: options.loginLimit ?? new LoginRateLimit(),
    secure: false,
    authStatus: () => ({ source: "config", connected: false, mode: "none", since: new Date(0).toISOString() }),
    configuration: { file: undefined, current: () => config, reload: async () => ({ applied: [], restartNeeded: [] }) },
    // No push races these collections: nothing to hold for (test/gc/online.test.ts covers that).
    maintenance: createMaintenance({ driver, services: registry.services, readOnly, writes, logger, gcGraceMs: () => config.gc.grace, gcHoldMs: () => 0, gcSchedule: options.gcSchedule }),
  };
}

/** A tRPC caller logged in as `user` (an admin by default). */
export function callerFor(services: ApiServices, user = "admin", role: Role = "admin") {
  return createCaller({ ...services, session: { user, role, expiresAt: Date.now() + 3_600_000 } });
}
