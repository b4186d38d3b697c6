import { hostname, userInfo } from "node:os";
import { parseArgs } from "node:util";
import { parseDuration } from "../config/units.js";
import { createEtcdClient } from "../etcd/client.js";
import { createLogger } from "../log.js";
import { ReadOnlyState } from "../maintenance/readonly.js";
import { loadCommandConfig, processIO } from "./command-io.js";

export const readOnlyUsage = `Usage: berth readonly on|off|status [--reason TEXT] [--for DURATION] config.yml

Switches every running Berth instance that shares config.yml's etcd (etcd.endpoints) to read-only
maintenance and back, or shows the mode. Reads keep working; every write is refused with 405.
  --reason TEXT     shown to operators in the console and in the flag
  --for DURATION    the flag lapses by itself after this long (e.g. 2h)
Without etcd, switch it from the console, or set storage.maintenance.readonly.enabled and send
SIGHUP.
`;

export async function readOnlyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { reason: { type: "string" }, for: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  const [action, file] = positionals;
  if (values.help) {
    process.stdout.write(readOnlyUsage);
    return 0;
  }
  if ((action !== "on" && action !== "off" && action !== "status") || !file || positionals.length > 2) {
    process.stderr.write(readOnlyUsage);
    return 2;
  }
  const config = await loadCommandConfig(file, processIO);
  if (!config) return 1;
  if (!config.etcd) {
    process.stderr.write(`berth readonly: ${file} configures no etcd, so running instances cannot be reached.\n\n${readOnlyUsage}`);
    return 1;
  }
  const etcd = await createEtcdClient(config.etcd);
  const logger = createLogger({ level: "error" });
  const state = await ReadOnlyState.create({ etcd, prefix: config.etcd.prefix, logger });
  try {
    const status =
      action === "status"
        ? state.status()
        : await state.set(action === "on", {
            owner: `cli:${userInfo().username}@${hostname()}`,
            reason: values.reason,
            ...(values.for ? { ttlMs: parseDuration(values.for) } : {}),
          });
    process.stdout.write(
      status.readOnly
        ? `read-only (${status.source}${status.flag ? `: ${status.flag.owner}${status.flag.reason ? `, "${status.flag.reason}"` : ""}` : ""})\n`
        : "writable\n",
    );
    return 0;
  } catch (error) {
    process.stderr.write(`berth readonly: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await state.close();
    etcd.close();
  }
}
