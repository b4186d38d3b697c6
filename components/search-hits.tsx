"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { imageHref } from "./format";
import { useTRPC } from "./trpc";
import { Badge, Digest, linkClass } from "./ui";

/**
 * Tags and images matching the repositories page's search: a tag name, `repository:tag`, or a
 * digest prefix (the server decides which, see server/index/search.ts). Nothing while empty.
 */
export function SearchHits({ query }: { query: string }) {
  const trpc = useTRPC();
  const hits = useQuery({ ...trpc.repositories.search.queryOptions({ query, limit: 20 }), enabled: query !== "" });
  const data = hits.data;
  if (!query || !data || (data.tags.length === 0 && data.images.length === 0)) return null;
  return (
    <section aria-labelledby="search-hits-title" className="mb-4 rounded border border-slate-200 p-3 text-sm dark:border-slate-700" data-testid="search-hits">
      <h2 id="search-hits-title" className="mb-2 text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">
        {data.images.length > 0 ? "Images with this digest" : "Tags"}
      </h2>
      <ul className="space-y-1">
        {data.images.map((hit) => (
          <li key={`${hit.repository}@${hit.digest}`} className="flex flex-wrap items-center gap-x-2 gap-y-1" data-testid="search-hit">
            <Link href={imageHref(hit.repository, hit.digest)} className={`${linkClass} break-all`}>
              {hit.repository}
            </Link>
            <Digest digest={hit.digest} copy={false} />
            {hit.tags.map((tag) => (
              <Badge key={tag}>{tag}</Badge>
            ))}
          </li>
        ))}
        {data.tags.map((hit) => (
          <li key={`${hit.repository}:${hit.tag}`} className="flex flex-wrap items-center gap-x-2 gap-y-1" data-testid="search-hit">
            <Link href={imageHref(hit.repository, hit.tag)} className={`${linkClass} break-all font-mono`}>
              {hit.repository}:{hit.tag}
            </Link>
            <Digest digest={hit.digest} copy={false} />
          </li>
        ))}
      </ul>
    </section>
  );
}
