import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../../test/support/images.js";

// distribution's storage layout, written directly: blobs, images and indexes, links and tags.

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

export interface Blob {
  digest: string;
  hex: string;
  size: number;
  content: string;
}

export function blobOf(content: string): Blob {
  const hex = createHash("sha256").update(content).digest("hex");
  return { digest: `sha256:${hex}`, hex, size: Buffer.byteLength(content), content };
}

/**
 * Files to write below `docker/registry/v2` of a storage root, collected first and then written
 * with bounded concurrency. Paths follow server/registry/layout.ts; link files hold
 * `sha256:<hex>` without a newline, as distribution writes them.
 */
export class LayoutFiles {
  private readonly files = new Map<string, string>();

  get size(): number {
    return this.files.size;
  }

  blob(blob: Blob): void {
    this.files.set(`blobs/sha256/${blob.hex.slice(0, 2)}/${blob.hex}/data`, blob.content);
  }

  private link(path: string, blob: Blob): void {
    this.files.set(`${path}/sha256/${blob.hex}/link`, blob.digest);
  }

  revision(repository: string, manifest: Blob): void {
    this.link(`repositories/${repository}/_manifests/revisions`, manifest);
  }

  /** Tag `tag` names `current`; `history` (current included) goes in its `index/`. */
  tag(repository: string, tag: string, current: Blob, history: Blob[] = [current]): void {
    this.files.set(`repositories/${repository}/_manifests/tags/${tag}/current/link`, current.digest);
    for (const entry of history) this.link(`repositories/${repository}/_manifests/tags/${tag}/index`, entry);
  }

  layerLink(repository: string, blob: Blob): void {
    this.link(`repositories/${repository}/_layers`, blob);
  }

  /** Writes every file into `root` (created as needed). */
  async write(root: string, concurrency = 64): Promise<void> {
    const base = join(root, "docker", "registry", "v2");
    const entries = [...this.files];
    const made = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const [path, content] = entries[next++]!;
        const dir = join(base, path.slice(0, path.lastIndexOf("/")));
        if (!made.has(dir)) {
          await mkdir(dir, { recursive: true });
          made.add(dir);
        }
        await writeFile(join(base, path), content);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}

export interface ImageBlobs {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
}

export interface ImageOptions {
  oci: boolean;
  architecture: string;
  created: string;
  /** Makes the config (and so the manifest) unique. */
  label: string;
  layers: Blob[];
}

/** A single-platform image: its config and manifest blobs (layers are given). */
export function image(options: ImageOptions): ImageBlobs {
  const config = blobOf(
    JSON.stringify({
      architecture: options.architecture,
      os: "linux",
      created: options.created,
      config: { Labels: { "bench.berth": options.label } },
      rootfs: { type: "layers", diff_ids: options.layers.map((l) => l.digest) },
      history: options.layers.map(() => ({ created: options.created, created_by: "bench" })),
    }),
  );
  const manifest = blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: options.oci ? OCI_MANIFEST : DOCKER_MANIFEST,
      config: { mediaType: options.oci ? OCI_CONFIG : DOCKER_CONFIG, digest: config.digest, size: config.size },
      layers: options.layers.map((l) => ({ mediaType: options.oci ? OCI_LAYER_GZIP : DOCKER_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  return { manifest, config, layers: options.layers };
}

/** An image index (OCI) or manifest list (Docker) of `children`. */
export function indexOf(oci: boolean, children: { image: ImageBlobs; architecture: string }[]): Blob {
  return blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: oci ? OCI_INDEX : DOCKER_LIST,
      manifests: children.map(({ image: child, architecture }) => ({
        mediaType: oci ? OCI_MANIFEST : DOCKER_MANIFEST,
        digest: child.manifest.digest,
        size: child.manifest.size,
        platform: { architecture, os: "linux" },
      })),
    }),
  );
}
