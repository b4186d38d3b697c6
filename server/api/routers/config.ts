import { createHash, randomBytes } from "node:crypto";
import { open, readFile, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { dryRun, unreachedServices } from "../../config/dryrun.js";
import { consolePathPolicy } from "../../config/paths.js";
import type { Problem } from "../../config/problems.js";
import { printConfig } from "../../config/redact.js";
import { validateConfigText } from "../../config/validate.js";
import { createDriver, knownDrivers } from "../../registry/storage/factory.js";
import { adminProcedure, router, viewerProcedure, type ApiContext } from "../trpc.js";
import { unifiedDiff } from "../../config/diff.js";
import { redactText, restoreText } from "../../config/text-redaction.js";
import { listActivity, recordActivity } from "../../maintenance/activity.js";

/*
 * The console's configuration editor: config.yml as text with its secrets replaced by
 * placeholders, validation (with the placeholders put back server-side), a diff against the
 * running file, and apply (atomic write + the same reload as SIGHUP).
 */

const textInput = z.string().max(1_000_000);

function revisionOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

async function readCurrent(ctx: ApiContext): Promise<{ file: string; text: string } | undefined> {
  const file = ctx.configuration.file;
  if (!file) return undefined;
  try {
    return { file, text: await readFile(file, "utf8") };
  } catch (error) {
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `cannot read ${file}: ${(error as Error).message}`, cause: error });
  }
}

interface Checked {
  ok: boolean;
  problems: Problem[];
  warnings: Problem[];
  /** The text with its secrets restored (only used server-side). */
  restored: string;
  config?: import("../../config/schema.js").Config;
}

interface CheckOptions {
  /** Probe the storage (a local one only, unless `connect`). */
  dryRun: boolean;
  /** Also reach the services on the network (etcd, S3/OSS, MySQL): only when the admin asks. */
  connect: boolean;
}

/**
 * Restores the placeholders, validates, and maps the problems back to the edited text's lines.
 * The paths the text names are confined to `console.allowedpaths` (or its defaults): the editor
 * must not make Berth read or write files the operator did not allow, nor report on them.
 */
async function check(ctx: ApiContext, edited: string, current: string, options: CheckOptions): Promise<Checked> {
  const { file } = ctx.configuration;
  const restored = restoreText(edited, current);
  const paths = consolePathPolicy(ctx.configuration.current(), file);
  const result = await validateConfigText(restored.text, { file, drivers: knownDrivers(), paths });
  const locate = (problem: Problem): Problem => ({
    ...problem,
    message: restored.scrub(problem.message),
    ...(problem.line !== undefined && problem.source !== "env" ? { line: restored.lineOf(problem.line) } : {}),
  });
  const problems = [...restored.problems, ...result.problems.map(locate)];
  if ((options.dryRun || options.connect) && problems.length === 0 && result.config) {
    problems.push(...(await dryRun(result.config, { createDriver, connect: options.connect })).map(locate));
  }
  problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return { ok: problems.length === 0, problems, warnings: result.warnings.map(locate), restored: restored.text, config: result.config };
}

/** Writes next to the real file (through symlinks) and renames over it, keeping its mode. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const target = await realpath(file).catch(() => file);
  const mode = (await stat(target)).mode & 0o777;
  const temp = join(dirname(target), `.${basename(target)}.berth-${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** One apply at a time. */
let applying: Promise<unknown> = Promise.resolve();

function registryHost(ctx: ApiContext): string | null {
  const host = ctx.configuration.current().http.host;
  if (!host) return null;
  try {
    return new URL(host).host;
  } catch {
    return null;
  }
}

