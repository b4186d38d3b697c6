import { initTRPC } from "@trpc/server";
import type { Registry } from "../registry/handler.js";

/** What every procedure can reach. Built without a request so tests can use `createCaller`. */
export interface ApiContext {
  registry: Registry;
  version: string;
  startedAt: Date;
}

const t = initTRPC.context<ApiContext>().create();

export const router = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;
