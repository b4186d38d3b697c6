import type { Digest } from "./reference.js";

/**
 * distribution's storage layout, in one place: every storage path the engine touches is built
 * here, so a directory written by Berth is served by Docker's registry and the reverse.
 * Names, tags and digests must already be validated (see reference.ts).
 */
export const layoutRoot = "/docker/registry/v2";
export const repositoriesRoot = `${layoutRoot}/repositories`;

export const layout = {
  blobsRoot: `${layoutRoot}/blobs`,
  blobDir: (d: Digest) => `${layoutRoot}/blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  blobData: (d: Digest) => `${layout.blobDir(d)}/data`,

  repository: (name: string) => `${repositoriesRoot}/${name}`,
  layersDir: (name: string) => `${repositoriesRoot}/${name}/_layers`,
  layerDir: (name: string, d: Digest) => `${repositoriesRoot}/${name}/_layers/${d.algorithm}/${d.hex}`,
  layerLink: (name: string, d: Digest) => `${layout.layerDir(name, d)}/link`,

  manifestsDir: (name: string) => `${repositoriesRoot}/${name}/_manifests`,
  revisionsDir: (name: string) => `${repositoriesRoot}/${name}/_manifests/revisions`,
  revisionDir: (name: string, d: Digest) => `${repositoriesRoot}/${name}/_manifests/revisions/${d.algorithm}/${d.hex}`,
  revisionLink: (name: string, d: Digest) => `${layout.revisionDir(name, d)}/link`,

  tagsDir: (name: string) => `${repositoriesRoot}/${name}/_manifests/tags`,
  tagDir: (name: string, tag: string) => `${repositoriesRoot}/${name}/_manifests/tags/${tag}`,
  tagCurrentLink: (name: string, tag: string) => `${repositoriesRoot}/${name}/_manifests/tags/${tag}/current/link`,
  tagIndexLink: (name: string, tag: string, d: Digest) =>
    `${repositoriesRoot}/${name}/_manifests/tags/${tag}/index/${d.algorithm}/${d.hex}/link`,

  uploadsDir: (name: string) => `${repositoriesRoot}/${name}/_uploads`,
  uploadDir: (name: string, id: string) => `${repositoriesRoot}/${name}/_uploads/${id}`,
  uploadData: (name: string, id: string) => `${repositoriesRoot}/${name}/_uploads/${id}/data`,
  uploadStartedAt: (name: string, id: string) => `${repositoriesRoot}/${name}/_uploads/${id}/startedat`,
  /** Berth's: the claim of the one request writing the upload (upload-lease.ts). */
  uploadLock: (name: string, id: string) => `${repositoriesRoot}/${name}/_uploads/${id}/lock`,
  /**
   * Berth's: the resumable sha256 state at an offset. Not distribution's `hashstates/` (Go's
   * encoding of its hash), which Berth cannot write; an upload is continued by the software that
   * began it.
   */
  uploadHashState: (name: string, id: string) => `${repositoriesRoot}/${name}/_uploads/${id}/berth-hashstate`,

  /**
   * Berth's own addition: which manifests of a repository name a given subject, kept so the
   * referrers API answers without reading every manifest. distribution ignores `_`-directories.
   */
  referrersDir: (name: string, subject: Digest) =>
    `${repositoriesRoot}/${name}/_referrers/${subject.algorithm}/${subject.hex}`,
  referrerDir: (name: string, subject: Digest, d: Digest) =>
    `${layout.referrersDir(name, subject)}/${d.algorithm}/${d.hex}`,
  referrerLink: (name: string, subject: Digest, d: Digest) => `${layout.referrerDir(name, subject, d)}/link`,

  /**
   * Berth's addition: rewritten with a fresh value whenever an instance adds a repository, so
   * every instance on the same storage knows its in-memory repository list is out of date.
   */
  repositoriesChanged: `${layoutRoot}/_berth/repositories-changed`,
};
