/**
 * docs/backup-restore.md, run: an online backup of a running Berth while a push goes on, a
 * read-only backup through etcd, and a restore of the online one into an empty root, checked with
 * the page's commands and by pulling every tag the restored registry lists. Two Berth starts: on
 * this shared machine each costs 6-15 s.
 */
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { requireCommands } from "../support/commands.js";
import { cephCommands, startCeph, type RunningCeph } from "../support/ceph.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { skopeoCopy, skopeoListTags } from "../support/skopeo.js";
import { makeLayout, openPage, type DocPage } from "./harness.js";

let page: DocPage;
let etcd: RunningEtcd | undefined;
let ceph: RunningCeph | undefined;

before(async () => {
  requireCommands("skopeo", "curl", "rsync", "etcd", "rclone", ...cephCommands);
  page = await openPage("backup-restore.md");
});
after(async () => {
  await page?.close();
  await Promise.all([etcd?.stop(), ceph?.stop()]);
});

async function writeConfig(name: string, data: string, extra: string[] = [], storage = ["  filesystem:", `    rootdirectory: ${data}`]): Promise<string> {
  const file = join(page.dir, `${name}.yml`);
  const yaml = ["version: 0.1", "log:", "  level: warn", "storage:", ...storage, "  delete:", "    enabled: true"];
  yaml.push("http:", "  addr: 127.0.0.1:5000", "console:", `  statedir: ${data}-state`, ...extra, "");
  await writeFile(file, yaml.join("\n"));
  return file;
}

const at = (port: number) => ({ REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` });

test("backups of a running Berth: online while a push goes on, then read-only through etcd; the online one restores into a registry whose every tag pulls", { timeout: 180_000 }, async () => {
  etcd = await startEtcd();
  const data = join(page.dir, "data");
  const config = await writeConfig("config", data, ["etcd:", `  endpoints: [${etcd.endpoint}]`]);
  Object.assign(page.env, { CONFIG: config, DATA: data });
  await makeLayout(join(page.dir, "small"), "1.0");
  await makeLayout(join(page.dir, "large"), "2.0", 16_384);
  const berth = await page.serve("serve", at);
  await skopeoCopy(`oci:${join(page.dir, "small")}:1.0`, `docker://${berth.host}/team/app:1.0`);

  const online = join(page.dir, "online-backup");
  const push = skopeoCopy(`oci:${join(page.dir, "large")}:2.0`, `docker://${berth.host}/team/app:2.0`);
  await page.run("backup-online", { BACKUP: online });
  await push;

  const readOnly = join(page.dir, "ro-backup");
  const result = await page.run("backup-readonly", { BACKUP: readOnly });
  assert.match(result.stdout + result.stderr, /read-only/i);
  // The flag is off again: pushes are accepted.
  await skopeoCopy(`oci:${join(page.dir, "small")}:1.0`, `docker://${berth.host}/team/app:after`);
  await berth.stop();
  // The read-only copy holds both tags, each naming a manifest whose blob it has.
  const v2 = join(readOnly, "docker", "registry", "v2");
  for (const tag of ["1.0", "2.0"]) {
    const digest = await readFile(join(v2, "repositories", "team", "app", "_manifests", "tags", tag, "current", "link"), "utf8");
    const hex = digest.replace("sha256:", "");
    assert.ok((await stat(join(v2, "blobs", "sha256", hex.slice(0, 2), hex, "data"))).size > 0, `${tag} → ${digest}`);
  }

  // The online copy: restored with the page's commands into an empty root, served, checked.
  const restored = join(page.dir, "restored");
  const restoredConfig = await writeConfig("restored", restored);
  await page.run("restore", { BACKUP: online, DATA: restored });
  const again = await page.serve("serve", (port) => ({ ...at(port), CONFIG: restoredConfig }));
  const verified = await page.run("verify", { CONFIG: restoredConfig, REGISTRY: again.host });
  assert.match(verified.stdout, /"repositories":\["team\/app"\]/);
  assert.doesNotMatch(verified.stdout + verified.stderr, /content is missing/);
  const tags = await skopeoListTags(`docker://${again.host}/team/app`);
  assert.ok(tags.includes("1.0"), `restored tags: ${tags.join(", ")}`);
  for (const tag of tags) await skopeoCopy(`docker://${again.host}/team/app:${tag}`, `oci:${join(page.dir, "pulled")}:${tag}`);
  await again.stop();
});

test("an S3 bucket copied with the page's rclone lines is a filesystem registry Berth serves, every tag pulling", { timeout: 150_000 }, async () => {
  ceph = await startCeph();
  const bucket = await ceph.createBucket();
  const s3 = { region: ceph.region, bucket, regionendpoint: ceph.endpoint, accesskey: ceph.accessKey, secretkey: ceph.secretKey, rootdirectory: "/registry" };
  const config = await writeConfig("s3", join(page.dir, "s3"), [], [`  s3: ${JSON.stringify(s3)}`]);
  await makeLayout(join(page.dir, "s3-image"), "1.0");
  const berth = await page.serve("serve", (port) => ({ ...at(port), CONFIG: config }));
  await skopeoCopy(`oci:${join(page.dir, "s3-image")}:1.0`, `docker://${berth.host}/team/app:1.0`);
  const backup = join(page.dir, "s3-backup");
  await page.run("s3-backup", {
    BACKUP: backup,
    S3_ENDPOINT: ceph.endpoint,
    S3_REGION: ceph.region,
    S3_ACCESS_KEY: ceph.accessKey,
    S3_SECRET_KEY: ceph.secretKey,
    S3_ROOT: `${bucket}/registry`,
  });
  await berth.stop();

  const copyConfig = await writeConfig("s3-copy", backup);
  const copy = await page.serve("serve", (port) => ({ ...at(port), CONFIG: copyConfig }));
  const verified = await page.run("verify", { CONFIG: copyConfig, REGISTRY: copy.host });
  assert.match(verified.stdout, /would delete 0 manifests, 0 blobs/);
  assert.match(verified.stdout, /"repositories":\["team\/app"\]/);
  await copy.stop();
});
