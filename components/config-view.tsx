"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useMemo, useRef, useState } from "react";
import type { ConfigEditorHandle, EditorProblem } from "./config-editor";
import { plural } from "./format";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, cx, Dialog, ErrorBox, Loading } from "./ui";

// CodeMirror measures the DOM: browser only.
const ConfigEditor = dynamic(() => import("./config-editor").then((module) => module.ConfigEditor), {
  ssr: false,
  loading: () => <Loading label="Loading the editor…" />,
});

interface Problem {
  path: string;
  message: string;
  line?: number;
  column?: number;
  source?: "file" | "env";
  env?: string;
}

type Outcome =
  | { kind: "validated"; ok: boolean; problems: Problem[]; warnings: Problem[]; dryRun: boolean; connect: boolean; unreached: string[] }
  | { kind: "applied"; applied: string[]; restartNeeded: string[]; unchanged: boolean; warnings: Problem[] }
  | { kind: "refused"; problems: Problem[]; warnings: Problem[] };

/** config.yml: edit with YAML highlighting, validate (problems at their lines), diff, apply. */
export function ConfigView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const config = useQuery({ ...trpc.config.get.queryOptions(), staleTime: Infinity, refetchOnWindowFocus: false });
  const [draft, setDraft] = useState<string | null>(null);
  const [probe, setProbe] = useState(false);
  const [connect, setConnect] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [diff, setDiff] = useState<{ unified: string; added: number; removed: number } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const editor = useRef<ConfigEditorHandle>(null);

  const text = draft ?? config.data?.text ?? "";
  const dirty = config.data !== undefined && draft !== null && draft !== config.data.text;

  const validate = useMutation(
    trpc.config.validate.mutationOptions({
      onSuccess: (result, input) =>
        setOutcome({
          kind: "validated",
          ok: result.ok,
          problems: result.problems,
          warnings: result.warnings,
          dryRun: input.dryRun ?? false,
          connect: input.connect ?? false,
          unreached: result.unreached,
        }),
    }),
  );
  const diffMutation = useMutation(trpc.config.diff.mutationOptions({ onSuccess: (result) => setDiff(result) }));
  const apply = useMutation(
    trpc.config.applyChanges.mutationOptions({
      onSuccess: async (result) => {
        setConfirming(false);
        if (!result.ok) {
          setOutcome({ kind: "refused", problems: result.problems, warnings: result.warnings });
          return;
        }
        setOutcome({ kind: "applied", applied: result.applied, restartNeeded: result.restartNeeded, unchanged: result.unchanged ?? false, warnings: result.warnings });
        setDiff(null);
        await queryClient.invalidateQueries({ queryKey: trpc.config.get.queryKey() });
        await config.refetch();
        setDraft(null);
        void queryClient.invalidateQueries({ queryKey: trpc.system.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.maintenance.pathKey() });
      },
      onError: () => setConfirming(false),
    }),
  );

  const editorProblems: EditorProblem[] = useMemo(() => {
    const shownProblems = outcome && outcome.kind !== "applied" ? outcome.problems : [];
    const shownWarnings = outcome?.warnings ?? [];
    return [
      ...shownProblems.map((problem) => ({ line: problem.source === "env" ? undefined : problem.line, column: problem.column, message: problem.message, severity: "error" as const })),
      ...shownWarnings.map((problem) => ({ line: problem.source === "env" ? undefined : problem.line, column: problem.column, message: problem.message, severity: "warning" as const })),
    ];
  }, [outcome]);

  if (config.isPending) return <Loading />;
  if (config.error) return <ErrorBox error={config.error} title="Cannot read the configuration" />;
  const data = config.data;

  const onEdit = (value: string) => {
    setDraft(value);
    setDiff(null);
  };

  return (
    <div className="space-y-6">
      <Card
        title={
          <span className="normal-case">
            <code className="font-mono text-xs" data-testid="config-file">
              {data.file ?? "embedded default configuration (no file)"}
            </code>
            {dirty ? (
              <Badge tone="warn" className="ml-2">
                edited
              </Badge>
            ) : null}
          </span>
        }
        actions={
          <>
            <label className="flex items-center gap-1.5 text-sm">
              <input type="checkbox" checked={probe} onChange={(event) => setProbe(event.target.checked)} />
              probe the local storage
            </label>
            <label className="flex items-center gap-1.5 text-sm" title="Connects to the configured etcd, S3/OSS storage and MySQL index">
              <input type="checkbox" checked={connect} onChange={(event) => setConnect(event.target.checked)} data-testid="config-connect" />
              connection check
            </label>
            <Button onClick={() => validate.mutate({ text, dryRun: probe, connect })} disabled={validate.isPending} data-testid="config-validate">
              {validate.isPending ? "Validating…" : "Validate"}
            </Button>
            <Button onClick={() => diffMutation.mutate({ text })} disabled={diffMutation.isPending} data-testid="config-diff">
              Diff
            </Button>
            <Button
              onClick={() => {
                setDraft(null);
                setOutcome(null);
                setDiff(null);
              }}
              disabled={!dirty}
            >
              Revert
            </Button>
            <Button variant="primary" onClick={() => setConfirming(true)} disabled={!data.editable || !dirty} data-testid="config-apply" title={data.editable ? undefined : "No config file to write"}>
              Apply…
            </Button>
          </>
        }
      >
        {!data.editable ? (
          <p className="mb-3 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950/50 dark:text-amber-200">
            Berth runs on its embedded default configuration: there is no file to write. Start it with <code>berth serve config.yml</code> to edit the
            configuration here. Shown: the running configuration.
          </p>
        ) : (
          <p className="mb-3 text-sm text-slate-500 dark:text-slate-400">
            Secrets are shown as <code>&quot;[redacted:…]&quot;</code> and kept as they are on save unless you replace them. Validation applies{" "}
            <code>REGISTRY_*</code> environment overrides as the server sees them.
          </p>
        )}
        <ConfigEditor ref={editor} value={text} onChange={onEdit} problems={editorProblems} readOnly={!data.editable} label="config.yml" />
      </Card>

      <ErrorBox error={validate.error ?? diffMutation.error ?? apply.error} title="Request failed" />

      {outcome ? <OutcomeCard outcome={outcome} onGoTo={(line, column) => editor.current?.goTo(line, column)} /> : null}

      {diff ? (
        <Card title={diff.unified ? `Changes against the running file (+${diff.added} −${diff.removed})` : "Changes against the running file"}>
          {diff.unified ? (
            <pre className="max-h-[28rem] overflow-auto rounded bg-slate-50 py-2 font-mono text-xs dark:bg-slate-950" data-testid="config-diff-output">
              {diff.unified.replace(/\n$/, "").split("\n").map((line, index) => (
                <div
                  key={index}
                  className={cx(
                    "px-3",
                    line.startsWith("+") && !line.startsWith("+++") && "bg-emerald-100 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200",
                    line.startsWith("-") && !line.startsWith("---") && "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200",
                    line.startsWith("@@") && "text-sky-700 dark:text-sky-400",
                  )}
                >
                  {line || " "}
                </div>
              ))}
            </pre>
          ) : (
            <p className="text-sm text-slate-500">No changes.</p>
          )}
        </Card>
      ) : null}

      <Card title="Running configuration (effective, redacted)">
        <details>
          <summary className="cursor-pointer text-sm text-slate-600 dark:text-slate-300">
            Show what Berth runs with: the file plus environment overrides and defaults
          </summary>
          <pre className="mt-2 max-h-[28rem] overflow-auto rounded bg-slate-50 p-3 font-mono text-xs dark:bg-slate-950">{data.effective}</pre>
        </details>
      </Card>

      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        title="Apply the configuration?"
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>Cancel</Button>
            <Button variant="primary" onClick={() => apply.mutate({ text, revision: data.revision ?? undefined })} disabled={apply.isPending} data-testid="config-confirm-apply">
              {apply.isPending ? "Applying…" : "Write and reload"}
            </Button>
          </>
        }
      >
        <p>
          The file <code>{data.file}</code> is validated, written (atomically) and reloaded, as on SIGHUP. Settings that can change live take effect at once;
          the result lists those that need a restart. If the new configuration cannot be applied, the file is put back.
        </p>
      </Dialog>
    </div>
  );
}

