import { blobOf, image, indexOf, LayoutFiles, type ImageBlobs } from "./layout-files.js";

// The data set of the garbage-collection sections, and what each mode should delete from it.

export interface GcDataset {
  files: LayoutFiles;
  repositories: number;
  /** The repositories' names, `gc/app-NNNN`. */
  names: string[];
  multiArchRepositories: number;
  manifests: number;
  blobs: number;
  /** Blobs nothing references: what the plain mode deletes. */
  unreferenced: Set<string>;
  /** Blobs `--delete-untagged` deletes when the children of a tagged index are kept (Berth). */
  untaggedKeepChildren: Set<string>;
  /** The same when a tagged index's untagged children are deleted too (distribution 2.8, #3178). */
  untaggedDropChildren: Set<string>;
  /** Revisions (`repo@digest`) `--delete-untagged` removes when index children are kept. */
  revisionsKeepChildren: Set<string>;
  revisionsDropChildren: Set<string>;
}

const PER_REPOSITORY = 10;

/**
 * `manifests` manifests in repositories of 10 and `blobs` blobs in all (manifests included):
 *
 * - A plain repository: images 0-9; tags v0-v7 name images 0-7, `latest` names image 7 and was
 *   images 9 then 8 before (its `index/`), so images 8 and 9 are untagged.
 * - Every 20th repository is multi-arch: index A (tag `multi`; children a1, a2), index B (was
 *   `multi` before A; children b1, b2), images 0-3 (v0-v2 and `latest` on image 2, which was
 *   image 3 before). Untagged: B, b1, b2, image 3, and a1, a2 (reachable through A).
 * - Every image: its own config, one base layer shared by 10 repositories, and 1-3 own layers;
 *   `_layers` links for all of them, as pushes leave them.
 * - `unreferencedCount` blobs (by default a fifth of all) are referenced by nothing: half of them
 *   with a `_layers` link in some repository (an abandoned push), half without.
 *
 * Even repositories use OCI media types, odd ones Docker's.
 */
