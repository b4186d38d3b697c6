"use client";

import { useParams } from "next/navigation";
import { Suspense } from "react";
import { ImageView } from "@/components/image-view";
import { RepositoryView } from "@/components/repository-view";
import { Empty, Loading } from "@/components/ui";

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * `/repositories/<name>` is a repository, `/repositories/<name>/-/manifests/<reference>` one of
 * its images: `-` can never be a component of a repository name.
 */
export default function RepositoryPage() {
  const params = useParams<{ path: string[] }>();
  const parts = (params.path ?? []).map(decode);
  const marker = parts.indexOf("-");
  const name = (marker < 0 ? parts : parts.slice(0, marker)).join("/");
  const rest = marker < 0 ? [] : parts.slice(marker + 1);
  if (!name) return <Empty>No repository named.</Empty>;
  if (rest.length === 0) {
    return (
      <Suspense fallback={<Loading />}>
        <RepositoryView key={name} name={name} />
      </Suspense>
    );
  }
  if (rest[0] === "manifests" && rest[1]) return <ImageView key={`${name}@${rest[1]}`} repository={name} reference={rest[1]} />;
  return <Empty>Unknown page.</Empty>;
}
