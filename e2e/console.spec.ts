import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { authKey, holdWrite, httpSecret, shot, signIn, useConsoleRegistry } from "./console-setup";

/*
 * The console against a real Berth (built `berth serve`), real images pushed by skopeo and a real
 * etcd: every page of issue 7, in order, sharing one registry. With BERTH_SCREENSHOTS=1 each page
 * is also saved to docs/screenshots/ (`BERTH_SCREENSHOTS=1 npx playwright test`).
 */

const registry = useConsoleRegistry({ width: 1280, height: 800 });

test("log in and see the dashboard: health, counts, storage, largest repositories, activity", async ({ page }) => {
  await page.goto(registry.berth.url + "/login");
  await shot(page, "login");
  await signIn(page, registry.berth);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await expect(page.getByTestId("registry-host")).toHaveText(registry.berth.host);
  await expect(page.getByTestId("health-status")).toHaveText("ok");
  // 30 + demo/app, demo/multi, demo/shared, cleanup/app
  // The metadata index follows the pushes' events in the background.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("stat-repositories")).toHaveText("34", { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("largest-repositories").getByRole("listitem")).toHaveCount(10);
  await expect(page.getByTestId("activity-list").getByRole("listitem").first()).toContainText("pushed");
  await shot(page, "dashboard");

  // Dark mode: the toggle cycles Auto → Light → Dark.
  await page.getByTestId("theme-toggle").click();
  await page.getByTestId("theme-toggle").click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await shot(page, "dashboard-dark");
  await page.getByTestId("theme-toggle").click();
});

test("find a repository by search among many, filter by namespace, page", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Repositories", exact: true }).click();
  const table = page.getByTestId("repositories-table");
  await expect(table.getByRole("row")).toHaveCount(35); // header + 34
  await page.getByTestId("repository-search").fill("service-17");
  await expect(table.getByRole("row")).toHaveCount(2);
  await expect(table.getByRole("link", { name: "ns1/service-17" })).toBeVisible();
  await expect(page).toHaveURL(/q=service-17/);

  await page.getByTestId("repository-search").fill("");
  await page.getByLabel("Namespace").selectOption("ns2");
  await expect(table.getByRole("row")).toHaveCount(11);
  await page.getByLabel("Namespace").selectOption("*");
  await page.getByTestId("repository-search").fill("service");
  await expect(page.getByTestId("pager-range")).toHaveText("1–30 of 30");
  await page.getByTestId("repository-search").fill("");
  await expect(table.getByRole("row")).toHaveCount(35);
  await shot(page, "repositories");

  await page.getByTestId("repository-search").fill("service-17");
  await expect(table.getByRole("row")).toHaveCount(2);
  await table.getByRole("link", { name: "ns1/service-17" }).click();
  await expect(page.getByTestId("repository-name")).toHaveText("ns1/service-17");
});

test("sort tags by created, filter, copy the pull command with the real host", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/app");
  const rows = page.getByTestId("tag-row");
  await expect(rows).toHaveCount(6);
  await page.getByTestId("tag-sort").selectOption("created:desc");
  await expect(page).toHaveURL(/sort=created&order=desc/);
  await expect(async () => {
    const created = (await page.getByTestId("tag-created").evaluateAll((cells) => cells.map((cell) => Number(cell.getAttribute("data-created"))))) as number[];
    expect(created).toHaveLength(6);
    expect(created).toEqual([...created].sort((a, b) => b - a));
  }).toPass();
  await page.getByTestId("tag-sort").selectOption("created:asc");
  await expect(async () => {
    const created = (await page.getByTestId("tag-created").evaluateAll((cells) => cells.map((cell) => Number(cell.getAttribute("data-created"))))) as number[];
    expect(created).toEqual([...created].sort((a, b) => a - b));
  }).toPass();

  await page.getByTestId("tag-filter").fill("t3");
  await expect(rows).toHaveCount(1);
  await page.getByTestId("tag-filter").fill("");
  await expect(rows).toHaveCount(6);
  await expect(page.getByText(`docker pull ${registry.berth.host}/demo/app:`).first()).toBeVisible();
  await shot(page, "repository");
});

