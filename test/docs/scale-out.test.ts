/**
 * docs/scale-out.md, run: the page's config.yml on a one-node Ceph radosgw bucket and a real etcd,
 * checked with --connect, served by two processes started from the page's line; a push through
 * one is pulled through the other, and read-only maintenance switched with the page's commands
 * reaches both.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cephCommands, startCeph, type RunningCeph } from "../support/ceph.js";
import { requireCommands } from "../support/commands.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { SkopeoError, skopeoCopy } from "../support/skopeo.js";
import { makeLayout, openPage, type DocPage } from "./harness.js";

let page: DocPage;
let ceph: RunningCeph | undefined;
let etcd: RunningEtcd | undefined;

before(async () => {
  requireCommands(...cephCommands, "etcd", "skopeo", "openssl");
  page = await openPage("scale-out.md");
});
after(async () => {
  await page?.close();
  await Promise.all([ceph?.stop(), etcd?.stop()]);
});

test("two instances from the page's config share one bucket and one etcd: a push through one pulls through the other, read-only reaches both", { timeout: 150_000 }, async () => {
  [ceph, etcd] = await Promise.all([startCeph(), startEtcd()]);
  Object.assign(page.env, {
    CONFIG: join(page.dir, "config.yml"),
    S3_ENDPOINT: ceph.endpoint,
    S3_REGION: ceph.region,
    BUCKET: await ceph.createBucket(),
    S3_ACCESS_KEY: ceph.accessKey,
    S3_SECRET_KEY: ceph.secretKey,
    ETCD: etcd.endpoint,
    HTTP_SECRET: "docs-scale-out-secret",
  });
  await page.run("config");
  await page.run("validate");
  const instance = (name: string) => (port: number) => ({
    REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
    REGISTRY_CONSOLE_STATEDIR: join(page.dir, `state-${name}`),
  });
  const [a, b] = await Promise.all([page.serve("serve", instance("a")), page.serve("serve", instance("b"))]);
  Object.assign(page.env, { INSTANCE_A: a.host, INSTANCE_B: b.host });
  const layout = join(page.dir, "app-oci");
  const digest = await makeLayout(layout, "1.0");
  const checked = await page.run("check");
  assert.match(checked.stdout, new RegExp(`"Digest": "${digest}"`));

  await page.run("readonly-on");
  // Both instances refuse pushes now: the flag reached them through etcd.
  for (const host of [a.host, b.host]) {
    await assert.rejects(skopeoCopy(`oci:${layout}:1.0`, `docker://${host}/team/app:ro`), (error: unknown) => {
      assert.ok(error instanceof SkopeoError, String(error));
      assert.match(error.message, /read-only|405|not allowed/i);
      return true;
    });
  }
  const off = await page.run("readonly-off");
  assert.match(off.stdout, /would delete 0 manifests, 0 blobs/);
  await skopeoCopy(`oci:${layout}:1.0`, `docker://${b.host}/team/app:after`);
});
