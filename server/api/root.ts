import { authRouter } from "./routers/auth.js";
import { maintenanceRouter } from "./routers/maintenance.js";
import { systemRouter } from "./routers/system.js";
import { createCallerFactory, router } from "./trpc.js";

export const appRouter = router({
  auth: authRouter,
  system: systemRouter,
  maintenance: maintenanceRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