export function gcDataset(manifests: number, blobs: number, seed: string, unreferencedCount = Math.floor(blobs / 5)): GcDataset {
  const repositories = Math.ceil(manifests / PER_REPOSITORY);
  const isMulti = (r: number) => r % 20 === 10;
  const multi = Array.from({ length: repositories }, (_, r) => r).filter(isMulti).length;
  const images = repositories * PER_REPOSITORY - 2 * multi;
  const bases = Math.ceil(repositories / 10);
  const ownLayers = blobs - unreferencedCount - repositories * PER_REPOSITORY - images - bases;
  if (ownLayers < images) throw new Error(`gc data set: ${blobs} blobs are too few for ${manifests} manifests`);

  const files = new LayoutFiles();
  const baseLayers = Array.from({ length: bases }, (_, i) => blobOf(`${seed} base layer ${i}`));
  for (const blob of baseLayers) files.blob(blob);
  let imageNumber = 0;
  let layerNumber = 0;
  const created = Date.UTC(2026, 0, 1);
  const newImage = (repo: number, oci: boolean, architecture: string): ImageBlobs => {
    const j = imageNumber++;
    const count = Math.floor(((j + 1) * ownLayers) / images) - Math.floor((j * ownLayers) / images);
    const layers = [baseLayers[Math.floor(repo / 10)]!, ...Array.from({ length: count }, () => blobOf(`${seed} layer ${layerNumber++}`))];
    const made = image({ oci, architecture, created: new Date(created + j * 60_000).toISOString(), label: `${seed}-${j}`, layers });
    files.blob(made.manifest);
    files.blob(made.config);
    for (const layer of layers) files.blob(layer);
    return made;
  };
  const ownBlobs = (made: ImageBlobs): string[] => [made.manifest.digest, made.config.digest, ...made.layers.slice(1).map((l) => l.digest)];

  const unreferenced = new Set<string>();
  const keepChildren = new Set<string>();
  const dropChildren = new Set<string>();
  const revisionsKeep = new Set<string>();
  const revisionsDrop = new Set<string>();
  const names: string[] = [];
  for (let r = 0; r < repositories; r++) {
    const name = `gc/app-${String(r).padStart(4, "0")}`;
    names.push(name);
    const oci = r % 2 === 0;
    const link = (made: ImageBlobs) => {
      files.revision(name, made.manifest);
      files.layerLink(name, made.config);
      for (const layer of made.layers) files.layerLink(name, layer);
    };
    if (!isMulti(r)) {
      const list = Array.from({ length: PER_REPOSITORY }, () => newImage(r, oci, "amd64"));
      list.forEach(link);
      for (let i = 0; i < 8; i++) files.tag(name, `v${i}`, list[i]!.manifest);
      files.tag(name, "latest", list[7]!.manifest, [list[7]!.manifest, list[8]!.manifest, list[9]!.manifest]);
      for (const gone of [list[8]!, list[9]!]) {
        for (const digest of ownBlobs(gone)) {
          keepChildren.add(digest);
          dropChildren.add(digest);
        }
        revisionsKeep.add(`${name}@${gone.manifest.digest}`);
        revisionsDrop.add(`${name}@${gone.manifest.digest}`);
      }
      continue;
    }
    const [a1, a2, b1, b2] = [newImage(r, oci, "amd64"), newImage(r, oci, "arm64"), newImage(r, oci, "amd64"), newImage(r, oci, "arm64")];
    const indexA = indexOf(oci, [
      { image: a1, architecture: "amd64" },
      { image: a2, architecture: "arm64" },
    ]);
    const indexB = indexOf(oci, [
      { image: b1, architecture: "amd64" },
      { image: b2, architecture: "arm64" },
    ]);
    const list = Array.from({ length: 4 }, () => newImage(r, oci, "amd64"));
    for (const made of [a1, a2, b1, b2, ...list]) link(made);
    for (const index of [indexA, indexB]) {
      files.blob(index);
      files.revision(name, index);
    }
    files.tag(name, "multi", indexA, [indexA, indexB]);
    for (let i = 0; i < 3; i++) files.tag(name, `v${i}`, list[i]!.manifest);
    files.tag(name, "latest", list[2]!.manifest, [list[2]!.manifest, list[3]!.manifest]);
    for (const set of [keepChildren, dropChildren]) {
      set.add(indexB.digest);
      for (const made of [b1, b2, list[3]!]) for (const digest of ownBlobs(made)) set.add(digest);
    }
    for (const set of [revisionsKeep, revisionsDrop]) {
      for (const digest of [indexB.digest, b1.manifest.digest, b2.manifest.digest, list[3]!.manifest.digest]) set.add(`${name}@${digest}`);
    }
    // distribution 2.8 deletes the untagged children of a tagged index (their revision links and
    // what only they reference) but keeps their manifest blobs, which the index references.
    for (const child of [a1, a2]) {
      for (const digest of ownBlobs(child).slice(1)) dropChildren.add(digest);
      revisionsDrop.add(`${name}@${child.manifest.digest}`);
    }
  }
  if (imageNumber !== images) throw new Error(`gc data set: made ${imageNumber} images, planned ${images}`);

  for (let i = 0; i < unreferencedCount; i++) {
    const blob = blobOf(`${seed} unreferenced ${i}`);
    files.blob(blob);
    unreferenced.add(blob.digest);
    if (i % 2 === 0) files.layerLink(names[i % names.length]!, blob);
  }
  for (const digest of unreferenced) {
    keepChildren.add(digest);
    dropChildren.add(digest);
  }
  return {
    files,
    repositories,
    names,
    multiArchRepositories: multi,
    manifests: repositories * PER_REPOSITORY,
    blobs: bases + layerNumber + images * 2 + multi * 2 + unreferencedCount,
    unreferenced,
    untaggedKeepChildren: keepChildren,
    untaggedDropChildren: dropChildren,
    revisionsKeepChildren: revisionsKeep,
    revisionsDropChildren: revisionsDrop,
  };
}
