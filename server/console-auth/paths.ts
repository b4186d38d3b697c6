import { layoutRoot } from "../registry/layout.js";

/** Berth's own state in the registry storage; distribution ignores `_`-directories. */
export const berthPaths = {
  consoleUsers: `${layoutRoot}/_berth/console/users.json`,
  sessionKey: `${layoutRoot}/_berth/console/session-key`,
};
