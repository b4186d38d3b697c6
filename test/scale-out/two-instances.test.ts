/**
 * Two `berth serve` processes on one bucket (Ceph radosgw), one `http.secret` and one etcd, and
 * no memory in common: requests alternate between them the way a load balancer without
 * stickiness would send them.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConsoleUsers } from "../../server/console-auth/users.js";
import { createLogger } from "../../server/log.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { buildImage, pushBlob, pushImage, putManifest, sha256, type Bytes } from "../http/harness.js";
import { cephCommands, startCeph, type RunningCeph } from "../support/ceph.js";
import { requireCommands } from "../support/commands.js";
import { eventually } from "../support/eventually.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { makeImageLayout } from "../support/images.js";
import { skopeoCopy, skopeoInspect } from "../support/skopeo.js";
import { radosgwParams, startInstance, type BerthInstance } from "./instances.js";

const password = "scale-out-admin";
/** Bound for what travels through etcd (a watch event) before both instances agree. */
const etcdPropagationMs = 5_000;

describe("two Berth instances on one bucket, one secret, one etcd", () => {
  before(() => requireCommands(...cephCommands, "etcd", "skopeo"));
  let dir: string;
  let ceph: RunningCeph;
  let etcd: RunningEtcd;
  let a: BerthInstance;
  let b: BerthInstance;
  /** Console session cookie, issued by B (sessions are keyed by a secret in storage). */
  let cookie: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-scale-out-"));
    [ceph, etcd] = await Promise.all([startCeph(), startEtcd()]);
    const s3 = await radosgwParams(ceph);
    // --registry-only creates no admin (that is the console's start-up); the users live in storage.
    await new ConsoleUsers(createDriver("s3", s3), createLogger({ level: "error", write: () => undefined })).ensureAdmin(password);
    const shared = { s3, etcdEndpoint: etcd.endpoint, secret: "scale-out-secret" };
    [a, b] = await Promise.all([startInstance(dir, "a", shared), startInstance(dir, "b", shared)]);
    const login = await b.fetch("/api/trpc/auth.login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: "admin", password }),
    });
    assert.equal(login.status, 200, await login.text());
    cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([ceph?.stop(), etcd?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pathOf = (location: string | null) => {
    assert.ok(location, "a Location header");
    const url = new URL(location, "http://base.invalid");
    return url.pathname + url.search;
  };
  const trpc = async (instance: BerthInstance, procedure: string, input?: unknown, mutation = false) => {
    const res = mutation
      ? await instance.fetch(`/api/trpc/${procedure}`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie }, body: JSON.stringify(input ?? {}) })
      : await instance.fetch(`/api/trpc/${procedure}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers: { Cookie: cookie } });
    const text = await res.text();
    assert.equal(res.status, 200, `${procedure} on ${instance.url}: ${text}`);
    return (JSON.parse(text) as { result: { data: unknown } }).result.data;
  };
  /** A blob's bytes through `instance`: the S3 driver redirects downloads to a presigned URL. */
  const readBlob = async (instance: BerthInstance, name: string, digest: string) => {
    const res = await instance.fetch(`/v2/${name}/blobs/${digest}`);
    const body = res.status === 307 ? await fetch(res.headers.get("location")!) : res;
    assert.equal(body.status, 200, `GET ${name}@${digest} on ${instance.url}: ${res.status}`);
    return Buffer.from(await body.arrayBuffer());
  };
  const startUpload = async (instance: BerthInstance, name = "scale/writes") => {
    const res = await instance.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" });
    await res.arrayBuffer();
    return res.status;
  };
  /** Polls both instances until starting an upload answers `status` on each; bounded. */
  const bothAnswer = async (status: number) => {
    const statuses = async () => [await startUpload(a), await startUpload(b)];
    await eventually(async () => assert.deepEqual(await statuses(), [status, status]), etcdPropagationMs, () => `${status} from both\nA:\n${a.output()}\nB:\n${b.output()}`);
  };

  it("continues a chunked upload across instances: POST on A, PATCH on B, PATCH and PUT on A", async () => {
    const data = randomBytes(300_000) as Bytes;
    const started = await a.fetch("/v2/scale/chunked/blobs/uploads/", { method: "POST" });
    assert.equal(started.status, 202);
    const first = await b.fetch(pathOf(started.headers.get("location")), {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "0-99999" },
      body: data.subarray(0, 100_000),
    });
    assert.equal(first.status, 202, await first.text());
    assert.equal(first.headers.get("range"), "0-99999");
    const second = await a.fetch(pathOf(first.headers.get("location")), {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "100000-199999" },
      body: data.subarray(100_000, 200_000),
    });
    assert.equal(second.status, 202, await second.text());
    const status = await b.fetch(pathOf(second.headers.get("location")));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-199999");
    const location = pathOf(second.headers.get("location"));
    const done = await a.fetch(`${location}${location.includes("?") ? "&" : "?"}digest=${sha256(data)}`, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: data.subarray(200_000),
    });
    assert.equal(done.status, 201, await done.text());
    assert.ok((await readBlob(b, "scale/chunked", sha256(data))).equals(data));
  });

  it("serves on A a monolithic upload made on B, and mounts it on A from B's repository", async () => {
    const blob = randomBytes(5_000) as Bytes;
    const digest = await pushBlob(b, "scale/mono", blob);
    assert.ok((await readBlob(a, "scale/mono", digest)).equals(blob));
    const mount = await a.fetch(`/v2/scale/mounted/blobs/uploads/?mount=${digest}&from=scale/mono`, { method: "POST" });
    assert.equal(mount.status, 201, await mount.text());
    assert.ok((await readBlob(b, "scale/mounted", digest)).equals(blob));
  });

  it("lists on A the tags and repositories pushed on B, and follows a tag moved on A from B", async () => {
    // A has answered a catalog before B's push: a list A keeps must not hide B's repository.
    assert.equal((await a.fetch("/v2/_catalog")).status, 200);
    const first = await pushImage(b, "scale/listed", "v1");
    await pushImage(b, "scale/listed", "v2");
    const tags = (await (await a.fetch("/v2/scale/listed/tags/list")).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ["v1", "v2"]);
    const catalog = (await (await a.fetch("/v2/_catalog")).json()) as { repositories: string[] };
    assert.ok(catalog.repositories.includes("scale/listed"), `A's catalog: ${catalog.repositories.join(", ")}`);
    assert.deepEqual((await (await b.fetch("/v2/_catalog")).json()) as unknown, catalog, "both instances list the same repositories");

    const viaB = await b.fetch("/v2/scale/listed/manifests/v1", { headers: { Accept: first.mediaType } });
    assert.equal(viaB.headers.get("docker-content-digest"), first.digest);
    const moved = await buildImage(a, "scale/listed");
    assert.equal((await putManifest(a, "scale/listed", "v1", moved.manifest, moved.mediaType)).status, 201);
    const afterMove = await b.fetch("/v2/scale/listed/manifests/v1", { method: "HEAD", headers: { Accept: moved.mediaType } });
    assert.equal(afterMove.headers.get("docker-content-digest"), moved.digest, "B follows the tag A moved");
  });

  it("pulls from B what skopeo pushed to A", async () => {
    const image = await makeImageLayout(join(dir, "layout"), { layers: [2_000, 70_000], seed: "scale-out" });
    await skopeoCopy(image.ref, `docker://${a.host}/scale/skopeo:1.0`);
    const raw = await skopeoInspect(`docker://${b.host}/scale/skopeo:1.0`, { raw: true });
    assert.equal(sha256(raw), image.manifestDigest);
    await skopeoCopy(`docker://${b.host}/scale/skopeo:1.0`, `oci:${join(dir, "pulled")}:1.0`);
    assert.equal(await skopeoInspect(`oci:${join(dir, "pulled")}:1.0`, { raw: true }), raw);
  });

  it("answers 404 on B for a manifest deleted on A", async () => {
    const image = await pushImage(a, "scale/deleted", "gone");
    assert.equal((await b.fetch(`/v2/scale/deleted/manifests/${image.digest}`, { method: "HEAD", headers: { Accept: image.mediaType } })).status, 200);
    assert.equal((await a.fetch(`/v2/scale/deleted/manifests/${image.digest}`, { method: "DELETE" })).status, 202);
    assert.equal((await b.fetch(`/v2/scale/deleted/manifests/${image.digest}`, { method: "HEAD", headers: { Accept: image.mediaType } })).status, 404);
    assert.equal((await b.fetch("/v2/scale/deleted/manifests/gone", { method: "HEAD", headers: { Accept: image.mediaType } })).status, 404);
    const tags = (await (await b.fetch("/v2/scale/deleted/tags/list")).json()) as { tags: string[] | null };
    assert.deepEqual(tags.tags ?? [], []);
  });

  it("switches both to read-only from one instance's console and back from the other's", async () => {
    await bothAnswer(202);
    await trpc(a, "maintenance.setReadOnly", { enabled: true, reason: "scale-out test" }, true);
    await bothAnswer(405);
    assert.equal((await b.fetch("/v2/scale/listed/tags/list")).status, 200, "reads keep working");
    const status = (await trpc(b, "maintenance.readOnly")) as { readOnly: boolean; shared: boolean; flag: { reason: string } };
    assert.equal(status.readOnly, true);
    assert.equal(status.shared, true);
    assert.equal(status.flag.reason, "scale-out test");
    await trpc(b, "maintenance.setReadOnly", { enabled: false }, true);
    await bothAnswer(202);
  });

  it("runs one garbage collection at a time across instances, both read-only meanwhile when asked", async () => {
    // A write admitted on A before the collection holds it in "waiting-for-writes", with the lock
    // taken and the flag set, for as long as this request body stays open.
    const upload = await a.fetch("/v2/scale/held/blobs/uploads/", { method: "POST" });
    assert.equal(upload.status, 202);
    const held = new URL(pathOf(upload.headers.get("location")), a.url);
    const request = http.request(held, { method: "PATCH", headers: { "Content-Type": "application/octet-stream" } });
    const answered = new Promise<number>((resolve, reject) => {
      request.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      request.on("error", reject);
    });
    request.write(randomBytes(1_000));
    const before = ((await trpc(b, "maintenance.gcHistory", { limit: 100 })) as unknown[]).length;

    assert.deepEqual(await trpc(a, "maintenance.runGc", { dryRun: false, deleteUntagged: false, readOnly: true }, true), { started: true });
    await bothAnswer(405);
    const running = (await trpc(a, "maintenance.gcStatus")) as { running: { phase: string } | null };
    assert.equal(running.running?.phase, "waiting-for-writes");
    const flag = ((await trpc(b, "maintenance.readOnly")) as { flag: { owner: string } }).flag;
    assert.match(flag.owner, /^garbage collection by admin/);

    // B's collection cannot take the lock etcd holds for A's: B's console is told so (409).
    const refused = await b.fetch("/api/trpc/maintenance.runGc", {
      method: "POST",
      headers: { "Content-Type": "application/json", Cookie: cookie },
      body: JSON.stringify({ dryRun: true, deleteUntagged: false }),
    });
    const refusal = await refused.text();
    assert.equal(refused.status, 409, refusal);
    assert.match(refusal, /already running \(admin on /);

    request.end(randomBytes(1_000));
    assert.equal(await answered, 202, "the admitted write completes");
    await bothAnswer(202);
    const history = (await trpc(b, "maintenance.gcHistory", { limit: 100 })) as { status: string; user: string }[];
    assert.equal(history.length, before + 1, "one run recorded, A's; B's never got the lock");
    assert.equal(history[0]?.status, "succeeded");
  });
});
