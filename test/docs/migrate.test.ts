/**
 * docs/migrate-from-distribution.md, run: a registry written by Debian's docker-registry (its own
 * config.yml, its own storage root), copied with the page's rsync line while it runs and again
 * after it stopped, served by Berth from the page's commands, then by docker-registry again with
 * what Berth pushed. One Berth start: on this shared machine each costs 6-15 s.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { requireCommands } from "../support/commands.js";
import { skopeoCopy, skopeoInspect } from "../support/skopeo.js";
import { makeLayout, openPage, type DocPage } from "./harness.js";

let page: DocPage;

before(async () => {
  requireCommands("docker-registry", "skopeo", "curl", "rsync");
  page = await openPage("migrate-from-distribution.md");
});
after(() => page?.close());

/** distribution's config.yml as an operator has it, plus a Berth key distribution must ignore. */
async function writeConfig(file: string, data: string): Promise<void> {
  const yaml = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${data}`,
    "  delete:",
    "    enabled: true",
    "http:",
    "  addr: 127.0.0.1:5000",
    "console:",
    `  statedir: ${data}-berth-state`,
    "",
  ];
  await writeFile(file, yaml.join("\n"));
}

test("a registry of distribution's, copied while it runs, is served by Berth from the same config.yml; distribution serves what Berth pushed", { timeout: 180_000 }, async () => {
  const data = join(page.dir, "registry");
  const copy = join(page.dir, "copy");
  const config = join(page.dir, "config.yml");
  const copyConfig = join(page.dir, "copy.yml");
  await writeConfig(config, data);
  await writeConfig(copyConfig, copy);
  Object.assign(page.env, { CONFIG: config, DATA: data, NEW_DATA: copy });
  const at = (port: number) => ({ REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` });

  // The existing installation: an image pushed through distribution.
  const layout = join(page.dir, "app-oci");
  const digest = await makeLayout(layout, "1.0");
  const distribution = await page.serve("serve-distribution", at);
  await skopeoCopy(`oci:${layout}:1.0`, `docker://${distribution.host}/team/app:1.0`);
  // The first copy runs while distribution serves; the second, after it stopped, is short.
  await page.run("copy");
  await distribution.stop();
  await page.run("copy");

  // Berth on the copy, with distribution's config.yml (rootdirectory changed).
  Object.assign(page.env, { CONFIG: copyConfig });
  await page.run("validate");
  const berth = await page.serve("serve", at);
  const verified = await page.run("verify", { REGISTRY: berth.host });
  assert.match(verified.stdout, /"repositories":\["team\/app"\]/);
  assert.match(verified.stdout, new RegExp(`"Digest": "${digest}"`));
  // The dry run walked distribution's tree and found nothing to delete.
  assert.match(verified.stdout, /would delete 0 manifests, 0 blobs/);
  // A push through Berth, for distribution to serve afterwards.
  await skopeoCopy(`oci:${layout}:1.0`, `docker://${berth.host}/team/app:2.0`);
  await berth.stop();

  const back = await page.serve("serve-distribution", at);
  const inspected = await skopeoInspect(`docker://${back.host}/team/app:2.0`);
  assert.equal(inspected.Digest, digest);
  await skopeoCopy(`docker://${back.host}/team/app:2.0`, `oci:${join(page.dir, "pulled")}:2.0`);
  await back.stop();
});
