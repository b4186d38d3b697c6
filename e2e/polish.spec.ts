import { expect, test, type Page } from "@playwright/test";
import { authKey, signIn, useConsoleRegistry } from "./console-setup";

/*
 * Issue 22's polish, as a new user on a phone meets it: every page fits 390 px, the icon loads,
 * tabs are titled, counts are singular when they are one, unknown repositories say so, the
 * search finds tags and digests, the image page offers pull commands, the auth page names the
 * token server.
 */

const registry = useConsoleRegistry({ width: 390, height: 844 });

/** Waits until the index has seen every push (it follows events in the background). */
async function indexed(page: Page): Promise<void> {
  await expect(async () => {
    await page.goto(registry.berth.url + "/repositories/demo/shared");
    await expect(page.getByTestId("tag-row")).toHaveCount(3, { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
}

const widthOf = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

test("every page fits a 390 px screen, with the navigation in one row", async ({ page }) => {
  await signIn(page, registry.berth);
  await indexed(page);
  const digest = registry.images["multi"]!.manifestDigest;
  const pages: [string, string][] = [
    ["/", "Overview"],
    ["/repositories", "Repositories"],
    ["/repositories/demo/app", "demo/app"],
    ["/repositories/demo/app/-/manifests/t1", "demo/app"],
    [`/repositories/demo/multi/-/manifests/${encodeURIComponent(digest)}`, "demo/multi"],
    ["/cleanup", "Cleanup"],
    ["/gc", "Garbage collection"],
    ["/config", "Configuration"],
    ["/auth", "Registry auth"],
    ["/activity", "Activity"],
    ["/repositories/no/such-repository", "Repository not found"],
  ];
  for (const [path, heading] of pages) {
    await page.goto(registry.berth.url + path);
    await expect(page.getByRole("heading", { level: 1 })).toContainText(heading);
    await page.waitForLoadState("networkidle");
    expect(await widthOf(page), `${path} is wider than the screen`).toBeLessThanOrEqual(390);
  }
  // The navigation is one row that scrolls sideways, not three wrapped rows.
  const items = page.getByRole("navigation", { name: "Main" }).getByRole("listitem");
  const tops = await items.evaluateAll((nodes) => new Set(nodes.map((node) => Math.round(node.getBoundingClientRect().top))).size);
  expect(tops).toBe(1);
});

test("the icons answer without a session and the page links them", async ({ page, request }) => {
  const icon = await request.get(registry.berth.url + "/icon.svg", { maxRedirects: 0 });
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
  const apple = await request.get(registry.berth.url + "/apple-touch-icon.png", { maxRedirects: 0 });
  expect(apple.status()).toBe(200);
  expect(apple.headers()["content-type"]).toContain("image/png");
  await page.goto(registry.berth.url + "/login");
  await expect(page.locator('link[rel="icon"]')).toHaveAttribute("href", /\/icon\.svg/);
  await expect(page.locator('link[rel="apple-touch-icon"]')).toHaveAttribute("href", /\/apple-touch-icon\.png/);
});

test("each page has its own title", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/app");
  await expect(page).toHaveTitle("demo/app · Berth");
  await page.goto(registry.berth.url + "/repositories/demo/app/-/manifests/t2");
  await expect(page).toHaveTitle("demo/app:t2 · Berth");
  await page.goto(registry.berth.url + "/gc");
  await expect(page).toHaveTitle("Garbage collection · Berth");
  // A client-side navigation keeps the per-page title too.
  await page.goto(registry.berth.url + "/repositories/demo/shared");
  await page.getByTestId("tag-link").filter({ hasText: "one" }).click();
  await expect(page).toHaveTitle("demo/shared:one · Berth");
});

test("a count of one is singular", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/multi");
  // An index and its two platform manifests.
  await expect(page.getByText(/^1 tag · 3 manifests ·/)).toBeVisible();
  await expect(page.getByText("1 tag in total.")).toBeVisible();
  await page.goto(registry.berth.url + "/repositories/demo/shared");
  await expect(page.getByText(/^3 tags · 2 manifests ·/)).toBeVisible();
});

test("an unknown repository says so, without the tag toolbar", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/no/such-repository");
  await expect(page.getByTestId("repository-not-found")).toContainText("There is no repository named no/such-repository");
  await expect(page.getByTestId("tag-filter")).toHaveCount(0);
  await expect(page.getByTestId("bulk-delete")).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Back to repositories" })).toBeVisible();
});

test("the search finds tags, repository:tag and digest prefixes", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories");
  const search = page.getByTestId("repository-search");
  const hits = page.getByTestId("search-hit");

  await search.fill("demo/shared:tw");
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toContainText("demo/shared:two");

  await search.fill("t3");
  await expect(hits.filter({ hasText: "demo/app:t3" })).toHaveCount(1);

  const digest = registry.images["other"]!.manifestDigest;
  await search.fill(digest.slice("sha256:".length, "sha256:".length + 12));
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toContainText("demo/shared");
  await expect(hits.first()).toContainText("three");
  await hits.first().getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/repositories/demo/shared/-/manifests/${encodeURIComponent(digest)}$`));
});

test("the image page offers docker, podman and by-digest pull commands with this host", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/app/-/manifests/t4");
  const commands = page.getByTestId("pull-command");
  await expect(commands).toHaveCount(3);
  const digest = registry.images["app-4"]!.manifestDigest;
  await expect(commands.nth(0).locator("code")).toHaveText(`docker pull ${registry.berth.host}/demo/app:t4`);
  await expect(commands.nth(1).locator("code")).toHaveText(`podman pull ${registry.berth.host}/demo/app:t4`);
  await expect(commands.nth(2).locator("code")).toHaveText(`docker pull ${registry.berth.host}/demo/app@${digest}`);
  await expect(commands.nth(2).getByRole("button")).toHaveAccessibleName(`Copy: docker pull ${registry.berth.host}/demo/app@${digest}`);
});

test("the auth page names the token server behind the realm", async ({ page }) => {
  await signIn(page, registry.berth);
  const settings = (realm: string) => JSON.stringify({ realm, issuer: "auth server", service: registry.berth.host });
  await registry.etcdClient.put(authKey).value(settings(`${registry.berth.url}/api/v1/authorize/registry/`));
  await page.goto(registry.berth.url + "/auth");
  await expect(page.getByTestId("realm-server")).toContainText("Berth's built-in token server", { timeout: 15_000 });
  await registry.etcdClient.put(authKey).value(settings("https://auth.example.com/token"));
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("realm-server")).toContainText("external token server", { timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  await registry.etcdClient.delete().key(authKey);
});
