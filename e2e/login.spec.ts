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

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  const health = await page.request.get(berth.url + "/api/trpc/system.health");
  expect(health.status()).toBe(401);
  await page.goto(berth.url + "/");
  await expect(page).toHaveURL(/\/login/);
});
