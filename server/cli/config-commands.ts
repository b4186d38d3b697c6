import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { dryRun, unreachedServices } from "../config/dryrun.js";
import { ConfigError, loadConfigWithWarnings } from "../config/load.js";
import { resolveConfigFile } from "../config/paths.js";
import { formatProblem, type Problem } from "../config/problems.js";
import { printConfig } from "../config/redact.js";
import { validateConfigText } from "../config/validate.js";
import { createDriver, knownDrivers } from "../registry/storage/factory.js";

export const configUsage = `Usage:
  berth config validate [--dry-run] [--connect] [--json] config.yml
      Checks the file (YAML, schema, cross-field rules, referenced files) with REGISTRY_*
      overrides applied, and lists every problem with its line and column. --dry-run also
      writes, reads and deletes a probe object in a local storage (filesystem, inmemory);
      it changes nothing else and connects to nothing. --connect (implies --dry-run) also
      reaches what is on the network: S3/OSS storage, etcd, the MySQL index.
      Exit status: 0 valid, 1 invalid.
  berth config print [config.yml]
      Prints the effective configuration (file + REGISTRY_* overrides + defaults), secrets redacted.
      Without a file: the one \`berth serve\` would read (REGISTRY_CONFIGURATION_PATH,
      /etc/distribution/config.yml, /etc/docker/registry/config.yml), else the embedded default.
`;

export async function configCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "validate") return validateCommand(rest);
  if (sub === "print") return printCommand(rest);
  process.stderr.write(sub === undefined || sub === "--help" || sub === "-h" ? configUsage : `berth config: unknown command ${JSON.stringify(sub)}\n\n${configUsage}`);
  return sub === "--help" || sub === "-h" ? 0 : 2;
}

async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { "dry-run": { type: "boolean", default: false }, connect: { type: "boolean", default: false }, json: { type: "boolean", default: false } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write(configUsage);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return report(file, values.json, [{ path: "", message: `cannot read ${file}: ${(error as Error).message}` }], []);
  }
  const result = await validateConfigText(text, { file, drivers: knownDrivers() });
  const problems = [...result.problems];
  const connect = values.connect;
  let dryRunDone: DryRunDone | undefined;
  if ((values["dry-run"] || connect) && result.ok && result.config) {
    problems.push(...(await dryRun(result.config, { createDriver, connect })));
    dryRunDone = { connect, unreached: connect ? [] : unreachedServices(result.config) };
  }
  return report(file, values.json, problems, result.warnings, dryRunDone);
}

interface DryRunDone {
  connect: boolean;
  /** Services on the network a dry run without --connect left alone. */
  unreached: string[];
}

function dryRunSummary(done: DryRunDone): string {
  if (done.connect) return " (dry run: storage and every configured service answered)";
  const left = done.unreached.length > 0 ? `; not reached without --connect: ${done.unreached.join(", ")}` : "";
  return ` (dry run: storage probe passed, nothing on the network contacted${left})`;
}

function report(file: string, json: boolean, problems: Problem[], warnings: Problem[], dryRunDone?: DryRunDone): number {
  const ok = problems.length === 0;
  if (json) {
    const dry = { dryRun: dryRunDone !== undefined, connect: dryRunDone?.connect ?? false, unreached: dryRunDone?.unreached ?? [] };
    process.stdout.write(JSON.stringify({ file, ok, ...dry, problems, warnings }, null, 2) + "\n");
  } else {
    for (const problem of problems) process.stdout.write(`error: ${formatProblem(problem, file)}\n`);
    for (const warning of warnings) process.stdout.write(`warning: ${formatProblem(warning, file)}\n`);
    process.stdout.write(
      ok
        ? `${file}: valid${dryRunDone ? dryRunSummary(dryRunDone) : ""}\n`
        : `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n`,
    );
  }
  return ok ? 0 : 1;
}

async function printCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length > 1) {
    process.stderr.write(configUsage);
    return 2;
  }
  try {
    const { config } = await loadConfigWithWarnings(resolveConfigFile(positionals[0]), { drivers: knownDrivers() });
    process.stdout.write(printConfig(config));
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
