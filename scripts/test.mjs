#!/usr/bin/env node
// `npm test`: everything CI runs. Installs what the tests need (npm dependencies; as root on
// Debian, the system packages below), then type checking, lint, the Node test suites and the
// Playwright end-to-end tests, and ends with one summary line: "total: N passed, N failed".
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBuild, ensureDependencies, root } from "./prepare.mjs";

/** Debian packages the tests drive for real, with the command that shows each is there. */
const systemPackages = [
  { pkg: "skopeo", command: "skopeo" },
  { pkg: "etcd-server", command: "etcd" },
  { pkg: "chromium", command: "chromium" },
  { pkg: "docker-registry", command: "docker-registry" },
  // Token and libtrust tests check Berth's keys and certificates against openssl's own reading.
  { pkg: "openssl", command: "openssl" },
  // A one-node Ceph (monitor, in-memory OSD, radosgw) is the real S3 server of the S3/OSS tests.
  { pkg: "ceph-mon", command: "ceph-mon" },
  { pkg: "ceph-osd", command: "ceph-osd" },
  { pkg: "radosgw", command: "radosgw" },
  { pkg: "ceph-common", command: "ceph" },
  // The shared MySQL/MariaDB backend of the console's metadata index is tested on a private mariadbd.
  { pkg: "mariadb-server", command: "mariadbd" },
  // Pull-through cache tests pull gigabyte blobs with many curl processes (Node's fetch in the test process is the bottleneck).
  { pkg: "curl", command: "curl" },
  // The Redis blob descriptor cache is tested against a private redis-server.
  { pkg: "redis-server", command: "redis-server" },
  // The operator docs' tests (test/docs): nginx terminates TLS in front of Berth; backups and
  // migrations copy with rsync, and a bucket with rclone.
  { pkg: "nginx-light", command: "nginx" },
  { pkg: "rsync", command: "rsync" },
  { pkg: "rclone", command: "rclone" },
];

function hasCommand(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function ensureSystemPackages() {
  const missing = systemPackages.filter(({ command }) => !hasCommand(command));
  if (missing.length === 0) return;
  const names = missing.map(({ pkg }) => pkg);
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !hasCommand("apt-get")) {
    throw new Error(
      `missing system packages: ${names.join(", ")}.\n` +
        `Install them (Debian: sudo apt-get install -y ${names.join(" ")}) and run npm test again.`,
    );
  }
  console.log(`test: installing ${names.join(", ")} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...names]]) {
    const result = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (result.status !== 0) throw new Error(`apt-get ${args[0]} failed`);
  }
}

/** Runs a command, echoing its output, and returns the exit code and the text it printed. */
function capture(command, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", FORCE_COLOR: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    const forward = (stream, out) =>
      stream.on("data", (chunk) => {
        text += chunk.toString();
        out.write(chunk);
      });
    forward(child.stdout, process.stdout);
    forward(child.stderr, process.stderr);
    child.on("close", (code) => resolve({ code: code ?? 1, text }));
  });
}

const results = [];
function record(stage, passed, failed, note = "") {
  results.push({ stage, passed, failed, note });
}

async function check(stage, command, args) {
  console.log(`\n=== ${stage} ===`);
  const { code } = await capture(command, args);
  record(stage, code === 0 ? 1 : 0, code === 0 ? 0 : 1);
}

async function nodeTests() {
  console.log("\n=== unit and integration tests ===");
  // The AWS SDK must never look for credentials on a cloud metadata address: loopback only here.
  const { code, text } = await capture(process.execPath, ["scripts/run-node-tests.mjs"], {
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const count = (label) => Number(new RegExp(`^\\S*\\s*${label} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  const passed = count("pass");
  // A skipped test checked nothing, yet would let the run pass: it counts as failed. (Tests that
  // need a tool fail naming its package instead of skipping, so a skip here is a test's own doing.)
  const skipped = count("skipped");
  const failed = count("fail") + count("cancelled") + skipped;
  const todo = count("todo");
  if (skipped) console.log(`\ntest: ${skipped} node test(s) skipped, counted as failed (look for "# SKIP" above)`);
  if (todo) console.log(`\ntest: ${todo} node test(s) marked todo (look for "# TODO" above): known failures, not counted`);
  record("node tests", passed, failed || (code === 0 ? 0 : 1), [skipped && `${skipped} skipped`, todo && `${todo} todo`].filter(Boolean).join(", "));
}

async function e2eTests() {
  console.log("\n=== end-to-end tests (Playwright, Chromium) ===");
  const report = join(root, "test-results", "e2e.json");
  rmSync(report, { force: true });
  const { code } = await capture("npx", ["playwright", "test", "--reporter=list,json"], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: report,
  });
  if (!existsSync(report)) return record("e2e", 0, 1, "no report written");
  const stats = JSON.parse(readFileSync(report, "utf8")).stats ?? {};
  const passed = (stats.expected ?? 0) + (stats.flaky ?? 0);
  // As with the node tests, a skipped end-to-end test counts as failed.
  const skipped = stats.skipped ?? 0;
  const failed = (stats.unexpected ?? 0) + skipped;
  if (skipped) console.log(`\ntest: ${skipped} end-to-end test(s) skipped, counted as failed`);
  record("e2e", passed, failed || (code === 0 ? 0 : 1), skipped ? `${skipped} skipped` : "");
}

async function main() {
  ensureSystemPackages();
  ensureDependencies();
  ensureBuild();
  await check("typecheck", "npx", ["tsc", "--noEmit", "-p", "tsconfig.json"]);
  await check("lint", "npx", ["eslint", "."]);
  await nodeTests();
  await e2eTests();

  console.log("\n=== summary ===");
  for (const { stage, passed, failed, note } of results) {
    console.log(`${stage.padEnd(12)} ${passed} passed, ${failed} failed${note ? ` (${note})` : ""}`);
  }
  const passed = results.reduce((sum, r) => sum + r.passed, 0);
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  console.log(`total: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(`test: ${error.message}`);
  console.log("total: 0 passed, 1 failed");
  process.exit(1);
});
