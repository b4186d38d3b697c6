import { expect, test } from "@playwright/test";
import { logIn, startBerth, type BerthProcess } from "./berth";

let berth: BerthProcess;

test.beforeAll(async () => {
  berth = await startBerth();
});

test.afterAll(async () => {
  await berth?.stop();
});

test("the home page shows the registry's health from the engine", async ({ page }) => {
  await logIn(page, berth.url);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByTestId("health-status")).toHaveText("ok");
  await expect(page.getByTestId("health-storage")).toHaveText("filesystem");
  await expect(page.getByTestId("current-user")).toHaveText("admin");
});

test("the registry API answers on the same port", async ({ request }) => {
  const res = await request.get(berth.url + "/v2/");
  expect(res.status()).toBe(200);
  expect(res.headers()["docker-distribution-api-version"]).toBe("registry/2.0");
  expect(await res.json()).toEqual({});
});