test("open an image: layers with sizes, config, history, raw JSON; an index has platform tabs", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/app");
  await page.getByTestId("tag-row").filter({ hasText: "t2" }).getByTestId("tag-link").click();
  await expect(page).toHaveURL(/\/repositories\/demo\/app\/-\/manifests\/t2$/);
  const layers = page.getByTestId("layers-table").locator("tbody tr");
  await expect(layers).toHaveCount(2);
  const expected = registry.images["app-2"]?.manifests[0]?.layers ?? [];
  await expect(page.getByTestId("layers-table")).toContainText(expected[0]?.digest.slice(0, 19) ?? "missing");
  await expect(page.getByTestId("history-list").getByRole("listitem")).toHaveCount(2);
  await expect(page.getByTestId("history-list")).toContainText("berth make-test-image: layer 0");
  await expect(page.getByTestId("config-env")).toContainText("BERTH_TEST_SEED=app-2");
  await page.getByText(/Show JSON/).click();
  await expect(page.getByTestId("raw-json")).toContainText('"schemaVersion": 2');
  await shot(page, "image");

  await page.goto(registry.berth.url + "/repositories/demo/multi/-/manifests/v1");
  const tabs = page.getByRole("tab");
  await expect(tabs).toHaveCount(2);
  await expect(tabs.first()).toHaveText("linux/amd64");
  await tabs.first().focus();
  await page.keyboard.press("ArrowRight");
  await expect(page.getByRole("tab", { name: "linux/arm64/v8" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByRole("tabpanel").getByTestId("config-env")).toContainText("BERTH_TEST_SEED=multi");
  await shot(page, "image-index");
});

test("delete a digest shared by two tags: the dialog lists both, deleting the manifest removes both", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.goto(registry.berth.url + "/repositories/demo/shared");
  const rows = page.getByTestId("tag-row");
  await expect(rows).toHaveCount(3);
  await page.getByRole("button", { name: "Delete one" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("shared-tag")).toHaveText(["one", "two"]);
  await expect(dialog.getByText("Delete this tag only")).toBeVisible();
  await dialog.getByText("Delete the manifest (all 2 tags)").click();
  await expect(dialog.getByTestId("extra-tags-warning")).toContainText("two");
  await shot(page, "delete-dialog");
  await dialog.getByTestId("confirm-delete").click();
  await expect(dialog).toBeHidden();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-tag", "three");

  // Bulk: select every tag of a repository, delete the tags only.
  await page.goto(registry.berth.url + "/repositories/ns0/service-01");
  await page.getByLabel("Select every tag on this page").check();
  await page.getByTestId("bulk-delete").click();
  await expect(page.getByRole("dialog").getByTestId("shared-tag")).toHaveText(["v1"]);
  await page.getByRole("dialog").getByTestId("confirm-delete").click();
  await expect(page.getByText("This repository has no tags.")).toBeVisible();
});

test("preview and apply a cleanup rule", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Cleanup", exact: true }).click();
  await page.getByLabel("Rule 1 repositories").fill("cleanup/*");
  await page.getByLabel("Rule 1 keep last").fill("2");
  await page.getByTestId("preview-cleanup").click();
  const preview = page.getByTestId("cleanup-preview");
  await expect(preview.locator("tbody tr")).toHaveCount(3);
  await expect(preview).toContainText("c1");
  await expect(preview).toContainText("c3");
  await expect(preview).not.toContainText("c5");
  await page.getByLabel("Deletions only").uncheck();
  await expect(preview.locator("tbody tr")).toHaveCount(5);
  await expect(preview.locator('tr[data-action="keep"]')).toHaveCount(2);
  // Just pushed: nothing is freed by a collection with the configured grace (gc.grace, 10 min), and the summary says so.
  await expect(page.getByTestId("cleanup-summary")).toContainText(/0 B\s*freed by the next GC \(grace period 10 min\), .+ more once it has passed/);
  await shot(page, "cleanup");
  await page.getByTestId("apply-cleanup").click();
  await page.getByTestId("confirm-cleanup").click();
  await expect(page.getByTestId("cleanup-result")).toContainText("3 manifests deleted");
  await expect(page.getByTestId("cleanup-frees")).toContainText("with a grace period of 10 min (gc.grace) run now frees 0 B");
  await page.goto(registry.berth.url + "/repositories/cleanup/app");
  await expect(page.getByTestId("tag-row")).toHaveCount(2);
  await expect(page.getByTestId("tag-row").first()).toHaveAttribute("data-tag", /c[45]/);
});

