import { join } from "node:path";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { makeImageLayout } from "../test/support/images";
import { skopeoCopy } from "../test/support/skopeo";
import { logIn, startBerth, type BerthProcess } from "./berth";

/*
 * Console roles as people meet them: the admin adds a viewer and a maintainer on the Users page;
 * each then sees only the actions their role allows, and the admin pages answer 403 to them.
 */

test.describe.configure({ mode: "serial" });
test.use({ viewport: { width: 1280, height: 800 } });

let berth: BerthProcess;

test.beforeAll(async () => {
  berth = await startBerth({ config: () => ({ storage: ["delete:", "  enabled: true"] }) });
  const image = await makeImageLayout(join(berth.dir, "image"), { layers: [2048], seed: "e2e-roles" });
  await skopeoCopy(image.ref, `docker://${berth.host}/demo/app:1.0`);
});

test.afterAll(async () => {
  await berth?.stop();
});

async function logInAs(page: Page, user: string, password?: string): Promise<void> {
  await logIn(page, berth.url, password, user);
  await expect(page.getByTestId("current-user")).toHaveText(user);
}

async function asUser(browser: Browser, user: string, password: string, story: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage();
  try {
    await logInAs(page, user, password);
    await story(page);
  } finally {
    await page.close();
  }
}

const nav = (page: Page) => page.getByRole("navigation", { name: "Main" });

test("the admin adds a viewer and a maintainer on the Users page", async ({ page }) => {
  await logInAs(page, "admin");
  await nav(page).getByRole("link", { name: "Users" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  for (const [name, role] of [
    ["vera", "viewer"],
    ["max", "maintainer"],
  ] as const) {
    await page.getByLabel("New user's name").fill(name);
    await page.getByLabel("New user's password").fill(`${name}'s password`);
    await page.getByLabel("New user's role").selectOption(role);
    await page.getByRole("button", { name: "Add user" }).click();
    await expect(page.getByRole("status")).toHaveText(`Added ${name} (${role}).`);
    await expect(page.getByLabel(`Role of ${name}`)).toHaveValue(role);
  }
  await expect(page.getByTestId("user-row")).toHaveCount(3);
});

test("the viewer browses but is offered no delete, GC, config or users", async ({ browser }) => {
  await asUser(browser, "vera", "vera's password", async (page) => {
    await expect(page.getByTestId("current-role")).toHaveText("viewer (read-only)");
    await expect(nav(page).getByRole("link", { name: "Repositories" })).toBeVisible();
    await expect(nav(page).getByRole("link", { name: "Configuration" })).toHaveCount(0);
    await expect(nav(page).getByRole("link", { name: "Users" })).toHaveCount(0);

    await page.goto(berth.url + "/repositories/demo/app");
    await expect(page.getByTestId("tag-row")).toHaveCount(1, { timeout: 15_000 });
    await expect(page.getByTestId("bulk-delete")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Delete 1.0" })).toHaveCount(0);

    await page.goto(berth.url + "/gc");
    await expect(page.getByTestId("needs-role")).toHaveText("Running a garbage collection needs the maintainer role.");
    await expect(page.getByTestId("gc-run")).toHaveCount(0);
    await expect(page.getByTestId("gc-dry-run")).toHaveCount(0);

    for (const path of ["/config", "/users"]) {
      const res = await page.goto(berth.url + path);
      expect(res?.status(), path).toBe(403);
    }
  });
});

test("the maintainer is offered delete and GC, but not config or users", async ({ browser }) => {
  await asUser(browser, "max", "max's password", async (page) => {
    await expect(page.getByTestId("current-role")).toHaveText("maintainer");
    await expect(nav(page).getByRole("link", { name: "Configuration" })).toHaveCount(0);
    await expect(nav(page).getByRole("link", { name: "Users" })).toHaveCount(0);

    await page.goto(berth.url + "/repositories/demo/app");
    await expect(page.getByTestId("tag-row")).toHaveCount(1, { timeout: 15_000 });
    await expect(page.getByTestId("bulk-delete")).toBeVisible();
    await expect(page.getByRole("button", { name: "Delete 1.0" })).toBeVisible();

    await page.goto(berth.url + "/gc");
    await expect(page.getByTestId("gc-run")).toBeVisible();
    await expect(page.getByTestId("gc-dry-run")).toBeVisible();
    await expect(page.getByTestId("needs-role")).toHaveCount(0);

    for (const path of ["/config", "/users"]) {
      const res = await page.goto(berth.url + path);
      expect(res?.status(), path).toBe(403);
    }
  });
});

test("a disabled user is logged out at the next request and cannot log in", async ({ page, browser }) => {
  const viewer = await browser.newPage();
  try {
    await logInAs(viewer, "vera", "vera's password");
    await logInAs(page, "admin");
    await page.goto(berth.url + "/users");
    await page.getByRole("button", { name: "Disable vera" }).click();
    await expect(page.locator('[data-user="vera"]')).toContainText("disabled");
    await viewer.goto(berth.url + "/repositories");
    await expect(viewer).toHaveURL(/\/login\?next=/);
    await logIn(viewer, berth.url, "vera's password", "vera");
    await expect(viewer.getByTestId("login-error")).toHaveText("wrong user name or password");
  } finally {
    await viewer.close();
  }
});
