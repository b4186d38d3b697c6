import { authRouter } from "./routers/auth.js";
import { configRouter } from "./routers/config.js";
import { imagesRouter } from "./routers/images.js";
import { maintenanceRouter } from "./routers/maintenance.js";
import { proxyRouter } from "./routers/proxy.js";
import { registryAuthRouter } from "./routers/registry-auth.js";
import { repositoriesRouter } from "./routers/repositories.js";
import { systemRouter } from "./routers/system.js";
import { usersRouter } from "./routers/users.js";
import { createCallerFactory, router } from "./trpc.js";

export const appRouter = router({
  auth: authRouter,
  system: systemRouter,
  maintenance: maintenanceRouter,
  repositories: repositoriesRouter,
  images: imagesRouter,
  proxy: proxyRouter,
  config: configRouter,
  registryAuth: registryAuthRouter,
  users: usersRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
