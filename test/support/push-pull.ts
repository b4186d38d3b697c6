/**
 * One image pushed and pulled with skopeo through a registry on a given storage driver: what an
 * object-store driver's test file checks end to end, through the engine in-process
 * (`pushAndPull`) or through any running registry (`pushAndPullVia`, e.g. `berth serve`).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { startRegistry } from "../http/harness.js";
import { requireCommands } from "./commands.js";
import { makeImageLayout } from "./images.js";
import { skopeoCopy, skopeoInspect } from "./skopeo.js";

/** The engine in-process on `driver`, then `pushAndPullVia`; the engine must log no error. */
export async function pushAndPull(driver: StorageDriver, repository: string, bigLayer: number): Promise<void> {
  const registry = await startRegistry({ driver, deleteEnabled: true, secret: `berth-${repository}-test` });
  try {
    await pushAndPullVia(new URL(registry.url).host, driver, repository, bigLayer);
    assert.deepEqual(registry.errors, []);
  } finally {
    await registry.close();
  }
}

/**
 * Pushes an image of three layers to the registry at `host` (one above `bigLayer` bytes, so that
 * writers cut it into several blocks or segments), pulls it back, and checks through `driver`
 * (the registry's storage) the manifest, the big layer's size, and that no upload is left over.
 */
export async function pushAndPullVia(host: string, driver: StorageDriver, repository: string, bigLayer: number): Promise<void> {
  requireCommands("skopeo");
  const work = await mkdtemp(join(tmpdir(), "berth-push-pull-"));
  try {
    const image = await makeImageLayout(join(work, "image"), { layers: [1024, 70_000, bigLayer], seed: repository });
    await skopeoCopy(image.ref, `docker://${host}/${repository}:v1`);
    const raw = await skopeoInspect(`docker://${host}/${repository}:v1`, { raw: true });
    assert.equal(`sha256:${createHash("sha256").update(raw as string).digest("hex")}`, image.manifestDigest);
    await skopeoCopy(`docker://${host}/${repository}:v1`, `oci:${join(work, "pulled")}:v1`);
    assert.equal(await skopeoInspect(`oci:${join(work, "pulled")}:v1`, { raw: true }), raw);
    const layer = image.manifests[0]!.layers[2]!;
    const hex = layer.digest.slice(7);
    assert.equal((await driver.stat(`/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`)).size, layer.size);
    await assert.rejects(driver.list(`/docker/registry/v2/repositories/${repository}/_uploads`), { kind: "not-found" });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
