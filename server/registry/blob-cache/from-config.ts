import type { Config } from "../../config/schema.js";
import type { Logger } from "../../log.js";
import type { BlobDescriptorCache } from "./cache.js";
import { MemoryBlobDescriptorCache } from "./memory.js";

/**
 * The cache `storage.cache.blobdescriptor` asks for, or undefined without one. ioredis (~25 MiB
 * resident) is loaded only when it is Redis.
 */
export async function blobDescriptorCache(config: Config, logger: Logger): Promise<BlobDescriptorCache | undefined> {
  const cache = config.storage.cache;
  // layerinfo: the older name distribution still reads when blobdescriptor is absent.
  const kind = cache?.blobdescriptor ?? cache?.layerinfo;
  if (kind === "inmemory") return new MemoryBlobDescriptorCache(cache?.blobdescriptorsize);
  if (kind !== "redis") return undefined;
  if (!config.redis) {
    logger.warn("storage.cache.blobdescriptor is redis but the redis section is missing; no blob descriptor cache");
    return undefined;
  }
  const { RedisBlobDescriptorCache } = await import("./redis.js");
  return new RedisBlobDescriptorCache(config.redis, logger);
}
