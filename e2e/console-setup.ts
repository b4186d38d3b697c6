/*
 * What the console stories share: a real etcd, the built `berth serve` with token auth rules on
 * it, and the images they browse, pushed by skopeo; plus signing in, screenshots and a write held
 * open.
 */
import { request as httpRequest, type ClientRequest } from "node:http";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import bcrypt from "bcryptjs";
import { Etcd3 } from "etcd3";
import { startEtcd, type RunningEtcd } from "../test/support/etcd";
import { makeImageLayout, type ImageLayout } from "../test/support/images";
import { skopeoCopy } from "../test/support/skopeo";
import { logIn, startBerth, type BerthProcess } from "./berth";

export const authKey = "/lain/config/auth/registry";
export const httpSecret = "e2e-http-secret-do-not-show";
const shots = "docs/screenshots";

export interface ConsoleRegistry {
  berth: BerthProcess;
  etcdClient: Etcd3;
  /** The pushed image layouts by name ("base", "app-1".."app-5", "multi", "shared", ...). */
  images: Record<string, ImageLayout>;
  stop(): Promise<void>;
}

/** Runs `jobs` with at most `limit` at once. */
async function parallel(jobs: (() => Promise<unknown>)[], limit: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) await jobs[next++]?.();
    }),
  );
}

/**
 * ~30 repositories in three namespaces, demo/app with five tags, an index, a digest shared by two
 * tags and five images pushed in order for the cleanup rules.
 */
export async function startConsoleRegistry(): Promise<ConsoleRegistry> {
  let etcd: RunningEtcd | undefined;
  let berth: BerthProcess | undefined;
  let etcdClient: Etcd3 | undefined;
  const layouts = await mkdtemp(join(tmpdir(), "berth-e2e-images-"));
  const stop = async () => {
    etcdClient?.close();
    await berth?.stop();
    await etcd?.stop();
    await rm(layouts, { recursive: true, force: true });
  };
  try {
    etcd = await startEtcd();
    etcdClient = new Etcd3({ hosts: etcd.endpoint });
    const images: Record<string, ImageLayout> = {};
    const layout = async (name: string, options: Parameters<typeof makeImageLayout>[1]) => (images[name] = await makeImageLayout(join(layouts, name), options));
    const push = (image: ImageLayout, target: string, all = false) => skopeoCopy(image.ref, `docker://${berth!.host}/${target}`, { all });
    berth = await startBerth({
      prepare: async (dir) => {
        await writeFile(join(dir, "users.htpasswd"), ["alice", "bob", "ci-builder"].map((user) => `${user}:${bcrypt.hashSync(`${user}-pw`, 4)}`).join("\n") + "\n");
      },
      config: (dir) => ({
        storage: ["delete:", "  enabled: true"],
        http: [`secret: ${httpSecret}`],
        top: [
          "etcd:",
          `  endpoints: [${etcd!.endpoint}]`,
          "tokenserver:",
          "  enabled: true",
          `  users: ${join(dir, "users.htpasswd")}`,
          "  admins: [alice]",
          "  groups:",
          "    ci: [ci-builder]",
          "  rules:",
          '    - users: ["*"]',
          '      repositories: ["**"]',
          "      actions: [pull]",
          "    - groups: [ci]",
          '      repositories: ["demo/*"]',
          "      actions: [pull, push]",
        ],
      }),
    });
    await mkdir(shots, { recursive: true });

    const base = await layout("base", { seed: "base", layers: [1024, 2048] });
    const appTags = await Promise.all([1, 2, 3, 4, 5].map((n) => layout(`app-${n}`, { seed: `app-${n}`, layers: [512 * n, 700], tag: `t${n}` })));
    const multi = await layout("multi", {
      seed: "multi",
      layers: [1500],
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
    });
    const shared = await layout("shared", { seed: "shared", layers: [900] });
    const other = await layout("other", { seed: "other", layers: [800] });
    const cleanups = await Promise.all([1, 2, 3, 4, 5].map((n) => layout(`clean-${n}`, { seed: `clean-${n}`, layers: [600 + n] })));

    // ~30 repositories in three namespaces, the same small image in each.
    const many = Array.from({ length: 30 }, (_, i) => `ns${i % 3}/service-${String(i + 1).padStart(2, "0")}`);
    await parallel(
      [
        ...many.map((name) => () => push(base, `${name}:v1`)),
        ...appTags.map((image, i) => () => push(image, `demo/app:t${i + 1}`)),
        () => push(base, "demo/app:latest"),
        () => push(multi, "demo/multi:v1", true),
        () => push(shared, "demo/shared:one"),
        () => push(shared, "demo/shared:two"),
        () => push(other, "demo/shared:three"),
      ],
      8,
    );
    // In order, so "keep the last 2 pushed" has a clear answer.
    for (const [i, image] of cleanups.entries()) await push(image, `cleanup/app:c${i + 1}`);
    return { berth, etcdClient, images, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The registry a spec file's stories share: its tests run in order (serial) at `viewport`, with
 * the registry started before them and stopped after them (its log printed first with
 * BERTH_E2E_LOG=1). The returned object's fields are set once the registry runs.
 */
export function useConsoleRegistry(viewport: { width: number; height: number }): ConsoleRegistry {
  test.describe.configure({ mode: "serial" });
  test.use({ viewport });
  const registry = {} as ConsoleRegistry;
  let started: ConsoleRegistry | undefined;
  test.beforeAll(async () => {
    test.setTimeout(120_000);
    started = await startConsoleRegistry();
    Object.assign(registry, started);
  });
  test.afterAll(async () => {
    if (process.env.BERTH_E2E_LOG) console.log(started?.berth.output());
    await started?.stop();
  });
  return registry;
}

/** Logs in and waits for the dashboard (logIn only submits the form). */
export async function signIn(page: Page, berth: BerthProcess): Promise<void> {
  await logIn(page, berth.url);
  await expect(page.getByTestId("current-user")).toHaveText("admin");
}

/** Refreshes docs/screenshots/ only when asked (BERTH_SCREENSHOTS=1), so a test run leaves the checkout clean. */
export async function shot(page: Page, name: string): Promise<void> {
  if (process.env.BERTH_SCREENSHOTS === "1") await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

/** Starts a blob upload and keeps its PATCH open: a write in progress that a GC must wait for. */
export async function holdWrite(berth: BerthProcess): Promise<{ release(): Promise<number> }> {
  const start = await fetch(`${berth.url}/v2/held/upload/blobs/uploads/`, { method: "POST" });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get("location") ?? "", berth.url);
  let request: ClientRequest;
  const answered = new Promise<number>((resolve, reject) => {
    request = httpRequest(location, { method: "PATCH", headers: { "Content-Type": "application/octet-stream" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.on("error", reject);
  });
  request!.write(Buffer.alloc(1024, 1));
  // Let the request reach the engine before the GC switches to read-only.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    async release() {
      request.end();
      return answered;
    },
  };
}
