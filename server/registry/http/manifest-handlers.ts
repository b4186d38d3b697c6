import type { ManifestSource, StoredManifest } from "../manifests.js";
import { RegistryError } from "../errors.js";
import { manifestSizeLimit } from "../media-types.js";
import { parseReference, tryParseDigest } from "../reference.js";
import { readLimited } from "./body.js";
import { deletesDisabled } from "./blob-handlers.js";
import type { RequestContext } from "./context.js";
import { apiVersionHeader, sendEmpty } from "./respond.js";

export async function getManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const { req, res, services } = ctx;
  const ref = parseReference(reference, "MANIFEST_UNKNOWN");
  const mirrored = services.proxy?.match(name);
  const source = mirrored ? services.proxy!.manifestSource(mirrored, name) : services.manifests.source(name);
  // A client asking by digest wants exactly those bytes, whatever it claims to accept.
  const manifest = ref.kind === "tag" ? await negotiate(source, await source.byTag(ref.tag), req.headers.accept) : await source.byDigest(ref.digest);
  res.writeHead(200, {
    ...apiVersionHeader,
    "Content-Type": manifest.mediaType,
    "Content-Length": manifest.content.length,
    "Docker-Content-Digest": manifest.digest.value,
    ETag: `"${manifest.digest.value}"`,
  });
  res.end(ctx.headOnly ? undefined : manifest.content);
}

export async function putManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const { req, res, services } = ctx;
  const ref = parseReference(reference);
  const body = await readLimited(req, manifestSizeLimit);
  const result = await services.manifests.put(
    name,
    body,
    req.headers["content-type"],
    ref.kind === "tag" ? { tag: ref.tag } : { digest: ref.digest },
  );
  sendEmpty(res, 201, {
    Location: services.url(`/v2/${name}/manifests/${result.digest.value}`, req),
    "Docker-Content-Digest": result.digest.value,
    ...(result.subject ? { "OCI-Subject": result.subject.value } : {}),
  });
}

/** By tag: removes the tag only. By digest: removes the manifest and every tag on it. */
export async function deleteManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const { res, services } = ctx;
  const ref = parseReference(reference, "MANIFEST_UNKNOWN");
  if (!services.deleteEnabled()) throw deletesDisabled();
  if (ref.kind === "tag") await services.tags.untag(name, ref.tag);
  else await services.manifests.delete(name, ref.digest);
  sendEmpty(res, 202);
}

/**
 * Serves what the client accepts. A client that does not accept an index gets the linux/amd64
 * image from it when it accepts that (as distribution does for old Docker clients); otherwise it
 * gets MANIFEST_UNKNOWN rather than a body it cannot parse.
 */
async function negotiate(source: ManifestSource, manifest: StoredManifest, accept: string | undefined): Promise<StoredManifest> {
  const accepted = acceptedTypes(accept);
  if (accepts(accepted, manifest.mediaType)) return manifest;
  if (manifest.parsed.kind === "index") {
    const child = manifest.parsed.manifest.manifests.find(
      (d) => d.platform?.os === "linux" && d.platform.architecture === "amd64" && accepts(accepted, d.mediaType),
    );
    const digest = child ? tryParseDigest(child.digest) : undefined;
    if (digest) return source.byDigest(digest);
  }
  throw new RegistryError(
    "MANIFEST_UNKNOWN",
    { mediaType: manifest.mediaType, accept: accept ?? "" },
    `the manifest is ${manifest.mediaType}, which the client does not accept`,
  );
}

function acceptedTypes(header: string | undefined): string[] | undefined {
  const types = (header ?? "")
    .split(",")
    .map((part) => part.split(";")[0]?.trim().toLowerCase() ?? "")
    .filter((type) => type !== "");
  return types.length > 0 ? types : undefined;
}

function accepts(accepted: string[] | undefined, mediaType: string): boolean {
  if (!accepted) return true;
  return accepted.some(
    (type) => type === mediaType || type === "*/*" || type === "application/*" || type === "application/json",
  );
}

