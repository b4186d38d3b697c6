import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../log.js";
import type { PullThroughCache } from "../../proxy/cache.js";
import type { BlobStore } from "../blobs.js";
import type { RegistryEvents } from "../events.js";
import type { ManifestStore } from "../manifests.js";
import type { RepositoryList } from "../repositories.js";
import type { TagStore } from "../tags.js";
import type { UploadSigner } from "../upload-state.js";
import type { UploadStore } from "../uploads.js";

/** The engine's services, shared by every request (and by the console's API). */
export interface Services {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  tags: TagStore;
  repositories: RepositoryList;
  /** Every change to manifests and tags, whatever path made it. */
  events: RegistryEvents;
  signer: UploadSigner;
  logger: Logger;
  /** `storage.delete.enabled`, read per request so a reload applies it. */
  deleteEnabled(): boolean;
  /**
   * The URL clients use for an API path ("/v2/..."): with `http.host` and `http.prefix` applied;
   * given the request, absolute from where the client reached Berth unless `http.relativeurls`.
   */
  url(path: string, req?: IncomingMessage): string;
  /** `storage.redirect.disable` negated: blob GETs may redirect to the driver's URL. */
  redirect: boolean;
  /** The pull-through cache, when `proxy` or `mirrors` is configured (server/proxy/README.md). */
  proxy?: PullThroughCache;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  services: Services;
  headOnly: boolean;
}
