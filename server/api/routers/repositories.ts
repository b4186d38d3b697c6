import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { classifyIndexError } from "../../index/errors.js";
import type { MetadataIndex } from "../../index/metadata-index.js";
import { maxPageSize } from "../../index/rows.js";
import { publicMirror } from "../mirrors.js";
import { router, viewerProcedure } from "../trpc.js";

/** Until `index` is part of the API context (server/api/trpc.ts), read it from there untyped. */
export function indexOf(ctx: { index?: MetadataIndex }): MetadataIndex {
  const index = ctx.index;
  if (!index) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "the metadata index is not available" });
  return index;
}

/** Index and engine errors as tRPC errors: NOT_FOUND, BAD_REQUEST, or INTERNAL_SERVER_ERROR; `cause` kept. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const kind = classifyIndexError(error);
  const code = kind === "not-found" ? "NOT_FOUND" : kind === "bad-request" ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR";
  const message = error instanceof Error ? error.message : String(error);
  return new TRPCError({ code, message, cause: error });
}

export async function answer<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toTRPCError(error);
  }
}

export const repositoryName = z.string().min(1).max(255);
export const order = z.enum(["asc", "desc"]);
const limit = z.number().int().min(1).max(maxPageSize);
const offset = z.number().int().min(0).max(10_000_000);

export const repositoriesRouter = router({
  /** A page of repositories; `cachedFrom`: the upstream of a pull-through cached one, else null. */
  list: viewerProcedure
    .input(
      z
        .object({
          search: z.string().max(255).optional(),
          namespace: z.string().max(255).optional(),
          sort: z.enum(["name", "tags", "size", "pushed"]).optional(),
          order: order.optional(),
          limit: limit.optional(),
          cursor: z.string().max(2048).optional(),
          offset: offset.optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) =>
      answer(async () => {
        const page = await indexOf(ctx).listRepositories(input ?? {});
        const rows = page.rows.map((row) => {
          const match = ctx.registry.services.proxy?.match(row.name);
          return { ...row, cachedFrom: match ? publicMirror(match.mirror) : null };
        });
        return { ...page, rows };
      }),
    ),

  namespaces: viewerProcedure.query(({ ctx }) => answer(() => indexOf(ctx).namespaces())),

  tags: viewerProcedure
    .input(
      z.object({
        repository: repositoryName,
        filter: z.string().max(128).optional(),
        sort: z.enum(["name", "created", "size", "pushed"]).optional(),
        order: order.optional(),
        limit: limit.optional(),
        offset: offset.optional(),
      }),
    )
    .query(({ ctx, input }) => {
      const { repository, ...options } = input;
      return answer(() => indexOf(ctx).listTags(repository, options));
    }),

  /** Tags by name or `repository:tag`, images by digest prefix, across every repository. */
  search: viewerProcedure
    .input(z.object({ query: z.string().max(255), limit: z.number().int().min(1).max(100).optional() }))
    .query(({ ctx, input }) => answer(() => indexOf(ctx).search(input.query, input.limit ?? 20))),

  tagsSharing: viewerProcedure
    .input(z.object({ repository: repositoryName, digest: z.string().min(1).max(200) }))
    .query(({ ctx, input }) => answer(() => indexOf(ctx).tagsSharing(input.repository, input.digest))),
});
