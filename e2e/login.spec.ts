import { expect, test } from "@playwright/test";
import { logIn, startBerth, type BerthProcess } from "./berth";

let berth: BerthProcess;

test.beforeAll(async () => {
  berth = await startBerth();
});

test.afterAll(async () => {
  await berth?.stop();
});

test("every console page sends a visitor without a session to the login page", async ({ page }) => {
  await page.goto(berth.url + "/");
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
  await expect(page.getByRole("heading", { name: "Log in to Berth" })).toBeVisible();
});

test("the console API refuses requests without a session", async ({ request }) => {
  const res = await request.get(berth.url + "/api/trpc/system.health");
  expect(res.status()).toBe(401);
});

test("a wrong password is refused with a message, the right one logs in and logout ends the session", async ({ page }) => {
  await logIn(page, berth.url, "not-the-password");
  await expect(page.getByTestId("login-error")).toHaveText("wrong user name or password");
  await expect(page).toHaveURL(/\/login/);

  await logIn(page, berth.url);
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await expect(page).toHaveURL(berth.url + "/");

  // The cookie as it was before logging out, to replay it.
  const [session] = await page.context().cookies(berth.url);
  expect(session?.name).toBe("berth_session");
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  const health = await page.request.get(berth.url + "/api/trpc/system.health");
  expect(health.status()).toBe(401);
  await page.goto(berth.url + "/");
  await expect(page).toHaveURL(/\/login/);
  const replayed = await page.request.get(berth.url + "/api/trpc/system.health", { headers: { Cookie: `berth_session=${session?.value}` } });
  expect(replayed.status()).toBe(401);
});

test("a viewer sees the console, is labelled read-only, and is refused changes", async ({ page, browser }) => {
  await logIn(page, berth.url);
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await expect(page.getByTestId("current-role")).toHaveCount(0);
  const added = await page.request.post(berth.url + "/api/trpc/users.add", {
    headers: { "Content-Type": "application/json" },
    data: { name: "vera", password: "vera's password", role: "viewer" },
  });
  expect(added.status()).toBe(200);

  const viewer = await browser.newPage();
  try {
    await logIn(viewer, berth.url, "vera's password", "vera");
    await expect(viewer.getByTestId("current-user")).toHaveText("vera");
    await expect(viewer.getByTestId("current-role")).toHaveText("viewer (read-only)");
    await viewer.goto(berth.url + "/repositories");
    await expect(viewer.getByRole("heading", { name: "Repositories" })).toBeVisible();
    const change = await viewer.request.post(berth.url + "/api/trpc/maintenance.setReadOnly", {
      headers: { "Content-Type": "application/json" },
      data: { enabled: true },
    });
    expect(change.status()).toBe(403);
    expect(await change.text()).toContain("needs the maintainer role");
  } finally {
    await viewer.close();
  }
});
