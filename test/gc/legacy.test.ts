import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { collectGarbage } from "../../server/gc/collect.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { requireCommands } from "../support/commands.js";
import { copyStorage, difference, distributionGarbageCollect, removeDir, sorted, startBerth, storageBlobs, storageRevisions, tempDir, writeStorageFile } from "./harness.js";

/**
 * Storage written by an old (LAIN-era, distribution 2.4) registry: Docker schema1 manifests whose
 * layers are `fsLayers[].blobSum`. Berth never accepts new ones, but its collector must see what
 * they reference, exactly as distribution's does.
 */
describe("garbage collection of schema1 manifests left by old registries", () => {
  before(() => requireCommands("docker-registry"));
  let scratch: string;
  let pristine: string;
  const blobs: Record<string, string> = {};
  let tagged: string;
  let untagged: string;

  const write = async (bytes: Buffer): Promise<string> => {
    const hex = createHash("sha256").update(bytes).digest("hex");
    await writeStorageFile(pristine, `blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, bytes);
    return `sha256:${hex}`;
  };
  const schema1 = (tag: string, layers: string[]) =>
    Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 1,
          name: "old/app",
          tag,
          architecture: "amd64",
          fsLayers: layers.map((blobSum) => ({ blobSum })),
          history: layers.map(() => ({ v1Compatibility: "{}" })),
          signatures: [{ header: { alg: "ES256" }, signature: "c2ln", protected: "eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiJmUSJ9" }],
        },
        null,
        3,
      ),
    );
  const link = (path: string, digest: string) => writeStorageFile(pristine, path, digest);
  const hex = (digest: string) => digest.slice(7);

  before(async () => {
    scratch = await tempDir("legacy");
    pristine = join(scratch, "pristine");
    for (const name of ["shared", "onlyTagged", "onlyUntagged", "orphan"]) blobs[name] = await write(Buffer.from(`layer ${name}`));
    tagged = await write(schema1("v1", [blobs.onlyTagged!, blobs.shared!]));
    untagged = await write(schema1("v0", [blobs.onlyUntagged!, blobs.shared!]));
    for (const manifest of [tagged, untagged]) await link(`repositories/old/app/_manifests/revisions/sha256/${hex(manifest)}/link`, manifest);
    await link("repositories/old/app/_manifests/tags/v1/current/link", tagged);
    await link(`repositories/old/app/_manifests/tags/v1/index/sha256/${hex(tagged)}/link`, tagged);
    for (const blob of Object.values(blobs)) await link(`repositories/old/app/_layers/sha256/${hex(blob)}/link`, blob);
  });

  after(() => removeDir(scratch));

  for (const deleteUntagged of [false, true]) {
    it(`marks fsLayers blobSums like distribution${deleteUntagged ? " (--delete-untagged)" : ""}`, async () => {
      const berthRoot = join(scratch, `berth-${deleteUntagged}`);
      const distributionRoot = join(scratch, `distribution-${deleteUntagged}`);
      await copyStorage(pristine, berthRoot);
      await copyStorage(pristine, distributionRoot);
      const before = await storageBlobs(pristine);

      const report = await collectGarbage({ driver: createDriver("filesystem", { rootdirectory: berthRoot }), deleteUntagged });
      await distributionGarbageCollect(distributionRoot, { deleteUntagged });
      const berthDeleted = difference(before.keys(), (await storageBlobs(berthRoot)).keys());
      const distributionDeleted = difference(before.keys(), (await storageBlobs(distributionRoot)).keys());

      const expected = deleteUntagged ? [blobs.orphan!, blobs.onlyUntagged!, untagged] : [blobs.orphan!];
      assert.deepEqual(sorted(berthDeleted), sorted(expected));
      assert.deepEqual(sorted(distributionDeleted), sorted(expected));
      assert.deepEqual(report.manifestsDeleted, deleteUntagged ? [{ repository: "old/app", digest: untagged }] : []);
      assert.deepEqual(await storageRevisions(berthRoot), await storageRevisions(distributionRoot));

      const berth = await startBerth(berthRoot);
      try {
        const manifest = await fetch(`${berth.url}/v2/old/app/manifests/v1`);
        assert.equal(manifest.status, 200);
        assert.equal(manifest.headers.get("docker-content-digest"), tagged);
        for (const blob of [blobs.onlyTagged!, blobs.shared!]) {
          const res = await fetch(`${berth.url}/v2/old/app/blobs/${blob}`);
          assert.equal(res.status, 200, blob);
          assert.equal(`sha256:${createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")}`, blob);
        }
      } finally {
        await berth.close();
      }
    });
  }
});