test("save a cleanup policy, load it into the editor, run it, delete it", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Cleanup", exact: true }).click();
  await expect(page.getByText("No saved policies.")).toBeVisible();
  await page.getByLabel("Rule 1 repositories").fill("cleanup/*");
  await page.getByLabel("Rule 1 keep last").fill("1");
  await page.getByLabel("Policy name").fill("keep newest");
  await page.getByLabel("Collect garbage after").uncheck();
  await page.getByLabel("Run every hours").fill("24");
  await page.getByTestId("save-policy").click();
  const policy = page.getByTestId("cleanup-policy");
  await expect(policy).toHaveCount(1);
  await expect(policy).toContainText("cleanup/*: keep last 1");
  await expect(policy).toContainText("every 24 hours");
  await expect(policy).toContainText("no GC");
  await expect(policy.getByTestId("policy-last-run")).toHaveText("never");

  // Saved in the registry's storage, not in the page.
  await page.reload();
  await expect(policy).toHaveCount(1);
  await expect(page.getByLabel("Rule 1 repositories")).toHaveValue("**");
  await page.getByRole("button", { name: "Load keep newest into the editor" }).click();
  await expect(page.getByLabel("Rule 1 repositories")).toHaveValue("cleanup/*");
  await expect(page.getByLabel("Rule 1 keep last")).toHaveValue("1");

  // cleanup/app has two tags left from the previous test: the policy keeps the newest.
  await page.getByRole("button", { name: "Run keep newest" }).click();
  await page.getByTestId("confirm-run-policy").click();
  await expect(page.getByTestId("policy-result")).toContainText("1 manifest deleted");
  await expect(policy.getByTestId("policy-last-run")).toContainText("ok");
  await expect(policy.getByTestId("policy-last-run")).toContainText("1 manifests deleted");
  await shot(page, "cleanup-policies");
  await page.goto(registry.berth.url + "/repositories/cleanup/app");
  await expect(page.getByTestId("tag-row")).toHaveCount(1);

  await page.goto(registry.berth.url + "/cleanup");
  await page.getByRole("button", { name: "Delete keep newest" }).click();
  await page.getByTestId("confirm-delete-policy").click();
  await expect(page.getByText("No saved policies.")).toBeVisible();
  await expect(policy).toHaveCount(0);
});

