"use client";

import { pullReference } from "./format";
import { useRegistryHost } from "./hooks";
import { Card, CopyButton } from "./ui";

/**
 * `docker pull` and `podman pull` of what the page shows, and the pull by digest that always
 * gets these exact bytes, each with a copy button. The host is the registry's as the browser
 * reached it (or `http.host` when configured).
 */
export function PullCommands({ repository, reference, digest }: { repository: string; reference: string; digest: string | null }) {
  const host = useRegistryHost() || "localhost:5000";
  const commands: { label: string; command: string }[] = [
    { label: "Docker", command: `docker pull ${pullReference(host, repository, reference)}` },
    { label: "Podman", command: `podman pull ${pullReference(host, repository, reference)}` },
  ];
  if (digest && digest !== reference) commands.push({ label: "By digest", command: `docker pull ${pullReference(host, repository, digest)}` });
  return (
    <Card title="Pull" id="pull">
      <ul className="space-y-2" data-testid="pull-commands">
        {commands.map(({ label, command }) => (
          <li key={label} className="flex items-start gap-2 text-sm" data-testid="pull-command">
            <span className="w-20 shrink-0 pt-1 text-slate-500 dark:text-slate-400">{label}</span>
            <code className="min-w-0 flex-1 break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs dark:bg-slate-950">{command}</code>
            <CopyButton text={command} title={`Copy: ${command}`} />
          </li>
        ))}
      </ul>
    </Card>
  );
}
