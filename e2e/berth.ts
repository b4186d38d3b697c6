import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBerthProcess } from "../test/support/berth-cli";

/** The first admin's password in every e2e run (BERTH_ADMIN_PASSWORD). */
export const adminPassword = "e2e-admin-password";

export interface BerthProcess {
  url: string;
  /** `127.0.0.1:<port>`, as `docker://` references name the registry. */
  host: string;
  dataDir: string;
  /** The config.yml Berth was started with (the console's editor writes it). */
  configFile: string;
  /** The throwaway directory holding the data and the config file. */
  dir: string;
  output: () => string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Lines for config.yml after the defaults (`version`, `log`, `storage.filesystem`, `http.addr`),
   * given the temp directory; e.g. `storage.delete`, `http.secret`, `etcd`, `tokenserver`. Keys of
   * `storage` and `http` go in `storage`/`http`; `console` is taken (its `statedir` is set).
   */
  config?: (dir: string) => { storage?: string[]; http?: string[]; top?: string[] };
  /** Called with the temp directory before Berth starts (to write files the config names). */
  prepare?: (dir: string) => Promise<void>;
}

/** Starts the built `berth serve` on a free loopback port with a throwaway data directory. */
export async function startBerth(options: StartOptions = {}): Promise<BerthProcess> {
  const dir = await mkdtemp(join(tmpdir(), "berth-e2e-"));
  const dataDir = join(dir, "data");
  const configFile = join(dir, "config.yml");
  await options.prepare?.(dir);
  const extra = options.config?.(dir) ?? {};
  const server = await startBerthProcess({
    built: true,
    args: ["serve"],
    env: { BERTH_ADMIN_PASSWORD: adminPassword },
    config: async (port) => {
      await writeFile(
        configFile,
        [
          "version: 0.1",
          "log:",
          "  level: warn",
          "storage:",
          "  filesystem:",
          `    rootdirectory: ${dataDir}`,
          ...(extra.storage ?? []).map((line) => `  ${line}`),
          "http:",
          `  addr: 127.0.0.1:${port}`,
          ...(extra.http ?? []).map((line) => `  ${line}`),
          // The metadata index lives in the throwaway directory too, not in the repository's ./data.
          "console:",
          `  statedir: ${join(dir, "state")}`,
          ...(extra.top ?? []),
          "",
        ].join("\n"),
      );
      return configFile;
    },
  });
  return {
    url: server.url,
    host: server.host,
    dataDir,
    configFile,
    dir,
    output: server.output,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the login page, as a person would. */
export async function logIn(page: import("@playwright/test").Page, url: string, password = adminPassword, user = "admin"): Promise<void> {
  await page.goto(url + "/login");
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}
