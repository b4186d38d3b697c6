/**
 * Online garbage collection: `berth garbage-collect` in its own process while two `berth serve`
 * processes on the same storage take pushes, with the races that make online collection hard
 * forced at the phase where they hurt (the test watches the run's published state). Every push
 * must succeed and pull byte-exact afterwards from both instances; garbage nobody touched goes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { onlineGcPaths } from "../../server/registry/gc-guard.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { spawnBerth } from "../support/berth-cli.js";
import { eventually } from "../support/eventually.js";
import { buildImage, descriptor, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, putManifest, sha256, type Bytes, type PushedImage } from "../http/harness.js";
import { sharedStorages, startInstance, type BerthInstance } from "../scale-out/instances.js";

for (const storage of sharedStorages) {
  describe(`online garbage collection beside two serving instances: ${storage.name}`, () => {
    let dir: string;
    let driver: StorageDriver;
    let close: () => Promise<void>;
    let a: BerthInstance;
    let b: BerthInstance;
    let gcConfig: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-online-gc-"));
      const opened = await storage.open(dir);
      driver = opened.driver;
      close = opened.close;
      // Blobs served by the instances themselves: a HEAD answers for the registry, not the bucket.
      const shared = { ...opened.setup, secret: "gc-secret", noRedirect: true };
      [a, b] = await Promise.all([startInstance(dir, "a", shared), startInstance(dir, "b", shared)]);
      gcConfig = join(dir, "gc.yml");
      await writeFile(gcConfig, ["version: 0.1", "storage:", ...opened.storageYaml, "  delete:", "    enabled: true", ""].join("\n"));
    });

    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await close?.();
      await rm(dir, { recursive: true, force: true });
    });

    /** The run's published phase, read from the storage as the instances read it. */
    async function phase(): Promise<string | undefined> {
      try {
        return (JSON.parse((await driver.getContent(onlineGcPaths.state)).toString("utf8")) as { phase: string }).phase;
      } catch (error) {
        if ((error as { kind?: string }).kind === "not-found") return undefined;
        throw error;
      }
    }

    async function waitForPhase(wanted: string, gc: { exited: () => string | undefined }): Promise<void> {
      // garbage-collect exiting first is the failure to report, not a timeout.
      await eventually(async () => (await phase()) === wanted, 60_000, `the ${wanted} phase`, { intervalMs: 50, abort: gc.exited });
    }

    /** Pulls an image from an instance and checks every byte against its digest. */
    async function pullsExactly(on: BerthInstance, name: string, reference: string, image: PushedImage): Promise<void> {
      const manifest = await fetch(`${on.url}/v2/${name}/manifests/${reference}`, { headers: { Accept: image.mediaType } });
      assert.equal(manifest.status, 200, `${on.url} ${name}:${reference}`);
      assert.ok(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest));
      for (const blob of [image.config, ...image.layers]) {
        const res = await fetch(`${on.url}/v2/${name}/blobs/${sha256(blob)}`);
        assert.equal(res.status, 200, `${on.url} ${name} blob ${sha256(blob)}`);
        const bytes = Buffer.from(await res.arrayBuffer());
        assert.equal(createHash("sha256").update(bytes).digest("hex"), sha256(blob).slice(7));
      }
    }

    async function deleteManifest(on: BerthInstance, name: string, digest: string): Promise<void> {
      const res = await on.fetch(`/v2/${name}/manifests/${digest}`, { method: "DELETE" });
      assert.equal(res.status, 202, await res.text());
    }

    it("keeps every push made while it runs, and deletes the garbage nobody touched", async () => {
      // Garbage: two images whose manifests were deleted, and a blob nobody ever referenced.
      const old1 = await buildImage(a, "gc/old", { layers: 2 });
      const old2 = await buildImage(a, "gc/old", { layers: 1 });
      for (const image of [old1, old2]) {
        assert.equal((await putManifest(a, "gc/old", image.digest, image.manifest, image.mediaType)).status, 201);
        await deleteManifest(b, "gc/old", image.digest);
      }
      const untouched = await pushBlob(a, "gc/untouched", randomBytes(4096) as Bytes);
      const kept = await buildImage(b, "gc/kept", { layers: 2 });
      assert.equal((await putManifest(b, "gc/kept", "v1", kept.manifest, kept.mediaType)).status, 201);
      // A client checks old1's layers before the run starts: present, so it will not upload them.
      for (const layer of old1.layers) assert.equal((await a.fetch(`/v2/gc/old/blobs/${sha256(layer)}`, { method: "HEAD" })).status, 200);

      // The hold is the time the pushes below have between the publication and the claims: ample,
      // so that a slow machine does not turn the test into a race it was not meant to be.
      const gc = spawnBerth(["garbage-collect", "--grace", "0s", "--hold", "10s", "--json", gcConfig]);
      let output = "";
      let errors = "";
      gc.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      gc.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
      let exit: string | undefined;
      const exited = new Promise<number>((resolve) =>
        gc.once("exit", (code) => {
          exit = `exit ${code}: ${output}${errors}`;
          resolve(code ?? 1);
        }),
      );
      const watch = { exited: () => exit };

      // While it marks: a fresh blob arrives, its manifest only after the sweep began.
      await waitForPhase("marking", watch);
      const fresh = randomBytes(3000) as Bytes;
      await pushBlob(b, "gc/fresh", fresh);

      await waitForPhase("sweeping", watch);
      // A doomed blob is absent to HEAD and to a mount, so clients upload it again (once the
      // instance read the published state: it does every second).
      const doomed = `/v2/gc/old/blobs/${sha256(old2.layers[0]!)}`;
      await eventually(async () => assert.equal((await b.fetch(doomed, { method: "HEAD" })).status, 404), 3_000, "HEAD of a doomed blob to answer 404", { intervalMs: 100 });
      await sleep(1100);
      const mount = await a.fetch(`/v2/gc/mount/blobs/uploads/?mount=${sha256(old2.layers[0]!)}&from=gc/old`, { method: "POST" });
      assert.equal(mount.status, 202, "a doomed blob is not mounted");
      const location = new URL(mount.headers.get("location")!, a.url);
      const uploaded = await fetch(`${location.href}&digest=${sha256(old2.layers[0]!)}`, { method: "PUT", body: old2.layers[0]! });
      assert.equal(uploaded.status, 201, await uploaded.text());
      await pushBlob(a, "gc/mount", old2.config);
      const remount = await putManifest(a, "gc/mount", "v1", old2.manifest, old2.mediaType);
      assert.equal(remount.status, 201, await remount.text());

      // The client that saw old1's layers before the run pushes old1 again without uploading them.
      await pushBlob(b, "gc/old", old1.config);
      const repush = await putManifest(b, "gc/old", "back", old1.manifest, old1.mediaType);
      assert.equal(repush.status, 201, await repush.text());

      // The fresh blob's manifest, after the sweep began.
      const freshConfig = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })) as Bytes;
      await pushBlob(b, "gc/fresh", freshConfig);
      const freshManifest = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, freshConfig), layers: [descriptor(OCI_LAYER, fresh)] }),
      ) as Bytes;
      const freshPut = await putManifest(a, "gc/fresh", "v1", freshManifest, OCI_MANIFEST);
      assert.equal(freshPut.status, 201, await freshPut.text());

      assert.equal(await exited, 0, `${output}${errors}`);
      const report = (JSON.parse(output) as { report: { blobsDeleted: { digest: string }[] } }).report;

      for (const on of [a, b]) {
        await pullsExactly(on, "gc/old", "back", old1);
        await pullsExactly(on, "gc/mount", "v1", old2);
        await pullsExactly(on, "gc/kept", "v1", kept);
        await pullsExactly(on, "gc/fresh", "v1", { ...old1, manifest: freshManifest, config: freshConfig, layers: [fresh], mediaType: OCI_MANIFEST });
      }
      // Untouched garbage went: the unreferenced blob, and the old manifests' own content.
      const deleted = new Set(report.blobsDeleted.map((blob) => blob.digest));
      assert.ok(deleted.has(untouched), `the untouched blob was collected: ${[...deleted].join(", ")}`);
      assert.equal((await a.fetch(`/v2/gc/untouched/blobs/${untouched}`, { method: "HEAD" })).status, 404);
      for (const digest of [sha256(old1.layers[0]!), sha256(old1.layers[1]!), sha256(old2.layers[0]!), sha256(old1.config), sha256(old2.config)]) {
        assert.ok(!deleted.has(digest), `${digest} was used during the run and must not be reported deleted`);
      }
      assert.equal(await phase(), undefined, "the run's state is gone");
    });
  });
}
