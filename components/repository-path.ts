import { shortDigest } from "./format";

/** What `/repositories/<path>` shows: a repository, one of its images, or nothing known. */
export type RepositoryRoute =
  | { kind: "repository"; name: string }
  | { kind: "image"; name: string; reference: string }
  | { kind: "unknown"; name: string };

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
export function parseRepositoryPath(path: readonly string[] | undefined): RepositoryRoute {
  const parts = (path ?? []).map(decode);
  const marker = parts.indexOf("-");
  const name = (marker < 0 ? parts : parts.slice(0, marker)).join("/");
  const rest = marker < 0 ? [] : parts.slice(marker + 1);
  if (name && rest.length === 0) return { kind: "repository", name };
  if (name && rest[0] === "manifests" && rest[1]) return { kind: "image", name, reference: rest[1] };
  return { kind: "unknown", name };
}

/** The tab title: "demo/app", "demo/app:v1" or "demo/app@sha256:0123456789ab". */
export function routeTitle(route: RepositoryRoute): string {
  if (route.kind !== "image") return route.name || "Repositories";
  return route.reference.includes(":") ? `${route.name}@${shortDigest(route.reference)}` : `${route.name}:${route.reference}`;
}
