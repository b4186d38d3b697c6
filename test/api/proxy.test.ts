/**
 * The pull-through cache in the console API and in Prometheus metrics: a real upstream (Debian's
 * docker-registry) holding an image pushed with skopeo, pulled through Berth's engine over HTTP.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { ApiServices } from "../../server/api/trpc.js";
import { createLogger } from "../../server/log.js";
import { listActivity } from "../../server/maintenance/activity.js";
import { RegistryMetrics } from "../../server/metrics.js";
import { Mirrors } from "../../server/proxy/mirrors.js";
import { parseDigest } from "../../server/registry/reference.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { pushLayout, removeDir, tempDir } from "../gc/harness.js";
import { pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { openIndex, type IndexUnderTest } from "../index/helpers.js";
import { callerFor, createTestApiServices } from "../support/api.js";
import { requireCommands } from "../support/commands.js";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { makeImageLayout, OCI_MANIFEST, type ImageLayout } from "../support/images.js";

requireCommands("docker-registry", "skopeo");

const hourMs = 3_600_000;
const hasCode = (code: TRPCError["code"]) => (error: unknown) => error instanceof TRPCError && error.code === code;

describe("console API and metrics: the pull-through cache", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let image: ImageLayout;
  let services: ApiServices;
  let r: TestRegistry;
  let t: IndexUnderTest;
  /** The image's config and layers: what a pull fetches besides the manifest. */
  let blobs: { digest: string; size: number }[];

  const pullManifest = async (name: string, reference: string) => {
    const res = await r.fetch(`/v2/${name}/manifests/${reference}`, { headers: { Accept: OCI_MANIFEST } });
    await res.arrayBuffer();
    return res.status;
  };
  /** Pulls the image by tag as a client does: the manifest, then every blob. */
  const pull = async (name: string) => {
    assert.equal(await pullManifest(name, "1.0"), 200);
    for (const blob of blobs) {
      const res = await r.fetch(`/v2/${name}/blobs/${blob.digest}`);
      assert.equal((await res.arrayBuffer()).byteLength, blob.size, `${name} blob ${blob.digest}`);
    }
  };

  before(async () => {
    scratch = await tempDir("proxy-api");
    upstream = await startDistribution();
    image = await makeImageLayout(`${scratch}/image`, { layers: [4096, 200_000], seed: "proxy-api" });
    await pushLayout(upstream.host, image, "library/app", "1.0");
    const manifest = image.manifests[0]!;
    blobs = [{ digest: manifest.configDigest, size: manifest.configSize }, ...manifest.layers.map(({ digest, size }) => ({ digest, size }))];
    const mirrors = Mirrors.fromConfig(
      {
        mirrors: [
          { prefix: "hub", remoteurl: upstream.url, ttl: hourMs },
          { prefix: "forever", remoteurl: upstream.url, ttl: 0 },
          // Nothing listens on port 9; its credentials must never reach the console.
          { prefix: "creds", remoteurl: "http://bot:url-secret@127.0.0.1:9", username: "bot", password: "mirror-password", ttl: hourMs },
        ],
      },
      createLogger({ level: "error", write: () => undefined }),
    );
    const driver = createDriver("inmemory");
    services = await createTestApiServices(driver, { mirrors });
    r = await startRegistry({ registry: services.registry, driver });
    t = await openIndex(r);
    await (await t.index.start()).rebuild;
    services = { ...services, index: t.index };
  });

  after(async () => {
    await t?.index.close();
    await r?.close();
    await services?.registry.close();
    await services?.maintenance.readOnly.close();
    await upstream?.stop();
    await removeDir(scratch);
  });

  it("counts per upstream what a pull fetched and what it served from the cache, in the overview and in metrics", async () => {
    const caller = callerFor(services);
    const empty = await caller.proxy.overview();
    assert.deepEqual(
      empty.mirrors.map(({ id, prefix, remoteurl, ttlMs }) => ({ id, prefix, remoteurl, ttlMs })),
      [
        { id: "hub", prefix: "hub", remoteurl: upstream.url, ttlMs: hourMs },
        { id: "forever", prefix: "forever", remoteurl: upstream.url, ttlMs: 0 },
        { id: "creds", prefix: "creds", remoteurl: "http://127.0.0.1:9/", ttlMs: hourMs },
      ],
    );
    assert.deepEqual(empty.totals, { hits: 0, misses: 0, upstreamErrors: 0, bytesFromCache: 0, bytesFetched: 0 });

    await pull("hub/library/app");
    await pull("hub/library/app");
    assert.equal(await pullManifest("creds/library/app", "1.0"), 503, "the upstream cannot be reached");

    const overview = await caller.proxy.overview();
    const bytes = blobs.reduce((sum, blob) => sum + blob.size, 0);
    // Each pull: the manifest by tag, then the config and the layers.
    const hub = { hits: 1 + blobs.length, misses: 1 + blobs.length, upstreamErrors: 0, bytesFromCache: bytes, bytesFetched: bytes };
    assert.deepEqual(overview.mirrors.find((m) => m.id === "hub")?.counts, hub);
    assert.deepEqual(overview.mirrors.find((m) => m.id === "creds")?.counts.upstreamErrors, 1);
    assert.deepEqual(overview.totals, { ...hub, upstreamErrors: 1 });
    // Plain fields only: the mirror objects also hold the upstream client and its credentials.
    for (const mirror of overview.mirrors) assert.deepEqual(Object.keys(mirror).sort(), ["counts", "id", "prefix", "remoteurl", "ttlMs"]);
    const text = JSON.stringify(overview);
    for (const secret of ["mirror-password", "url-secret"]) assert.ok(!text.includes(secret), `${secret} in the overview`);

    const metrics = await new RegistryMetrics(
      () => services.registry.services.uploads.counts,
      () => services.registry.services.proxy?.stats.snapshot(),
    ).render();
    for (const line of [
      `berth_proxy_hits_total{upstream="hub"} ${hub.hits}`,
      `berth_proxy_misses_total{upstream="hub"} ${hub.misses}`,
      `berth_proxy_upstream_errors_total{upstream="creds"} 1`,
      `berth_proxy_bytes_total{upstream="hub",source="cache"} ${bytes}`,
      `berth_proxy_bytes_total{upstream="hub",source="upstream"} ${bytes}`,
      "# TYPE berth_proxy_hits_total counter",
    ]) {
      assert.ok(metrics.split("\n").includes(line), `metrics lack ${line}:\n${metrics}`);
    }
    const withoutCache = await new RegistryMetrics(() => ({ started: 0, completed: 0, cancelled: 0 })).render();
    assert.ok(!withoutCache.includes("berth_proxy_"), "no cache, no cache metrics");
  });

  it("says when a cached image was stored, last pulled and expires; null for anything not cached", async () => {
    const caller = callerFor(services, "vera", "viewer");
    await pull("forever/library/app");
    const cached = await caller.proxy.image({ repository: "hub/library/app", digest: image.manifestDigest });
    assert.ok(cached);
    assert.equal(cached.mirror, "hub");
    assert.equal(cached.remoteurl, upstream.url);
    assert.ok(cached.cachedAt <= cached.pulledAt && cached.pulledAt <= Date.now(), JSON.stringify(cached));
    assert.equal(cached.expiresAt, cached.pulledAt + hourMs);
    const kept = await caller.proxy.image({ repository: "forever/library/app", digest: image.manifestDigest });
    assert.equal(kept?.expiresAt, null, "ttl 0: kept until evicted");

    const pushed = await pushImage(r, "local/app", "v1");
    assert.equal(await caller.proxy.image({ repository: "local/app", digest: pushed.digest }), null, "a pushed repository");
    assert.equal(await caller.proxy.image({ repository: "hub/library/app", digest: pushed.digest }), null, "a manifest never cached there");
    await assert.rejects(caller.proxy.image({ repository: "hub/library/app", digest: "nope" }), hasCode("BAD_REQUEST"));
  });

  it("marks cached repositories in the repository list with their upstream", async () => {
    await t.index.idle();
    const list = await callerFor(services).repositories.list({ sort: "name" });
    const cachedFrom = Object.fromEntries(list.rows.map((row) => [row.name, row.cachedFrom?.id ?? null]));
    assert.deepEqual(cachedFrom, { "forever/library/app": "forever", "hub/library/app": "hub", "local/app": null });
    assert.equal(list.rows.find((row) => row.name === "hub/library/app")?.cachedFrom?.remoteurl, upstream.url);
  });

  it("lets only an admin evict, only cached images, not while read-only; the next pull fetches the image again", async () => {
    const target = { repository: "hub/library/app", digest: image.manifestDigest };
    const digest = parseDigest(image.manifestDigest);
    const cached = () => services.registry.services.manifests.exists("hub/library/app", digest);
    await assert.rejects(callerFor(services, "vera", "viewer").proxy.evict(target), hasCode("FORBIDDEN"));
    const admin = callerFor(services);

    const pushed = await pushImage(r, "local/kept", "v1");
    await assert.rejects(admin.proxy.evict({ repository: "local/kept", digest: pushed.digest }), hasCode("BAD_REQUEST"));
    assert.equal(await services.registry.services.manifests.exists("local/kept", parseDigest(pushed.digest)), true, "a pushed image is not evicted");

    await services.maintenance.readOnly.set(true, { owner: "test" });
    try {
      await assert.rejects(admin.proxy.evict(target), hasCode("CONFLICT"));
    } finally {
      await services.maintenance.readOnly.set(false, { owner: "test" });
    }
    assert.equal(await cached(), true);

    assert.deepEqual(await admin.proxy.evict(target), target);
    assert.equal(await cached(), false);
    assert.equal(await admin.proxy.image(target), null);
    const [entry] = await listActivity(services.maintenance.driver, 1);
    assert.equal(entry?.action, "proxy.evict");
    assert.equal(entry?.user, "admin");

    const missesBefore = (await admin.proxy.overview()).totals.misses;
    assert.equal(await pullManifest("hub/library/app", "1.0"), 200);
    assert.equal(await cached(), true, "fetched and stored again");
    assert.equal((await admin.proxy.overview()).totals.misses, missesBefore + 1);
  });
});
