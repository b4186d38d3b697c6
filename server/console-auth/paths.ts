import { layoutRoot } from "../registry/layout.js";

/** Berth's own state in the registry storage; distribution ignores `_`-directories. */
export const berthPaths = {
  consoleUsers: `${layoutRoot}/_berth/console/users.json`,
  sessionKey: `${layoutRoot}/_berth/console/session-key`,
  /** One object per user (names are storage-safe, see userName), so revoking never rewrites a shared file. */
  sessionGeneration: (user: string) => `${layoutRoot}/_berth/console/sessions/${user}`,
};