function ProblemList({ problems, tone, onGoTo }: { problems: Problem[]; tone: "error" | "warning"; onGoTo: (line: number, column?: number) => void }) {
  return (
    <ul className="space-y-1 text-sm" data-testid={tone === "error" ? "config-problems" : "config-warnings"}>
      {problems.map((problem, index) => (
        <li key={index} className="flex gap-2" data-testid={tone === "error" ? "config-problem" : "config-warning"} data-line={problem.line ?? ""}>
          {problem.line !== undefined && problem.source !== "env" ? (
            <button
              type="button"
              onClick={() => onGoTo(problem.line ?? 1, problem.column)}
              className={cx("shrink-0 rounded px-1.5 font-mono text-xs hover:underline", tone === "error" ? "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200" : "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-200")}
              aria-label={`Go to line ${problem.line}`}
            >
              line {problem.line}
            </button>
          ) : (
            <span className="shrink-0 rounded bg-slate-100 px-1.5 font-mono text-xs dark:bg-slate-800">{problem.env ?? "file"}</span>
          )}
          <span>
            {problem.path ? <code className="font-mono text-xs">{problem.path}</code> : null}
            {problem.path ? ": " : ""}
            {problem.message}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** What a valid outcome checked beyond the file: the storage probe, and the services reached. */
function checkedSummary(outcome: { dryRun: boolean; connect: boolean; unreached: string[] }): string {
  if (outcome.connect) return "; the storage and every configured service answered";
  if (!outcome.dryRun) return "";
  return `; the dry run passed${outcome.unreached.length > 0 ? ` (not contacted without a connection check: ${outcome.unreached.join(", ")})` : ""}`;
}

function OutcomeCard({ outcome, onGoTo }: { outcome: Outcome; onGoTo: (line: number, column?: number) => void }) {
  if (outcome.kind === "applied") {
    return (
      <Card title="Applied">
        <div role="status" className="space-y-2 text-sm" data-testid="config-apply-result">
          {outcome.unchanged ? (
            <p>Nothing changed: the file already says this.</p>
          ) : (
            <>
              <p className="font-medium text-emerald-700 dark:text-emerald-400">Written and reloaded.</p>
              <p>
                Live: <span className="text-slate-600 dark:text-slate-300">{outcome.applied.join(", ") || "nothing"}</span>
              </p>
              {outcome.restartNeeded.length > 0 ? (
                <p className="font-medium text-amber-700 dark:text-amber-300" data-testid="config-restart-needed">
                  Restart Berth to apply: {outcome.restartNeeded.join(", ")}
                </p>
              ) : (
                <p>No restart needed.</p>
              )}
            </>
          )}
          {outcome.warnings.length > 0 ? <ProblemList problems={outcome.warnings} tone="warning" onGoTo={onGoTo} /> : null}
        </div>
      </Card>
    );
  }
  const ok = outcome.kind === "validated" && outcome.ok;
  return (
    <Card title={outcome.kind === "refused" ? "Not applied: the configuration has problems" : ok ? "Valid" : "Problems"}>
      <div className="space-y-3" role="status">
        {ok ? (
          <p className="text-sm font-medium text-emerald-700 dark:text-emerald-400" data-testid="config-valid">
            The configuration is valid{outcome.kind === "validated" ? checkedSummary(outcome) : ""}.
          </p>
        ) : (
          <>
            <p className="text-sm font-medium text-red-700 dark:text-red-300">{plural(outcome.problems.length, "problem")}:</p>
            <ProblemList problems={outcome.problems} tone="error" onGoTo={onGoTo} />
          </>
        )}
        {outcome.warnings.length > 0 ? (
          <>
            <p className="text-sm font-medium text-amber-700 dark:text-amber-300">{plural(outcome.warnings.length, "warning")}:</p>
            <ProblemList problems={outcome.warnings} tone="warning" onGoTo={onGoTo} />
          </>
        ) : null}
      </div>
    </Card>
  );
}
