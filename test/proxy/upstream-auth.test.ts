/**
 * Upstreams that want credentials or speak TLS, each a real server: distribution with htpasswd
 * (Basic), distribution with token auth issued by Berth's own token server (the Docker Hub flow),
 * and an HTTPS endpoint with a self-signed certificate. Images pulled through Berth byte-exact.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertPullsIdentical, removeDir, tempDir } from "../gc/harness.js";
import { htpasswdText } from "../auth/harness.js";
import { requireCommands } from "../support/commands.js";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { makeImageLayout, type ImageLayout } from "../support/images.js";
import { skopeoCopy } from "../support/skopeo.js";
import { recordingHop, selfSignedCertificate, startProxyBerth, startTokenServer, type RecordingHop, type TestTokenServer } from "./harness.js";
import type { TestRegistry } from "../support/server.js";

requireCommands("docker-registry", "skopeo", "openssl");

const ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

async function manifestAnswer(berth: TestRegistry, path: string): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(`${berth.url}/v2/${path}`, { headers: { Accept: ACCEPT } });
  const body = (await res.json().catch(() => undefined)) as { errors?: { code: string; message: string }[] } | undefined;
  return { status: res.status, code: body?.errors?.[0]?.code, message: body?.errors?.[0]?.message };
}

describe("an upstream with Basic auth (distribution + htpasswd)", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let image: ImageLayout;

  before(async () => {
    scratch = await tempDir("proxy-basic");
    await writeFile(join(scratch, "htpasswd"), htpasswdText({ mirror: "mirror-pw" }));
    upstream = await startDistribution({ auth: ["auth:", "  htpasswd:", "    realm: upstream", `    path: ${JSON.stringify(join(scratch, "htpasswd"))}`] });
    image = await makeImageLayout(join(scratch, "image"), { seed: "basic", layers: [20_000] });
    await skopeoCopy(image.ref, `docker://${upstream.host}/team/app:1`, { destCreds: "mirror:mirror-pw" });
  });

  after(async () => {
    await upstream?.stop();
    await removeDir(scratch);
  });

  it("pulls through Berth with the configured credentials (distribution 2.8's proxy cannot)", async () => {
    const berth = await startProxyBerth(join(scratch, "berth"), { proxy: { remoteurl: upstream.url, username: "mirror", password: "mirror-pw" } });
    try {
      await assertPullsIdentical(berth.host, "team/app", "1", image, scratch);
    } finally {
      await berth.close();
    }
  });

  it("says the upstream refused the credentials, without showing them", async () => {
    const berth = await startProxyBerth(join(scratch, "berth-wrong"), { proxy: { remoteurl: upstream.url, username: "mirror", password: "not-the-pw" } });
    try {
      const answer = await manifestAnswer(berth, "team/app/manifests/1");
      assert.equal(answer.status, 503);
      assert.equal(answer.code, "UNAVAILABLE");
      assert.match(answer.message ?? "", /refused the credentials/);
      assert.doesNotMatch(answer.message ?? "", /not-the-pw|bWlycm9y/);
    } finally {
      await berth.close();
    }
  });
});

describe("an upstream with token auth (distribution + Berth's token server)", () => {
  let scratch: string;
  let tokens: TestTokenServer;
  let upstream: DistributionRegistry;
  let image: ImageLayout;

  before(async () => {
    scratch = await tempDir("proxy-token");
    // Tokens of 3 s, so the test sees one expire and the client fetch a new one.
    tokens = await startTokenServer(scratch, { users: { ci: "ci-pw", mirror: "mirror-pw" }, admins: ["ci"], expiration: "3s" });
    upstream = await startDistribution({ auth: tokens.distributionAuth() });
    image = await makeImageLayout(join(scratch, "image"), { seed: "token", layers: [30_000, 10_000] });
    await skopeoCopy(image.ref, `docker://${upstream.host}/team/app:1`, { destCreds: "ci:ci-pw" });
  });

  after(async () => {
    await upstream?.stop();
    await tokens?.close();
    await removeDir(scratch);
  });

  it("fetches a token once for a whole pull, again once it expired, and pulls byte-exact", async () => {
    const berth = await startProxyBerth(join(scratch, "berth"), { proxy: { remoteurl: upstream.url, username: "mirror", password: "mirror-pw" } });
    try {
      const before = tokens.requests.length;
      await assertPullsIdentical(berth.host, "team/app", "1", image, scratch);
      assert.equal(tokens.requests.length - before, 1, "one token for the manifest and blob requests of one repository");
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      const again = await manifestAnswer(berth, "team/app/manifests/1");
      assert.equal(again.status, 200);
      assert.equal(tokens.requests.length - before, 2, "the expired token was replaced");
    } finally {
      await berth.close();
    }
  });
});

describe("an upstream behind TLS with a certificate of its own", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let hop: RecordingHop;
  let image: ImageLayout;
  let ca: string;

  before(async () => {
    scratch = await tempDir("proxy-tls");
    const certificate = await selfSignedCertificate(scratch);
    ca = certificate.certPath;
    upstream = await startDistribution();
    hop = await recordingHop(upstream.url, { tls: certificate });
    image = await makeImageLayout(join(scratch, "image"), { seed: "tls" });
    await skopeoCopy(image.ref, `docker://${upstream.host}/team/app:1`);
  });

  after(async () => {
    await hop?.close();
    await upstream?.stop();
    await removeDir(scratch);
  });

  for (const [name, tls] of [
    ["trusts the upstream through tls.ca", () => ({ ca })],
    ["skips verification with tls.insecure", () => ({ insecure: true })],
  ] as const) {
    it(name, async () => {
      const berth = await startProxyBerth(join(scratch, `berth-${name.length}`), { mirrors: [{ prefix: "up", remoteurl: hop.url, tls: { insecure: false, ...tls() } }] });
      try {
        await assertPullsIdentical(berth.host, "up/team/app", "1", image, scratch);
      } finally {
        await berth.close();
      }
    });
  }

  it("refuses an upstream whose certificate it cannot verify", async () => {
    const berth = await startProxyBerth(join(scratch, "berth-untrusted"), { mirrors: [{ prefix: "up", remoteurl: hop.url }] });
    try {
      const answer = await manifestAnswer(berth, "up/team/app/manifests/1");
      assert.equal(answer.status, 503);
      assert.equal(answer.code, "UNAVAILABLE");
      assert.match(answer.message ?? "", /certificate/i);
    } finally {
      await berth.close();
    }
  });
});
