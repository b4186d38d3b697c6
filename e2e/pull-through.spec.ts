import { existsSync } from "node:fs";
import { join } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { startDistribution, type DistributionRegistry } from "../test/support/distribution";
import { makeImageLayout } from "../test/support/images";
import { skopeoCopy } from "../test/support/skopeo";
import { logIn, startBerth, type BerthProcess } from "./berth";

/*
 * The pull-through cache in the console: a real upstream (Debian's docker-registry) mirrored under
 * `hub/`, an image pulled through Berth with skopeo, then the catalog's badge, the image's cache
 * card with eviction, and the overview's card for the upstream.
 */

test.describe.configure({ mode: "serial" });
test.use({ viewport: { width: 1280, height: 800 } });

let upstream: DistributionRegistry;
let berth: BerthProcess;
let manifestDigest: string;

test.beforeAll(async () => {
  upstream = await startDistribution();
  berth = await startBerth({ config: () => ({ top: ["mirrors:", "  - prefix: hub", `    remoteurl: ${upstream.url}`, "    ttl: 72h"] }) });
  const image = await makeImageLayout(join(berth.dir, "image"), { layers: [4096, 100_000], seed: "e2e-pull-through" });
  manifestDigest = image.manifestDigest;
  await skopeoCopy(image.ref, `docker://${upstream.host}/library/app:1.0`);
  // Twice: the first pull fetches from the upstream, the second is served from the cache.
  for (const copy of ["first", "second"]) await skopeoCopy(`docker://${berth.host}/hub/library/app:1.0`, `oci:${join(berth.dir, copy)}:pulled`);
});

/** Logs in and waits for the session, so the next navigation is not undone by the login's redirect. */
async function logInAsAdmin(page: Page): Promise<void> {
  await logIn(page, berth.url);
  await expect(page.getByTestId("current-user")).toHaveText("admin");
}

test.afterAll(async () => {
  await berth?.stop();
  await upstream?.stop();
});

test("the overview shows the upstream's hit rate, bytes and errors", async ({ page }) => {
  await logInAsAdmin(page);
  const card = page.getByTestId("mirror-hub");
  await expect(card).toContainText(upstream.url);
  await expect(card.getByTestId("mirror-hit-rate")).toHaveText(/^[1-9]\d*%$/);
  await expect(card.getByTestId("mirror-upstream-errors")).toHaveText("0");
  await expect(card).toContainText("expire after 72 h");
});

test("the catalog marks the cached repository with its upstream", async ({ page }) => {
  await logInAsAdmin(page);
  await page.goto(`${berth.url}/repositories`);
  const row = page.getByTestId("repositories-table").getByRole("row").filter({ hasText: "hub/library/app" });
  await expect(row.getByTestId("cached-badge")).toHaveText(`cache · ${upstream.host}`);
});

test("the image page says where the image is cached from, and an admin evicts it", async ({ page }) => {
  await logInAsAdmin(page);
  await page.goto(`${berth.url}/repositories/hub/library/app/-/manifests/1.0`);
  await expect(page.getByTestId("cached-from")).toHaveText(upstream.url);
  await expect(page.locator("#cache")).toContainText("unless pulled again");
  await page.getByTestId("evict").click();
  await expect(page.getByRole("dialog")).toContainText("the next pull fetches it from");
  await page.getByTestId("confirm-evict").click();
  await expect(page.getByTestId("repository-name")).toHaveText("hub/library/app");
  const [algorithm, hex] = manifestDigest.split(":") as [string, string];
  const revision = join(berth.dataDir, "docker/registry/v2/repositories/hub/library/app/_manifests/revisions", algorithm, hex, "link");
  expect(existsSync(revision), "the cached manifest is gone from storage").toBe(false);
});
