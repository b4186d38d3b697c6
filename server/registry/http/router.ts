import { RegistryError } from "../errors.js";
import { parseName } from "../reference.js";

/** The endpoints of the distribution API, recognised from the path alone. */
export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "referrers"; name: string; digest: string };

// The name may itself contain slashes, so the endpoint is matched from the end of the path.
const endpoint =
  /^\/v2\/(.+?)\/(?:(tags\/list)|manifests\/([^/]+)|blobs\/uploads\/?([^/]*)|blobs\/([^/]+)|referrers\/([^/]+))$/;

export function matchRoute(path: string): Route | undefined {
  if (path === "/v2/" || path === "/v2") return { kind: "base" };
  if (path === "/v2/_catalog") return { kind: "catalog" };
  const match = endpoint.exec(path);
  if (!match) return undefined;
  // Names are taken as sent: "%" is not in the name grammar, so an encoded "/" cannot smuggle
  // in another repository.
  const name = parseName(match[1] as string);
  if (match[2]) return { kind: "tags", name };
  if (match[3] !== undefined) return { kind: "manifest", name, reference: decode(match[3]) };
  if (match[4] !== undefined) return match[4] ? { kind: "upload", name, id: decode(match[4]) } : { kind: "uploads", name };
  if (match[5] !== undefined) return { kind: "blob", name, digest: decode(match[5]) };
  return { kind: "referrers", name, digest: decode(match[6] as string) };
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new RegistryError("NAME_INVALID", { path: component }, "malformed percent-encoding in the URL");
  }
}
