import { RegistryError } from "./errors.js";
import type { Descriptor, ParsedManifest } from "./media-types.js";

/** Layer types whose `urls` distribution checks: the foreign-layer URLs clients download from. */
const dockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const urlCheckedLayers = new Set([
  dockerForeignLayer,
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
]);

export interface Platform {
  os: string;
  architecture: string;
}

/**
 * What a pushed manifest must satisfy beyond its format (the `validation` section).
 * `urls`: layer URLs must match `allow` when set and must not match `deny` when set; absent when
 * validation is disabled (any http or https URL passes). `indexChildren`: the children of an
 * index that must already be in the repository.
 */
export interface ManifestRules {
  urls?: { allow?: RegExp; deny?: RegExp };
  indexChildren: "all" | "none" | Platform[];
}

export interface ValidationSettings {
  enabled?: boolean;
  disabled?: boolean;
  manifests?: {
    urls?: { allow?: string[]; deny?: string[] };
    indexes?: { platforms?: "all" | "none" | "list"; platformlist?: Platform[] };
  };
}

/** distribution's defaults: validation on, no layer URL allowed, every index child required. */
export const defaultManifestRules: ManifestRules = { urls: { allow: /^$/ }, indexChildren: "all" };

/**
 * The rules of a `validation` section, as distribution reads it: `enabled: true` wins over
 * `disabled`; with neither `allow` nor `deny` no URL passes; `platforms: list` requires the
 * children of the listed platforms only (an empty list: all of them). The patterns were checked by the
 * configuration's schema.
 */
export function manifestRules(validation: ValidationSettings | undefined): ManifestRules {
  const enabled = validation?.enabled === true || validation?.disabled !== true;
  if (!enabled) return { indexChildren: "none" };
  const allow = validation?.manifests?.urls?.allow ?? [];
  const deny = validation?.manifests?.urls?.deny ?? [];
  const indexes = validation?.manifests?.indexes;
  const listed = indexes?.platformlist ?? [];
  const indexChildren = indexes?.platforms === "none" ? "none" : indexes?.platforms === "list" && listed.length > 0 ? listed : "all";
  if (allow.length === 0 && deny.length === 0) return { ...defaultManifestRules, indexChildren };
  return { urls: { allow: anyOf(allow), deny: anyOf(deny) }, indexChildren };
}

function anyOf(patterns: string[]): RegExp | undefined {
  return patterns.length === 0 ? undefined : new RegExp(patterns.map((pattern) => `(?:${pattern})`).join("|"));
}

/**
 * Refuses a manifest whose layers name URLs the rules do not allow, or a Docker foreign layer
 * without any URL, with MANIFEST_BLOB_UNKNOWN on the layer's digest as distribution does.
 */
export function checkLayerUrls(parsed: ParsedManifest, rules: ManifestRules): void {
  if (parsed.kind !== "image") return;
  for (const layer of parsed.manifest.layers) {
    if (!urlCheckedLayers.has(layer.mediaType)) continue;
    const urls = layer.urls ?? [];
    if (layer.mediaType === dockerForeignLayer && urls.length === 0) {
      throw refused(layer, "a foreign layer needs at least one URL to be pulled from");
    }
    const bad = urls.find((url) => !urlAllowed(url, rules));
    if (bad !== undefined) {
      throw refused(layer, `layer URL ${JSON.stringify(bad)} is not allowed here (http or https without a fragment, matching validation.manifests.urls)`, bad);
    }
  }
}

function urlAllowed(url: string, rules: ManifestRules): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.hash !== "") return false;
  const { allow, deny } = rules.urls ?? {};
  return (allow === undefined || allow.test(url)) && (deny === undefined || !deny.test(url));
}

function refused(layer: Descriptor, message: string, url?: string): RegistryError {
  return new RegistryError("MANIFEST_BLOB_UNKNOWN", { digest: layer.digest, ...(url !== undefined ? { url } : {}) }, message);
}

/** The children of an index that must be in the repository before the index is stored. */
export function requiredChildren(children: Descriptor[], rules: ManifestRules): Descriptor[] {
  const required = rules.indexChildren;
  if (required === "all") return children;
  if (required === "none") return [];
  return children.filter((child) => required.some((p) => child.platform?.os === p.os && child.platform.architecture === p.architecture));
}
