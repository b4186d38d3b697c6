import { z } from "zod";
import { router, viewerProcedure } from "../trpc.js";
import { answer, indexOf, repositoryName } from "./repositories.js";

export const imagesRouter = router({
  /** A manifest's detail read from storage; `reference` is a tag or a digest. */
  get: viewerProcedure
    .input(z.object({ repository: repositoryName, reference: z.string().min(1).max(200) }))
    .query(({ ctx, input }) => answer(() => indexOf(ctx).image(input.repository, input.reference))),

  stats: viewerProcedure.query(({ ctx }) => answer(() => indexOf(ctx).stats())),

  activity: viewerProcedure
    .input(z.object({ limit: z.number().int().min(1).max(1000).optional() }).optional())
    .query(({ ctx, input }) => answer(() => indexOf(ctx).recentActivity(input?.limit ?? 50))),
});
