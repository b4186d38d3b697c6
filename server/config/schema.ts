import { z } from "zod";

/**
 * distribution's `config.yml` (version 0.1). Only the keys Berth reads so far are typed strictly;
 * the rest pass through untouched so a file written for Docker's registry loads unchanged.
 */
const storageDriverParams = z.record(z.string(), z.unknown()).nullish();

export const storageSchema = z
  .object({
    filesystem: z
      .object({
        rootdirectory: z.string().min(1).default("/var/lib/registry"),
        maxthreads: z.number().int().positive().optional(),
      })
      .passthrough()
      .nullish(),
    inmemory: storageDriverParams,
    delete: z.object({ enabled: z.boolean().default(false) }).partial().nullish(),
    maintenance: z
      .object({
        uploadpurging: z.record(z.string(), z.unknown()).nullish(),
        readonly: z.object({ enabled: z.boolean().default(false) }).partial().nullish(),
      })
      .partial()
      .passthrough()
      .nullish(),
    redirect: z.object({ disable: z.boolean().default(false) }).partial().nullish(),
    cache: z.record(z.string(), z.unknown()).nullish(),
  })
  .passthrough();

export const httpSchema = z
  .object({
    addr: z.string().default(":5000"),
    net: z.enum(["tcp", "unix"]).default("tcp"),
    prefix: z.string().optional(),
    host: z.string().optional(),
    secret: z.string().optional(),
    headers: z.record(z.string(), z.array(z.string())).optional(),
  })
  .passthrough();

export const logSchema = z
  .object({
    level: z.enum(["error", "warn", "info", "debug"]).default("info"),
    formatter: z.enum(["text", "json", "logstash"]).default("text"),
    fields: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

export const configSchema = z
  .object({
    version: z.union([z.literal("0.1"), z.literal(0.1)]).transform(() => "0.1" as const),
    log: logSchema.default({ level: "info", formatter: "text" }),
    storage: storageSchema,
    http: httpSchema.default({ addr: ":5000", net: "tcp" }),
  })
  .passthrough();

export type Config = z.infer<typeof configSchema>;
export type StorageConfig = z.infer<typeof storageSchema>;

/** Keys of `storage` that configure something other than the driver. */
export const storageOptionKeys = new Set(["delete", "maintenance", "redirect", "cache"]);