test("run garbage collection: banner on every page, live progress, the report and the history", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Garbage collection", exact: true }).click();

  // The grace period is the configured one (gc.grace) until changed for a run.
  await expect(page.getByTestId("gc-grace")).toHaveValue("10");
  await expect(page.getByTestId("gc-grace-help")).toContainText("Configured (gc.grace): 10 min");
  await page.getByTestId("gc-dry-run").click();
  await expect(page.getByTestId("gc-report")).toContainText("dry run", { timeout: 15_000 });
  await expect(page.getByTestId("gc-grace-used")).toHaveText("10 min");
  await expect(page.getByTestId("gc-history").locator("tbody tr")).toHaveCount(1);
  await page.getByTestId("gc-grace").fill("0");

  const write = await holdWrite(registry.berth);
  // Runs are online unless held read-only, which deleting untagged manifests always is.
  await expect(page.getByTestId("gc-read-only")).not.toBeChecked();
  await page.getByTestId("gc-delete-untagged").check();
  await expect(page.getByTestId("gc-read-only")).toBeChecked();
  await expect(page.getByTestId("gc-read-only")).toBeDisabled();
  await page.getByTestId("gc-run").click();
  await page.getByTestId("gc-confirm").click();
  const banner = page.getByTestId("maintenance-banner");
  await expect(banner).toContainText("Read-only: garbage collection by admin is running");
  await expect(page.getByTestId("gc-progress")).toBeVisible();
  await expect(page.getByTestId("gc-phase")).toContainText("waiting for writes");
  await shot(page, "gc-running");
  // The banner is on every page while it runs; pushes are refused.
  await page.getByRole("link", { name: "Repositories", exact: true }).click();
  await expect(banner).toBeVisible();
  const refused = await fetch(`${registry.berth.url}/v2/refused/blobs/uploads/`, { method: "POST" });
  expect(refused.status).toBe(405);
  await page.getByRole("link", { name: "Garbage collection", exact: true }).click();

  expect(await write.release()).toBe(202);
  await expect(page.getByTestId("gc-progress")).toBeHidden({ timeout: 20_000 });
  await expect(banner).toBeHidden();
  const report = page.getByTestId("gc-report");
  await expect(report).toContainText("succeeded");
  await expect(report).not.toContainText("dry run");
  await expect(report).toContainText("Manifests deleted");
  await expect(page.getByTestId("gc-grace-used")).toHaveText("none");
  await expect(page.getByTestId("gc-kept-grace")).toContainText("0 blobs");
  await expect(page.getByTestId("gc-history").locator("tbody tr")).toHaveCount(2);
  await shot(page, "gc");
});