export const configRouter = router({
  /** The file as the editor shows it (secrets as placeholders) and the running configuration. */
  get: adminProcedure.query(async ({ ctx }) => {
    const current = await readCurrent(ctx);
    const effective = printConfig(ctx.configuration.current());
    return {
      file: current?.file ?? null,
      editable: current !== undefined,
      text: current ? redactText(current.text).text : effective,
      /** Pass back to `applyChanges` to refuse overwriting a file changed on disk meanwhile. */
      revision: current ? revisionOf(current.text) : null,
      effective,
    };
  }),

  /** `http.host`'s host (what `docker pull` uses), or null: the console's own address is the registry's. */
  host: viewerProcedure.query(({ ctx }) => ({ host: registryHost(ctx) })),

  /** `dryRun` probes a local storage; `connect` (implies it) also reaches etcd, S3/OSS and MySQL. */
  validate: adminProcedure
    .input(z.object({ text: textInput, dryRun: z.boolean().default(false), connect: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const current = await readCurrent(ctx);
      const checked = await check(ctx, input.text, current?.text ?? "", input);
      const unreached = input.dryRun && !input.connect && checked.config ? unreachedServices(checked.config) : [];
      return { ok: checked.ok, problems: checked.problems, warnings: checked.warnings, unreached };
    }),

  diff: adminProcedure.input(z.object({ text: textInput })).mutation(async ({ ctx, input }) => {
    const current = await readCurrent(ctx);
    const before = current?.text ?? printConfig(ctx.configuration.current());
    const restored = restoreText(input.text, before).text;
    const beforeRedacted = redactText(before);
    const afterRedacted = redactText(restored, beforeRedacted.secrets);
    const name = current?.file ?? "embedded default";
    return unifiedDiff(beforeRedacted.text, afterRedacted.text, { from: `${name} (running)`, to: `${name} (edited)` });
  }),

  /** `apply` (a name tRPC reserves): validate, write the file atomically, reload like SIGHUP. */
  applyChanges: adminProcedure
    .input(z.object({ text: textInput, revision: z.string().max(64).optional() }))
    .mutation(({ ctx, input }) => {
      const run = applying.then(async () => {
        const current = await readCurrent(ctx);
        if (!current) {
          throw new TRPCError({
            code: "PRECONDITION_FAILED",
            message: "Berth runs on its embedded default configuration (no config file): there is no file to write. Start it with `berth serve <config.yml>` to edit the configuration here.",
          });
        }
        if (input.revision && input.revision !== revisionOf(current.text)) {
          throw new TRPCError({ code: "CONFLICT", message: `${current.file} changed on disk since it was loaded in the editor; reload it and apply your changes again` });
        }
        const checked = await check(ctx, input.text, current.text, { dryRun: false, connect: false });
        if (!checked.ok) return { ok: false as const, problems: checked.problems, warnings: checked.warnings, applied: [], restartNeeded: [] };
        if (checked.restored === current.text) {
          return { ok: true as const, problems: [], warnings: checked.warnings, applied: [], restartNeeded: [], unchanged: true };
        }
        const diff = unifiedDiff(current.text, checked.restored, { from: "a", to: "b" });
        try {
          await writeAtomically(current.file, checked.restored);
        } catch (error) {
          throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `cannot write ${current.file}: ${(error as Error).message}`, cause: error });
        }
        let result;
        try {
          result = await ctx.configuration.reload();
        } catch (error) {
          // Put the running file back: what is on disk stays what runs.
          await writeAtomically(current.file, current.text).catch(() => undefined);
          const message = restoreText(input.text, current.text).scrub((error as Error).message);
          throw new TRPCError({ code: "BAD_REQUEST", message: `the new configuration could not be applied (the file was put back): ${message}`, cause: error });
        }
        await recordActivity(ctx.maintenance, {
          user: ctx.session.user,
          action: "config.apply",
          summary: `applied ${current.file} (+${diff.added} −${diff.removed} lines)${result.restartNeeded.length > 0 ? `; restart needed for ${result.restartNeeded.join(", ")}` : ""}`,
          details: { file: current.file, added: diff.added, removed: diff.removed, applied: result.applied, restartNeeded: result.restartNeeded },
        });
        return { ok: true as const, problems: [], warnings: checked.warnings, applied: result.applied, restartNeeded: result.restartNeeded, unchanged: false };
      });
      applying = run.catch(() => undefined);
      return run;
    }),

  /** Console actions (config applies, auth toggles), most recent first. */
  activity: viewerProcedure
    .input(z.object({ limit: z.number().int().min(1).max(1000).default(100) }).optional())
    .query(({ ctx, input }) => listActivity(ctx.maintenance.driver, input?.limit ?? 100)),
});
