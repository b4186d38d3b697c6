"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useMemo, useRef, useState } from "react";
import { DeleteDialog, type DeleteTarget } from "./delete-dialog";
import { formatAgo, formatBytes, formatPlatform, formatTime, imageHref, plural, pullReference } from "./format";
import { useCan, useRegistryHost } from "./hooks";
import { useTRPC } from "./trpc";
import { pick, useUrlState } from "./url-state";
import {
  Badge,
  Button,
  Card,
  CopyButton,
  Digest,
  Empty,
  ErrorBox,
  inputClass,
  linkClass,
  Loading,
  PageHeader,
  Pager,
  rowClass,
  SortHeader,
  tableClass,
  tableScrollClass,
  tdClass,
  thClass,
  useDebounced,
} from "./ui";

const sorts = ["name", "created", "size", "pushed"] as const;
type Sort = (typeof sorts)[number];
const pageSize = 50;

/** One repository: its tags, sorted and filtered by the server, with multi-select and delete. */
export function RepositoryView({ name }: { name: string }) {
  const trpc = useTRPC();
  const url = useUrlState();
  const host = useRegistryHost();
  const sort = pick(url.get("sort"), sorts, "pushed");
  const order = pick(url.get("order"), ["asc", "desc"] as const, sort === "name" ? "asc" : "desc");
  const offset = Math.max(0, Number(url.get("offset", "0")) || 0);
  const [filter, setFilter] = useState(url.get("filter"));
  const debounced = useDebounced(filter.trim(), 250);
  const [selected, setSelected] = useState<Map<string, string>>(new Map());
  const [deleting, setDeleting] = useState<DeleteTarget[] | null>(null);
  const canDelete = useCan("maintainer");
  const [notice, setNotice] = useState<string | null>(null);

  // A link clicked while the filter is still being debounced: do not pull the page back.
  const leaving = useRef(false);
  useEffect(() => {
    if (!leaving.current && debounced !== url.get("filter")) url.set({ filter: debounced, offset: null });
  }, [debounced, url]);

  const summary = useQuery({ ...trpc.repositories.list.queryOptions({ search: name, limit: 20 }), staleTime: 10_000 });
  const repo = summary.data?.rows.find((row) => row.name === name);
  const tags = useQuery({
    ...trpc.repositories.tags.queryOptions({ repository: name, filter: url.get("filter") || undefined, sort, order, limit: pageSize, offset }),
    placeholderData: keepPreviousData,
  });
  const rows = useMemo(() => tags.data?.rows ?? [], [tags.data]);

  const onSort = (column: Sort) => {
    const nextOrder = column === sort ? (order === "asc" ? "desc" : "asc") : column === "name" ? "asc" : "desc";
    url.set({ sort: column, order: nextOrder, offset: null });
  };
  const toggle = (tag: string, digest: string) => {
    setSelected((current) => {
      const next = new Map(current);
      if (next.has(tag)) next.delete(tag);
      else next.set(tag, digest);
      return next;
    });
  };
  const allOnPage = rows.length > 0 && rows.every((row) => selected.has(row.tag));
  const toggleAll = () => {
    setSelected((current) => {
      const next = new Map(current);
      for (const row of rows) {
        if (allOnPage) next.delete(row.tag);
        else next.set(row.tag, row.digest);
      }
      return next;
    });
  };
  if (tags.error?.data?.code === "NOT_FOUND") return <RepositoryNotFound name={name} />;
  const firstTag = rows.find((row) => row.tag === "latest")?.tag ?? rows[0]?.tag ?? "latest";
  const pullCommand = `docker pull ${pullReference(host || "localhost:5000", name, firstTag)}`;

  return (
    <>
      <PageHeader
        title={
          <>
            <Link href="/repositories" className="text-slate-400 hover:underline dark:text-slate-500">
              Repositories /
            </Link>{" "}
            <span data-testid="repository-name">{name}</span>
          </>
        }
        subtitle={
          repo ? (
            <>
              {plural(repo.tagCount, "tag")} · {plural(repo.manifestCount, "manifest")} · {formatBytes(repo.size)} · last push{" "}
              <span title={formatTime(repo.lastPush)}>{formatAgo(repo.lastPush)}</span>
            </>
          ) : null
        }
        actions={
          <div className="flex min-w-0 max-w-full items-center gap-1 rounded border border-slate-200 bg-white py-0.5 pl-2 dark:border-slate-700 dark:bg-slate-900">
            <code className="min-w-0 truncate font-mono text-xs text-slate-600 dark:text-slate-300" title={pullCommand}>{pullCommand}</code>
            <CopyButton text={pullCommand} label="Copy pull command" title="Copy the docker pull command" />
          </div>
        }
      />
      {notice ? (
        <div role="status" className="mb-4 rounded border border-emerald-300 bg-emerald-50 px-4 py-2 text-sm text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950/50 dark:text-emerald-200">
          {notice}
        </div>
      ) : null}
      <Card>
        <div className="mb-4 flex flex-wrap items-center gap-3">
          <input
            type="search"
            value={filter}
            onChange={(event) => setFilter(event.target.value)}
            placeholder="Filter tags…"
            aria-label="Filter tags"
            className={`${inputClass} w-full min-w-0 flex-1 sm:min-w-64`}
            data-testid="tag-filter"
          />
          <label className="flex items-center gap-2 text-sm">
            <span className="text-slate-600 dark:text-slate-300">Sort by</span>
            <select
              value={`${sort}:${order}`}
              onChange={(event) => {
                const [column, direction] = event.target.value.split(":");
                url.set({ sort: column, order: direction, offset: null });
              }}
              className={inputClass}
              aria-label="Sort tags by"
              data-testid="tag-sort"
            >
              <option value="pushed:desc">Last pushed</option>
              <option value="created:desc">Created (newest first)</option>
              <option value="created:asc">Created (oldest first)</option>
              <option value="name:asc">Name (A–Z)</option>
              <option value="name:desc">Name (Z–A)</option>
              <option value="size:desc">Size (largest first)</option>
              <option value="size:asc">Size (smallest first)</option>
            </select>
          </label>
          {canDelete ? (
            <Button
              variant="danger"
              disabled={selected.size === 0}
              onClick={() => setDeleting([...selected.entries()].map(([tag, digest]) => ({ tag, digest })))}
              data-testid="bulk-delete"
            >
              Delete selected{selected.size > 0 ? ` (${selected.size})` : ""}
            </Button>
          ) : null}
          {canDelete && selected.size > 0 ? (
            <Button variant="ghost" onClick={() => setSelected(new Map())}>
              Clear selection
            </Button>
          ) : null}
        </div>
        <ErrorBox error={tags.error} title="Cannot list tags" />
        {tags.isPending ? (
          <Loading />
        ) : tags.isError && !tags.data ? null : rows.length === 0 ? (
          <Empty>{url.get("filter") ? `No tag matches “${url.get("filter")}”.` : "This repository has no tags."}</Empty>
        ) : (
          <>
            <div
              className={tableScrollClass}
              onClickCapture={(event) => {
                if ((event.target as HTMLElement).closest("a")) leaving.current = true;
              }}
            >
              <table className={tableClass} data-testid="tags-table" aria-busy={tags.isFetching}>
                <thead>
                  <tr>
                    {canDelete ? (
                      <th scope="col" className={`${thClass} w-8`}>
                        <input type="checkbox" checked={allOnPage} onChange={toggleAll} aria-label="Select every tag on this page" />
                      </th>
                    ) : null}
                    <SortHeader label="Tag" column="name" sort={sort} order={order} onSort={onSort} />
                    <th scope="col" className={thClass}>
                      Digest
                    </th>
                    <th scope="col" className={thClass}>
                      OS/Arch
                    </th>
                    <SortHeader label="Size" column="size" sort={sort} order={order} onSort={onSort} className="text-right" />
                    <SortHeader label="Created" column="created" sort={sort} order={order} onSort={onSort} />
                    <SortHeader label="Pushed" column="pushed" sort={sort} order={order} onSort={onSort} />
                    <th scope="col" className={`${thClass} text-right`}>
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => (
                    <tr key={row.tag} className={rowClass} data-testid="tag-row" data-tag={row.tag}>
                      {canDelete ? (
                        <td className={tdClass}>
                          <input type="checkbox" checked={selected.has(row.tag)} onChange={() => toggle(row.tag, row.digest)} aria-label={`Select ${row.tag}`} />
                        </td>
                      ) : null}
                      <td className={`${tdClass} font-mono`}>
                        <Link href={imageHref(name, row.tag)} className={linkClass} data-testid="tag-link">
                          {row.tag}
                        </Link>
                      </td>
                      <td className={tdClass}>
                        <Digest digest={row.digest} />
                      </td>
                      <td className={tdClass}>
                        {row.kind === "index" ? (
                          <span className="flex flex-wrap gap-1" title={plural(row.children, "platform")}>
                            <Badge tone="info">index</Badge>
                            {row.platforms.map((platform) => (
                              <Badge key={formatPlatform(platform)}>{formatPlatform(platform)}</Badge>
                            ))}
                          </span>
                        ) : row.platforms[0] ? (
                          <span className="text-slate-600 dark:text-slate-300">{formatPlatform(row.platforms[0])}</span>
                        ) : (
                          <span className="text-slate-400">{row.kind === "schema1" ? "schema1" : "—"}</span>
                        )}
                      </td>
                      <td className={`${tdClass} text-right tabular-nums`}>{formatBytes(row.size)}</td>
                      <td className={tdClass} data-testid="tag-created" data-created={row.created ?? ""} title={formatTime(row.created)}>
                        {formatTime(row.created)}
                      </td>
                      <td className={tdClass} title={formatTime(row.pushed)}>
                        {formatAgo(row.pushed)}
                      </td>
                      <td className={`${tdClass} whitespace-nowrap text-right`}>
                        <CopyButton
                          text={`docker pull ${pullReference(host || "localhost:5000", name, row.tag)}`}
                          label="Pull"
                          title={`Copy docker pull ${name}:${row.tag}`}
                        />
                        {canDelete ? (
                          <Button size="sm" variant="ghost" className="text-red-700 dark:text-red-400" onClick={() => setDeleting([{ tag: row.tag, digest: row.digest }])} aria-label={`Delete ${row.tag}`}>
                            Delete
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager offset={offset} limit={pageSize} total={tags.data?.total ?? 0} onOffset={(next) => url.set({ offset: next || null })} />
            <p className="mt-1 text-xs text-slate-500 dark:text-slate-400">{plural(tags.data?.total ?? 0, "tag")} in total.</p>
          </>
        )}
      </Card>
      {deleting ? (
        <DeleteDialog
          repository={name}
          targets={deleting}
          open
          onClose={() => setDeleting(null)}
          onDone={({ mode, done, failed }) => {
            setSelected(new Map());
            setNotice(`${mode === "untag" ? `Deleted ${plural(done, "tag")}` : `Deleted ${plural(done, "manifest")} with their tags`}${failed ? `; ${failed} failed` : ""}.`);
          }}
        />
      ) : null}
    </>
  );
}

/** An unknown name: what happened and where to go, without a tag toolbar that has nothing to act on. */
function RepositoryNotFound({ name }: { name: string }) {
  return (
    <div data-testid="repository-not-found">
      <PageHeader title="Repository not found" />
      <Card>
        <p className="text-sm">
          There is no repository named <code className="break-all font-mono">{name}</code> in this registry. It may have been deleted, or the index has not
          seen its first push yet.
        </p>
        <p className="mt-3 text-sm">
          <Link href="/repositories" className={linkClass}>
            Back to repositories
          </Link>
        </p>
      </Card>
    </div>
  );
}
