"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { formatAgo, formatBytes, formatCount, formatTime, repositoryHref } from "./format";
import { SearchHits } from "./search-hits";
import { useTRPC } from "./trpc";
import { pick, useUrlState } from "./url-state";
import { Badge, Card, Empty, ErrorBox, inputClass, linkClass, Loading, Pager, rowClass, SortHeader, tableClass, tableScrollClass, tdClass, thClass, useDebounced } from "./ui";

const sorts = ["name", "tags", "size", "pushed"] as const;
type Sort = (typeof sorts)[number];
const pageSize = 50;

/** Repositories with server-side search, namespace filter, sorting and paging (the metadata index). */
export function RepositoriesTable() {
  const trpc = useTRPC();
  const url = useUrlState();
  const sort = pick(url.get("sort"), sorts, "name");
  const order = pick(url.get("order"), ["asc", "desc"] as const, sort === "name" ? "asc" : "desc");
  const namespace = url.get("ns", "*");
  const offset = Math.max(0, Number(url.get("offset", "0")) || 0);
  const [search, setSearch] = useState(url.get("q"));
  const debounced = useDebounced(search.trim(), 250);

  // A link clicked while a search is still being debounced: do not pull the page back.
  const leaving = useRef(false);
  useEffect(() => {
    if (!leaving.current && debounced !== url.get("q")) url.set({ q: debounced, offset: null });
  }, [debounced, url]);

  const namespaces = useQuery({ ...trpc.repositories.namespaces.queryOptions(), staleTime: 30_000 });
  const list = useQuery({
    ...trpc.repositories.list.queryOptions({
      search: url.get("q") || undefined,
      namespace: namespace === "*" ? undefined : namespace,
      sort,
      order,
      limit: pageSize,
      offset,
    }),
    placeholderData: keepPreviousData,
  });

  const onSort = (column: Sort) => {
    const nextOrder = column === sort ? (order === "asc" ? "desc" : "asc") : column === "name" ? "asc" : "desc";
    url.set({ sort: column, order: nextOrder, offset: null });
  };

  return (
    <Card>
      <form className="mb-4 flex flex-wrap items-center gap-3" role="search" onSubmit={(event) => event.preventDefault()}>
        <label className="flex min-w-0 flex-1 basis-full items-center gap-2 text-sm sm:min-w-64 sm:basis-auto">
          <span className="sr-only">Search repositories</span>
          <input
            type="search"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
            placeholder="Search repositories, tags, digests…"
            className={`${inputClass} w-full`}
            aria-label="Search repositories"
            data-testid="repository-search"
          />
        </label>
        <label className="flex items-center gap-2 text-sm">
          <span className="text-slate-600 dark:text-slate-300">Namespace</span>
          <select
            value={namespace}
            onChange={(event) => url.set({ ns: event.target.value === "*" ? null : event.target.value, offset: null })}
            className={inputClass}
            aria-label="Namespace"
          >
            <option value="*">All namespaces</option>
            {(namespaces.data ?? []).map((row) => (
              <option key={row.namespace} value={row.namespace}>
                {row.namespace === "" ? "(no namespace)" : row.namespace} ({formatCount(row.repositories)})
              </option>
            ))}
          </select>
        </label>
      </form>
      <SearchHits query={url.get("q")} />
      <ErrorBox error={list.error} title="Cannot list repositories" />
      {list.isPending ? (
        <Loading />
      ) : list.data ? (
        list.data.rows.length === 0 ? (
          <Empty>{url.get("q") ? `No repository matches “${url.get("q")}”.` : "No repositories yet."}</Empty>
        ) : (
          <>
            <div
              className={tableScrollClass}
              onClickCapture={(event) => {
                if ((event.target as HTMLElement).closest("a")) leaving.current = true;
              }}
            >
              <table className={tableClass} data-testid="repositories-table" aria-busy={list.isFetching}>
                <thead>
                  <tr>
                    <SortHeader label="Repository" column="name" sort={sort} order={order} onSort={onSort} />
                    <th scope="col" className={thClass}>
                      Namespace
                    </th>
                    <SortHeader label="Tags" column="tags" sort={sort} order={order} onSort={onSort} className="text-right" />
                    <SortHeader label="Size" column="size" sort={sort} order={order} onSort={onSort} className="text-right" />
                    <SortHeader label="Last push" column="pushed" sort={sort} order={order} onSort={onSort} />
                  </tr>
                </thead>
                <tbody>
                  {list.data.rows.map((repo) => (
                    <tr key={repo.name} className={rowClass}>
                      <td className={tdClass}>
                        <Link href={repositoryHref(repo.name)} className={linkClass}>
                          {repo.name}
                        </Link>
                        {repo.cachedFrom ? (
                          <span title={`Pull-through cache of ${repo.cachedFrom.remoteurl}`}>
                            <Badge tone="info" className="ml-2" data-testid="cached-badge">
                              cache · {new URL(repo.cachedFrom.remoteurl).host}
                            </Badge>
                          </span>
                        ) : null}
                      </td>
                      <td className={`${tdClass} text-slate-600 dark:text-slate-300`}>
                        {repo.namespace ? (
                          <button type="button" className="hover:underline" onClick={() => url.set({ ns: repo.namespace, offset: null })}>
                            {repo.namespace}
                          </button>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td className={`${tdClass} text-right tabular-nums`}>{formatCount(repo.tagCount)}</td>
                      <td className={`${tdClass} text-right tabular-nums`}>{formatBytes(repo.size)}</td>
                      <td className={tdClass} title={formatTime(repo.lastPush)}>
                        {formatAgo(repo.lastPush)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager offset={offset} limit={pageSize} total={list.data.total} onOffset={(next) => url.set({ offset: next || null })} />
          </>
        )
      ) : null}
    </Card>
  );
}
