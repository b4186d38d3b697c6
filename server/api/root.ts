import { systemRouter } from "./routers/system.js";
import { createCallerFactory, router } from "./trpc.js";

export const appRouter = router({
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
