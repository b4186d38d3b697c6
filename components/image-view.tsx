"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import type { ImageDetail, ImageManifestDetail } from "@/server/index/types";
import { DeleteDialog } from "./delete-dialog";
import { formatBytes, formatPlatform, formatTime, imageHref, plural, repositoryHref, shortDigest } from "./format";
import { useCan } from "./hooks";
import { PullCommands } from "./pull-commands";
import { CachedImageCard } from "./pull-through";
import { useTRPC } from "./trpc";
import { Badge, Bar, Button, Card, CopyButton, cx, Digest, Empty, ErrorBox, Facts, Loading, PageHeader, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

const kindLabel = { image: "image manifest", index: "image index", schema1: "schema1 manifest" } as const;

/** An image page: a manifest, or an index with one tab per platform. */
export function ImageView({ repository, reference }: { repository: string; reference: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const image = useQuery(trpc.images.get.queryOptions({ repository, reference }));
  const [deleting, setDeleting] = useState(false);
  const canDelete = useCan("maintainer");
  const detail = image.data;
  const isTag = !reference.includes(":");

  return (
    <>
      <PageHeader
        title={
          <>
            <Link href={repositoryHref(repository)} className="text-slate-400 hover:underline dark:text-slate-500">
              {repository}
            </Link>
            <span className="font-mono">{isTag ? `:${reference}` : `@${shortDigest(reference)}`}</span>
          </>
        }
        subtitle={detail ? <>{kindLabel[detail.kind]} · {formatBytes(detail.size)} · pushed {formatTime(detail.pushed)}</> : null}
        actions={
          detail && canDelete ? (
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete…
            </Button>
          ) : null
        }
      />
      <ErrorBox error={image.error} title="Cannot read this image" />
      {image.isPending ? <Loading /> : null}
      {detail ? (
        <div className="space-y-6">
          <Summary detail={detail} />
          <PullCommands repository={repository} reference={reference} digest={detail.digest} />
          <CachedImageCard repository={repository} digest={detail.digest} />
          {detail.kind === "index" ? <PlatformTabs repository={repository} detail={detail} /> : null}
          {detail.kind === "image" ? <ImageSections detail={detail} /> : null}
          {detail.kind === "schema1" ? (
            <Card title="Schema 1">
              <p className="text-sm">A Docker schema 1 manifest (served for old clients; it has no separate config). See the raw JSON below.</p>
            </Card>
          ) : null}
          <Referrers detail={detail} repository={repository} />
          <RawJson raw={detail.raw} title="Raw manifest" />
          <DeleteDialog
            repository={repository}
            targets={[{ tag: isTag ? reference : null, digest: detail.digest }]}
            open={deleting}
            onClose={() => setDeleting(false)}
            onDone={({ mode, failed }) => {
              if (failed === 0) router.push(mode === "manifest" || !isTag ? repositoryHref(repository) : imageHref(repository, detail.digest));
            }}
          />
        </div>
      ) : null}
    </>
  );
}

function Summary({ detail }: { detail: ImageDetail }) {
  const annotations = Object.entries(detail.annotations);
  return (
    <Card title="Manifest">
      <Facts
        items={[
          ["Digest", <Digest key="d" digest={detail.digest} />],
          ["Media type", <code key="m" className="text-xs">{detail.mediaType}</code>],
          ["Size", `${formatBytes(detail.size)} (manifest ${formatBytes(detail.manifestSize)})`],
          [
            "Tags",
            detail.tags.length === 0 ? (
              <span className="text-slate-500">none (untagged)</span>
            ) : (
              <span className="flex flex-wrap gap-1">
                {detail.tags.map((tag) => (
                  <Badge key={tag}>{tag}</Badge>
                ))}
              </span>
            ),
          ],
          ...(detail.artifactType ? ([["Artifact type", <code key="a" className="text-xs">{detail.artifactType}</code>]] as [ReactNode, ReactNode][]) : []),
          ...(detail.subject ? ([["Subject", <Digest key="s" digest={detail.subject} />]] as [ReactNode, ReactNode][]) : []),
        ]}
      />
      {annotations.length > 0 ? <KeyValues title="Annotations" entries={annotations} /> : null}
    </Card>
  );
}

/** Tabs over an index's children; arrow keys move between tabs (WAI-ARIA tabs pattern). */
function PlatformTabs({ repository, detail }: { repository: string; detail: Extract<ImageDetail, { kind: "index" }> }) {
  const [active, setActive] = useState(0);
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const children = detail.children;
  if (children.length === 0) return <Card title="Platforms"><Empty>This index lists no manifests.</Empty></Card>;
  const child = children[Math.min(active, children.length - 1)];
  const onKey = (event: KeyboardEvent) => {
    const last = children.length - 1;
    const next = event.key === "ArrowRight" ? (active === last ? 0 : active + 1) : event.key === "ArrowLeft" ? (active === 0 ? last : active - 1) : event.key === "Home" ? 0 : event.key === "End" ? last : -1;
    if (next < 0) return;
    event.preventDefault();
    setActive(next);
    tabs.current[next]?.focus();
  };
  return (
    <div className="space-y-4">
      <Card title={`Platforms (${children.length})`}>
        <div className={tableScrollClass}>
          <table className={tableClass} data-testid="index-children">
            <thead>
              <tr>
                <th scope="col" className={thClass}>
                  Platform
                </th>
                <th scope="col" className={thClass}>
                  Manifest
                </th>
                <th scope="col" className={`${thClass} text-right`}>
                  Size
                </th>
                <th scope="col" className={thClass}>
                  Media type
                </th>
              </tr>
            </thead>
            <tbody>
              {children.map((entry, index) => (
                <tr key={entry.digest} className={rowClass}>
                  <td className={tdClass}>
                    <button type="button" className="font-mono hover:underline" onClick={() => setActive(index)}>
                      {entry.platform ? formatPlatform(entry.platform) : (entry.artifactType ?? "—")}
                    </button>
                  </td>
                  <td className={tdClass}>
                    <Digest digest={entry.digest} />
                  </td>
                  <td className={`${tdClass} text-right tabular-nums`}>{formatBytes(entry.size)}</td>
                  <td className={`${tdClass} text-xs text-slate-600 dark:text-slate-300`}>{entry.mediaType.replace(/^application\/vnd\./, "")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <div role="tablist" aria-label="Platforms" className="flex flex-wrap gap-1 border-b border-slate-200 dark:border-slate-700" onKeyDown={onKey}>
        {children.map((entry, index) => (
          <button
            key={entry.digest}
            ref={(element) => {
              tabs.current[index] = element;
            }}
            role="tab"
            type="button"
            id={`platform-tab-${index}`}
            aria-selected={index === active}
            aria-controls="platform-panel"
            tabIndex={index === active ? 0 : -1}
            onClick={() => setActive(index)}
            className={cx(
              "-mb-px rounded-t border px-3 py-1.5 font-mono text-sm focus-visible:outline-2 focus-visible:outline-sky-500",
              index === active
                ? "border-slate-200 border-b-white bg-white font-medium dark:border-slate-700 dark:border-b-slate-950 dark:bg-slate-950"
                : "border-transparent text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-white",
            )}
          >
            {entry.platform ? formatPlatform(entry.platform) : entry.artifactType ? "artifact" : shortDigest(entry.digest)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="platform-panel" aria-labelledby={`platform-tab-${active}`} className="pt-4">
        {child ? <ChildImage key={child.digest} repository={repository} digest={child.digest} /> : null}
      </div>
    </div>
  );
}

function ChildImage({ repository, digest }: { repository: string; digest: string }) {
  const trpc = useTRPC();
  const image = useQuery(trpc.images.get.queryOptions({ repository, reference: digest }));
  if (image.isPending) return <Loading />;
  if (image.error) return <ErrorBox error={image.error} title="Cannot read this platform's manifest" />;
  const detail = image.data;
  return (
    <div className="space-y-6">
      <p className="text-sm">
        <Link href={imageHref(repository, digest)} className="font-medium text-sky-700 hover:underline dark:text-sky-400">
          {shortDigest(digest)}
        </Link>{" "}
        · {formatBytes(detail.size)}
      </p>
      {detail.kind === "image" ? <ImageSections detail={detail} /> : <RawJson raw={detail.raw} title="Manifest" />}
    </div>
  );
}

function ImageSections({ detail }: { detail: ImageManifestDetail }) {
  const summary = detail.configSummary;
  const total = detail.layers.reduce((sum, layer) => sum + layer.size, 0);
  const max = Math.max(0, ...detail.layers.map((layer) => layer.size));
  // History entries that made a layer, in order: they pair with `layers` one to one.
  const history = detail.history;
  return (
    <>
      <Card title={`Layers (${detail.layers.length}, ${formatBytes(total)} compressed)`} id="layers">
        {detail.layers.length === 0 ? (
          <Empty>No layers.</Empty>
        ) : (
          <div className={tableScrollClass}>
            <table className={tableClass} data-testid="layers-table">
              <thead>
                <tr>
                  <th scope="col" className={`${thClass} w-10`}>
                    #
                  </th>
                  <th scope="col" className={thClass}>
                    Digest
                  </th>
                  <th scope="col" className={thClass}>
                    Media type
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    Size
                  </th>
                  <th scope="col" className={`${thClass} w-1/4`}>
                    <span className="sr-only">Share</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {detail.layers.map((layer, index) => (
                  <tr key={`${layer.digest}-${index}`} className={rowClass}>
                    <td className={`${tdClass} tabular-nums text-slate-500`}>{index + 1}</td>
                    <td className={tdClass}>
                      <Digest digest={layer.digest} />
                    </td>
                    <td className={`${tdClass} text-xs text-slate-600 dark:text-slate-300`}>{layer.mediaType.replace(/^application\/vnd\./, "")}</td>
                    <td className={`${tdClass} text-right tabular-nums`} data-testid="layer-size">
                      {formatBytes(layer.size)}
                    </td>
                    <td className={`${tdClass} align-middle`}>
                      <Bar value={layer.size} max={max} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Configuration" id="config">
        {detail.configError ? <ErrorBox error={{ message: detail.configError }} title="Config not readable" /> : null}
        {summary ? (
          <div className="space-y-4">
            <Facts
              items={[
                ["Platform", formatPlatform(summary.os && summary.architecture ? { os: summary.os, architecture: summary.architecture, variant: summary.variant ?? undefined } : null)],
                ["Created", formatTime(summary.created)],
                ["Entrypoint", <Command key="e" value={summary.entrypoint} />],
                ["Cmd", <Command key="c" value={summary.cmd} />],
                ["Working dir", summary.workingDir || "—"],
                ["User", summary.user || "—"],
                ["Exposed ports", summary.exposedPorts.length ? summary.exposedPorts.join(", ") : "—"],
                ["Volumes", summary.volumes.length ? summary.volumes.join(", ") : "—"],
                ...(summary.author ? ([["Author", summary.author]] as [ReactNode, ReactNode][]) : []),
                ...(summary.stopSignal ? ([["Stop signal", summary.stopSignal]] as [ReactNode, ReactNode][]) : []),
                ["Config blob", <Digest key="b" digest={detail.config.digest} />],
              ]}
            />
            <div>
              <h3 className="mb-1 text-sm font-medium">Environment</h3>
              {summary.env.length === 0 ? (
                <p className="text-sm text-slate-500">none</p>
              ) : (
                <ul className="space-y-0.5 rounded bg-slate-50 p-3 font-mono text-xs dark:bg-slate-950" data-testid="config-env">
                  {summary.env.map((entry, index) => (
                    <li key={index} className="break-all">
                      {entry}
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <KeyValues title="Labels" entries={Object.entries(summary.labels)} empty="none" />
          </div>
        ) : null}
      </Card>
      <Card title={`History (${plural(history.length, "step")})`} id="history">
        {history.length === 0 ? (
          <Empty>The image config records no history.</Empty>
        ) : (
          <ol className="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="history-list">
            {history.map((step, index) => (
              <li key={index} className="flex gap-3 py-2">
                <span className="w-8 shrink-0 text-right tabular-nums text-slate-400">{index + 1}</span>
                <div className="min-w-0 flex-1">
                  <code className="block whitespace-pre-wrap break-all font-mono text-xs">{step.createdBy || "(no command)"}</code>
                  <span className="text-xs text-slate-500 dark:text-slate-400">
                    {formatTime(step.created)}
                    {step.emptyLayer ? " · no layer" : ""}
                    {step.comment ? ` · ${step.comment}` : ""}
                  </span>
                </div>
              </li>
            ))}
          </ol>
        )}
      </Card>
    </>
  );
}

function Command({ value }: { value: string[] | null }) {
  if (!value || value.length === 0) return <span className="text-slate-500">—</span>;
  return <code className="break-all font-mono text-xs">{JSON.stringify(value)}</code>;
}

function KeyValues({ title, entries, empty }: { title: string; entries: [string, string][]; empty?: string }) {
  return (
    <div className="mt-4">
      <h3 className="mb-1 text-sm font-medium">{title}</h3>
      {entries.length === 0 ? (
        <p className="text-sm text-slate-500">{empty ?? "none"}</p>
      ) : (
        <table className={tableClass}>
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key}>
                <th scope="row" className={`${tdClass} w-1/3 break-all font-mono text-xs font-normal text-slate-600 dark:text-slate-300`}>
                  {key}
                </th>
                <td className={`${tdClass} break-all font-mono text-xs`}>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Referrers({ detail, repository }: { detail: ImageDetail; repository: string }) {
  return (
    <Card title={`Referrers (${detail.referrers.length})`} id="referrers">
      {detail.referrers.length === 0 ? (
        <p className="text-sm text-slate-500 dark:text-slate-400">No signatures, SBOMs or other artifacts refer to this manifest.</p>
      ) : (
        <div className={tableScrollClass}>
          <table className={tableClass}>
            <thead>
              <tr>
                <th scope="col" className={thClass}>
                  Artifact type
                </th>
                <th scope="col" className={thClass}>
                  Digest
                </th>
                <th scope="col" className={`${thClass} text-right`}>
                  Size
                </th>
                <th scope="col" className={thClass}>
                  Annotations
                </th>
              </tr>
            </thead>
            <tbody>
              {detail.referrers.map((referrer) => (
                <tr key={referrer.digest} className={rowClass}>
                  <td className={`${tdClass} text-xs`}>{referrer.artifactType ?? referrer.mediaType}</td>
                  <td className={tdClass}>
                    <Link href={imageHref(repository, referrer.digest)} className="font-mono text-xs text-sky-700 hover:underline dark:text-sky-400">
                      {shortDigest(referrer.digest)}
                    </Link>
                  </td>
                  <td className={`${tdClass} text-right tabular-nums`}>{formatBytes(referrer.size)}</td>
                  <td className={`${tdClass} break-all font-mono text-xs`}>
                    {Object.entries(referrer.annotations)
                      .map(([key, value]) => `${key}=${value}`)
                      .join(", ") || "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function RawJson({ raw, title }: { raw: string; title: string }) {
  let pretty = raw;
  try {
    pretty = JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    // not JSON: show as stored
  }
  return (
    <Card title={title} id="raw" actions={<CopyButton text={raw} label="Copy JSON" title="Copy the raw manifest" />}>
      <details>
        <summary className="cursor-pointer text-sm text-slate-600 focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-slate-300">Show JSON ({formatBytes(raw.length)})</summary>
        <pre className="mt-2 max-h-[32rem] overflow-auto rounded bg-slate-50 p-3 font-mono text-xs dark:bg-slate-950" data-testid="raw-json">
          {pretty}
        </pre>
      </details>
    </Card>
  );
}
