/**
 * docs/reverse-proxy-tls.md, run: the page's certificate and nginx site, included by a minimal
 * nginx.conf in a scratch directory (as Debian's includes sites-enabled/ inside http {}), in front
 * of a real Berth; then the page's checks (curl, skopeo push and inspect through TLS), a 32 MiB
 * chunked upload in one PATCH, and a console login through the proxy.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { requireCommands } from "../support/commands.js";
import { freePort } from "../support/net.js";
import { outputOf } from "../support/process.js";
import { makeLayout, openPage, type BlockResult, type DocPage } from "./harness.js";

let page: DocPage;
let nginx: ReturnType<typeof spawn> | undefined;

before(async () => {
  requireCommands("nginx", "openssl", "skopeo", "curl");
  page = await openPage("reverse-proxy-tls.md");
});
after(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((resolve) => nginx!.once("exit", resolve));
    nginx.kill("SIGQUIT");
    await exited;
  }
  await page?.close();
});

function curl(args: string[]): Promise<BlockResult> {
  return outputOf(spawn("curl", ["-sS", ...args]));
}

/** nginx's main file as Debian's nginx.conf shapes it, with every path in `dir`. */
async function startNginx(dir: string, site: string, port: number): Promise<void> {
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) await mkdir(join(dir, sub), { recursive: true });
  const conf = join(dir, "nginx.conf");
  await writeFile(
    conf,
    [
      "user root;",
      "worker_processes 1;",
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      "events { worker_connections 256; }",
      "http {",
      "  access_log off;",
      ...["body", "proxy", "fastcgi", "uwsgi", "scgi"].map((sub) => `  ${sub === "body" ? "client_body" : sub}_temp_path ${dir}/${sub};`),
      `  include ${site};`,
      "}",
      "",
    ].join("\n"),
  );
  let output = "";
  nginx = spawn("nginx", ["-p", dir, "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] });
  nginx.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  // Any answer on the TLS port means nginx is up; the certificate is checked by the page's blocks.
  for (let i = 0; i < 200; i++) {
    const probe = await curl(["-k", "-o", "/dev/null", "-w", "%{http_code}", `https://127.0.0.1:${port}/`]);
    if (probe.stdout !== "000") return;
    if (nginx.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nginx did not start:\n${output}`);
}

test("nginx from the page terminates TLS in front of Berth: pushes, pulls, chunked uploads and console logins pass", { timeout: 120_000 }, async () => {
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const data = join(page.dir, "data");
  const config = join(page.dir, "config.yml");
  await writeFile(
    config,
    ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", `    rootdirectory: ${data}`, "http:", "  addr: 127.0.0.1:5000",
      "  clientaddressheader: X-Forwarded-For", "console:", `  statedir: ${data}-state`, ""].join("\n"),
  );
  page.env.CONFIG = config;
  const berth = await page.serve("serve", (port) => ({ REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, BERTH_ADMIN_PASSWORD: password }));
  const tlsPort = await freePort();
  const certs = join(page.dir, "certs");
  const site = join(page.dir, "berth.conf");
  const caDir = join(page.dir, "certs.d", `localhost:${tlsPort}`);
  Object.assign(page.env, { HOST: "localhost", TLS_PORT: String(tlsPort), BERTH: berth.host, CERTS: certs, SITE: site, CA_DIR: caDir });

  await page.run("cert");
  await page.run("site");
  await startNginx(join(page.dir, "nginx"), site, tlsPort);
  await makeLayout(join(page.dir, "app-oci"), "1.0", 4096);
  const checked = await page.run("check");
  assert.match(checked.stdout, /"Name": "localhost:\d+\/team\/app"/);

  // One 32 MiB PATCH without Content-Length, as docker and podman send a layer (nginx's default
  // body limit is 1 MiB; request buffering would spool it to disk first).
  const base = `https://localhost:${tlsPort}`;
  const ca = ["--cacert", join(caDir, "ca.crt")];
  const started = await curl([...ca, "-X", "POST", "-D", "-", "-o", "/dev/null", `${base}/v2/team/chunked/blobs/uploads/`]);
  const location = /^location: (\S+)/im.exec(started.stdout)?.[1];
  // Absolute on the public scheme and name (X-Forwarded-Proto, X-Forwarded-Host), not Berth's own.
  assert.ok(location?.startsWith(`${base}/v2/team/chunked/blobs/uploads/`), `upload location: ${JSON.stringify(started.stdout)}`);
  const layer = join(page.dir, "layer.bin");
  const bytes = randomBytes(32 * 1024 * 1024);
  await writeFile(layer, bytes);
  const patched = await curl([...ca, "--http1.1", "-X", "PATCH", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
    "--data-binary", `@${layer}`, "-D", "-", "-o", "/dev/null", location!]);
  assert.match(patched.stdout, /^HTTP\/1\.1 202/m, patched.stdout + patched.stderr);
  assert.match(patched.stdout, /^range: 0-33554431/im);

  // The console through the proxy: the browser's Origin is the public name, which Host carries.
  const login = await curl([...ca, "-H", "content-type: application/json", "-H", `origin: ${base}`,
    "-d", JSON.stringify({ user: "admin", password }), `${base}/api/trpc/auth.login`]);
  assert.match(login.stdout, /"role":"admin"/, login.stdout + login.stderr);
});
