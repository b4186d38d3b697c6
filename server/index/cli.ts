import { existsSync } from "node:fs";
import { loadCommandConfig, parseCommandArgs, processIO, type CommandIO } from "../cli/command-io.js";
import { storageDriver } from "../config/load.js";
import { createLogger } from "../log.js";
import { createRegistry } from "../registry/handler.js";
import { createDriver } from "../registry/storage/factory.js";
import { describeDatabase } from "./database.js";
import { openMetadataIndex } from "./metadata-index.js";
import { indexSettings } from "./settings.js";

export const indexUsage = `Usage: berth index <command> [options] [config.yml]

The console's metadata index: repositories, tags and manifests of the storage configured in
config.yml (default: filesystem storage under ./data), kept in a local SQLite file, or in the
MySQL/MariaDB database of console.index.dsn that several instances share. Storage is the source
of truth; the index is rebuilt from it at start when missing or stale.

Commands:
  rebuild                 Rebuild the index from storage now. Safe while Berth runs: the
                          running instance answers from the rebuilt index. On a shared
                          database, waits for another instance's rebuild to finish first.
  status                  Where the index is, when it was built, whether it is stale, its totals.

Options:
      --state-dir DIR     The SQLite index's directory (default: console.statedir, else ./data/berth-state).
      --json              Print the result as JSON.
  -h, --help              Show this help.

Exit status: 0 done, 1 failed, 2 usage error.
`;

/** `berth index ...`; returns the exit status. */
export async function indexCommand(args: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandArgs("berth index", indexUsage, {
    args,
    allowPositionals: true,
    options: {
      "state-dir": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }, io);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [command, file, ...extra] = positionals;
  if (command !== "rebuild" && command !== "status") {
    io.err(`berth index: ${command === undefined ? "missing command" : `unknown command ${JSON.stringify(command)}`}\n\n${indexUsage}`);
    return 2;
  }
  if (extra.length > 0) {
    io.err(`berth index: expected at most one config file\n\n${indexUsage}`);
    return 2;
  }

  const config = await loadCommandConfig(file, io);
  if (!config) return 1;
  const settings = indexSettings(config, { stateDir: values["state-dir"] });
  const where = describeDatabase(settings.database);
  if (command === "status" && settings.database.backend === "sqlite" && !existsSync(settings.database.path)) {
    if (values.json) io.out(`${JSON.stringify({ path: where, exists: false }, null, 2)}\n`);
    else io.out(`index: ${where}\nstate: missing (built at the next start, or by \`berth index rebuild\`)\n`);
    return 0;
  }

  const { name, params } = storageDriver(config);
  const driver = createDriver(name, params);
  const logger = createLogger({ level: "warn", write: (line) => io.err(`${line}\n`) });
  const registry = createRegistry({ driver, logger: createLogger({ level: "error", write: (line) => io.err(`${line}\n`) }) });
  let index;
  try {
    index = await openMetadataIndex({ ...settings, driver, services: registry.services, logger });
  } catch (error) {
    io.err(`berth index ${command}: cannot open the index at ${where}: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    if (command === "rebuild") {
      const report = await index.rebuild();
      if (values.json) {
        io.out(`${JSON.stringify({ path: where, ...report }, null, 2)}\n`);
      } else {
        io.out(
          `rebuilt ${where} in ${report.durationMs} ms: ${report.repositories} repositories, ${report.tags} tags, ${report.manifests} manifests` +
            `${report.skipped ? `, ${report.skipped} unreadable manifests skipped` : ""}${report.errors ? `, ${report.errors} repositories could not be read` : ""}\n`,
        );
      }
      return report.errors > 0 ? 1 : 0;
    }
    const { index: status, ...stats } = await index.stats();
    if (values.json) {
      io.out(`${JSON.stringify({ path: where, exists: true, ...status, ...stats }, null, 2)}\n`);
    } else {
      io.out(
        `index: ${where}\n` +
          `built: ${status.builtAt ? new Date(status.builtAt).toISOString() : "never"}\n` +
          `state: ${status.stale ? `stale (${status.stale})` : "fresh"}\n` +
          `${stats.repositories} repositories, ${stats.tags} tags, ${stats.manifests} manifests, ${stats.blobs} blobs\n`,
      );
    }
    return 0;
  } catch (error) {
    io.err(`berth index ${command}: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  } finally {
    await index.close();
  }
}