test("configuration: secrets redacted, a broken value marked at its line, diff, apply keeps the secret", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Configuration", exact: true }).click();
  const editor = page.getByTestId("config-editor");
  await expect(editor.locator(".cm-content")).toContainText('secret: "[redacted:http.secret]"');
  await expect(editor).not.toContainText(httpSecret);

  const original = await readFile(registry.berth.configFile, "utf8");
  const levelLine = original.split("\n").findIndex((line) => line.trim() === "level: warn") + 1;
  expect(levelLine).toBeGreaterThan(0);

  // Break it: log.level "loud".
  const line = editor.locator(".cm-line").filter({ hasText: "level: warn" });
  await line.click();
  await page.keyboard.press("End");
  for (let i = 0; i < 4; i++) await page.keyboard.press("Backspace");
  await page.keyboard.type("loud");
  await page.getByTestId("config-validate").click();
  const problem = page.getByTestId("config-problem").first();
  await expect(problem).toHaveAttribute("data-line", String(levelLine));
  await expect(problem).toContainText("log.level");
  await expect(problem).toContainText(`line ${levelLine}`);
  await expect(editor.locator(".cm-lintRange-error")).toHaveCount(1);
  await expect(editor.locator(".cm-lintRange-error")).toHaveText("loud");
  await expect(editor.locator(".cm-gutter-lint .cm-lint-marker-error")).toHaveCount(1);
  await shot(page, "config-error");
  await page.getByTestId("config-apply").click();
  await page.getByTestId("config-confirm-apply").click();
  await expect(page.getByText("Not applied: the configuration has problems")).toBeVisible();
  expect(await readFile(registry.berth.configFile, "utf8")).toBe(original);

  // Fix it differently: "info"; the diff shows the one line; apply.
  await editor.locator(".cm-line").filter({ hasText: "level: loud" }).click();
  await page.keyboard.press("End");
  for (let i = 0; i < 4; i++) await page.keyboard.press("Backspace");
  await page.keyboard.type("info");
  await expect(editor.locator(".cm-line").filter({ hasText: "level: info" })).toHaveCount(1);
  await page.getByTestId("config-validate").click();
  await expect(page.getByTestId("config-valid")).toBeVisible();
  await page.getByTestId("config-diff").click();
  const diff = page.getByTestId("config-diff-output");
  await expect(diff).toContainText("-  level: warn");
  await expect(diff).toContainText("+  level: info");
  await expect(diff).not.toContainText(httpSecret);
  await shot(page, "config");
  await page.getByTestId("config-apply").click();
  await page.getByTestId("config-confirm-apply").click();
  await expect(page.getByTestId("config-apply-result")).toContainText("Written and reloaded");
  await expect(page.getByTestId("config-apply-result")).toContainText("No restart needed");
  const written = await readFile(registry.berth.configFile, "utf8");
  expect(written).toBe(original.replace("level: warn", "level: info"));
  expect(written).toContain(`secret: ${httpSecret}`);

  // Dark mode follows prefers-color-scheme while the theme is "Auto".
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.getByTestId("config-diff").click();
  await shot(page, "config-dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("auth: toggling token auth writes and deletes the etcd key", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Auth", exact: true }).click();
  await expect(page.getByTestId("auth-key-state")).toHaveText("Token auth is OFF");
  await expect(page.getByTestId("auth-mode")).toHaveText("none");
  await expect(page.getByTestId("token-users").getByRole("listitem")).toHaveText(["alice (admin)", "bob", "ci-builder"]);
  await expect(page.getByTestId("token-rules").locator("tbody tr")).toHaveCount(2);
  expect(await registry.etcdClient.get(authKey).string()).toBeNull();

  await page.getByTestId("auth-toggle").click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("textbox", { name: "realm" })).toHaveValue(`${registry.berth.url}/api/v1/authorize/registry/`);
  await dialog.getByRole("textbox", { name: "service" }).fill("berth-e2e");
  await shot(page, "auth-confirm");
  await dialog.getByTestId("auth-confirm").click();
  await expect(page.getByTestId("auth-key-state")).toHaveText("Token auth is ON");
  const value = JSON.parse((await registry.etcdClient.get(authKey).string()) ?? "null") as Record<string, string>;
  expect(value).toEqual({ realm: `${registry.berth.url}/api/v1/authorize/registry/`, issuer: "auth server", service: "berth-e2e" });
  await expect(page.getByTestId("auth-mode")).toHaveText("token");
  await expect(page.getByTestId("auth-source")).toHaveText("the etcd key");
  const challenged = await fetch(`${registry.berth.url}/v2/`);
  expect(challenged.status).toBe(401);
  expect(challenged.headers.get("www-authenticate")).toContain('service="berth-e2e"');
  await shot(page, "auth");

  await page.getByTestId("auth-toggle").click();
  await page.getByRole("dialog").getByTestId("auth-confirm").click();
  await expect(page.getByTestId("auth-key-state")).toHaveText("Token auth is OFF");
  expect(await registry.etcdClient.get(authKey).string()).toBeNull();
  await expect(page.getByTestId("auth-mode")).toHaveText("none");
  expect((await fetch(`${registry.berth.url}/v2/`)).status).toBe(200);
});

test("activity: who did what — config apply, auth toggles, GC runs, deletes, pushes", async ({ page }) => {
  await signIn(page, registry.berth);
  await page.getByRole("link", { name: "Activity", exact: true }).click();
  const list = page.getByTestId("activity-list");
  await expect(list).toContainText("admin switched registry token auth off");
  await expect(list).toContainText("admin switched registry token auth on");
  await expect(list).toContainText("admin applied");
  await expect(list).toContainText("admin ran garbage collection");
  await expect(list).toContainText("deleted manifest");
  await page.getByRole("button", { name: "Configuration" }).click();
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await page.getByRole("button", { name: "Everything" }).click();
  await shot(page, "activity");
});
