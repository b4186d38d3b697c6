import { RegistryError } from "../errors.js";
import { mediaTypes } from "../media-types.js";
import { parseDigest } from "../reference.js";
import type { RequestContext } from "./context.js";
import { sendJSON } from "./respond.js";

const defaultCatalogPage = 100;
const maxPage = 10_000;

export async function listTags(ctx: RequestContext, name: string): Promise<void> {
  const { n, last } = pagination(ctx.query);
  const { services } = ctx;
  const mirrored = services.proxy?.match(name);
  const tags = (mirrored ? await services.proxy!.tags(mirrored, name) : undefined) ?? (await services.tags.list(name));
  if (!tags) throw new RegistryError("NAME_UNKNOWN", { name });
  const start = last === undefined ? 0 : tags.findIndex((tag) => tag > last);
  const rest = start < 0 ? [] : tags.slice(start);
  const page = n === undefined ? rest : rest.slice(0, n);
  const more = n !== undefined && rest.length > page.length && page.length > 0;
  sendJSON(ctx.res, 200, { name, tags: page }, more ? nextLink(ctx.services.url(`/v2/${name}/tags/list`), n, page) : {}, ctx.headOnly);
}

export async function listCatalog(ctx: RequestContext): Promise<void> {
  const { n = defaultCatalogPage, last } = pagination(ctx.query);
  const { names, more } = await ctx.services.repositories.page(n, last);
  sendJSON(ctx.res, 200, { repositories: names }, more && names.length > 0 ? nextLink(ctx.services.url("/v2/_catalog"), n, names) : {}, ctx.headOnly);
}

export async function listReferrers(ctx: RequestContext, name: string, reference: string): Promise<void> {
  const subject = parseDigest(reference);
  const artifactType = ctx.query.get("artifactType") ?? undefined;
  const manifests = await ctx.services.manifests.referrers(name, subject, artifactType);
  sendJSON(
    ctx.res,
    200,
    { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests },
    { "Content-Type": mediaTypes.ociIndex, ...(artifactType !== undefined ? { "OCI-Filters-Applied": "artifactType" } : {}) },
    ctx.headOnly,
  );
}

function pagination(query: URLSearchParams): { n?: number; last?: string } {
  const nParam = query.get("n");
  const last = query.get("last") ?? undefined;
  if (nParam === null) return { last };
  if (!/^\d{1,9}$/.test(nParam)) {
    throw new RegistryError("PAGINATION_NUMBER_INVALID", { n: nParam }, "n must be a non-negative integer");
  }
  return { n: Math.min(Number(nParam), maxPage), last };
}

function nextLink(path: string, n: number, page: string[]): Record<string, string> {
  const last = page[page.length - 1] as string;
  return { Link: `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"` };
}
