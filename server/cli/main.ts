import { parseArgs } from "node:util";
import { ConfigError, loadConfigWithWarnings } from "../config/load.js";
import { resolveConfigFile } from "../config/paths.js";
import { version } from "../package-info.js";

const usage = `Usage: berth <command> [options]

Commands:
  serve [config.yml]     Start the registry (/v2/) and the console on one port.
                         Without a config file: $REGISTRY_CONFIGURATION_PATH, else
                         /etc/distribution/config.yml, else /etc/docker/registry/config.yml,
                         else filesystem storage under ./data on :5000.
      --registry-only    Serve the registry API only, without the console.
      --dev              Run the console in development mode (hot reload).

  config validate [--dry-run] [--connect] [--json] config.yml
                         Check a configuration; every problem with its line and column.
                         --dry-run probes a local storage; --connect also etcd, S3, MySQL.
  config print [config.yml]
                         The effective configuration, secrets redacted (file found as for serve).
  garbage-collect [--dry-run] [--delete-untagged] [--grace D] [--json] config.yml
                         Mark and sweep unreferenced blobs of a stopped registry's storage (with
                         etcd configured, running instances are held read-only meanwhile); blobs
                         younger than gc.grace (10m) or --grace are kept.
  readonly on|off|status [--reason TEXT] [--for DURATION] config.yml
                         Switch every instance sharing the etcd to read-only and back.
  index rebuild|status [config.yml]
                         Rebuild or inspect the console's metadata index (console.statedir).

Signals: SIGHUP re-reads the configuration file and applies log level, delete, read-only,
headers, notifications and auth live (other changes are reported as needing a restart).

Options:
  -h, --help             Show this help.
  -v, --version          Print the version.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === "-v" || command === "--version" || command === "version") {
    process.stdout.write(`berth ${version}\n`);
    return 0;
  }
  // Each command loads only its own modules: the server's (Next.js, tRPC, SDKs) cost half a
  // second at start, which a short command like garbage-collect or readonly should not pay.
  if (command === "serve") return serveCommand(rest);
  if (command === "config") return (await import("./config-commands.js")).configCommand(rest);
  if (command === "garbage-collect") return (await import("./gc-command.js")).gcCommand(rest);
  if (command === "index") return (await import("../index/cli.js")).indexCommand(rest);
  if (command === "readonly") return (await import("./readonly-command.js")).readOnlyCommand(rest);
  process.stderr.write(`berth: unknown command ${JSON.stringify(command)}\n\n${usage}`);
  return 2;
}

async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      dev: { type: "boolean", default: false },
      "registry-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length > 1) {
    process.stderr.write("berth serve: expected at most one config file\n");
    return 2;
  }
  const file = resolveConfigFile(positionals[0]);
  const [{ knownDrivers }, { serve }] = await Promise.all([import("../registry/storage/factory.js"), import("../serve.js")]);
  const { config, warningLines } = await loadConfigWithWarnings(file, { drivers: knownDrivers() });
  const running = await serve({ config, file, warnings: warningLines, dev: values.dev, registryOnly: values["registry-only"], guardProcess: true });
  // A failed reload is logged by reload() and leaves the running configuration in place.
  process.on("SIGHUP", () => running.reload().catch(() => undefined));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await running.close();
  return 0;
}

export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`berth: ${error.problems.join("\n  ")}\n`);
      } else {
        process.stderr.write(`berth: ${(error as Error)?.message ?? String(error)}\n`);
      }
      process.exit(1);
    },
  );
}
