"use client";

import { useParams } from "next/navigation";
import { Suspense } from "react";
import { ImageView } from "./image-view";
import { parseRepositoryPath } from "./repository-path";
import { RepositoryView } from "./repository-view";
import { Empty, Loading } from "./ui";

/** The repository or image page for the current `/repositories/...` path. */
export function RepositoryRouteView() {
  const params = useParams<{ path: string[] }>();
  const route = parseRepositoryPath(params.path);
  if (!route.name) return <Empty>No repository named.</Empty>;
  if (route.kind === "repository") {
    return (
      <Suspense fallback={<Loading />}>
        <RepositoryView key={route.name} name={route.name} />
      </Suspense>
    );
  }
  if (route.kind === "image") return <ImageView key={`${route.name}@${route.reference}`} repository={route.name} reference={route.reference} />;
  return <Empty>Unknown page.</Empty>;
}
