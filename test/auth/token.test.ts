/**
 * Token auth through the real engine over HTTP: tokens are minted here with jose directly (not by
 * Berth's token server), and every way a token can be wrong must end in 401 with the challenge
 * distribution sends.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { exportJWK, SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import { createSelfSignedCertificate } from "../../server/auth/certs.js";
import { libtrustKeyId } from "../../server/auth/libtrust.js";
import { createTokenController } from "../../server/auth/token.js";
import type { AccessController } from "../../server/registry/access.js";
import { requireCommands } from "../support/commands.js";
import { capturingLogger, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";

const run = promisify(execFile);

const REALM = "https://auth.example.test/token";
const SERVICE = "registry.example.test";
const ISSUER = "test issuer";
const EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

interface Signer {
  privateKey: KeyObject;
  certificate: X509Certificate;
  kid: string;
  alg: string;
}

async function ecSigner(cn: string): Promise<Signer> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const certificate = await createSelfSignedCertificate(privateKey, { commonName: cn });
  return { privateKey, certificate, kid: libtrustKeyId(certificate.publicKey), alg: "ES256" };
}

async function rsaSigner(cn: string): Promise<Signer> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const certificate = await createSelfSignedCertificate(privateKey, { commonName: cn });
  return { privateKey, certificate, kid: libtrustKeyId(certificate.publicKey), alg: "RS256" };
}

const now = () => Math.floor(Date.now() / 1000);

interface MintOptions {
  signer: Signer;
  claims?: JWTPayload;
  /** Replaces the default header fields (alg is always the signer's unless given). */
  header?: Record<string, unknown>;
  omit?: string[];
}

/** A token as a docker token server would issue it, adjustable field by field. */
async function mint(options: MintOptions): Promise<string> {
  const t = now();
  const claims: JWTPayload = {
    iss: ISSUER,
    sub: "tester",
    aud: SERVICE,
    exp: t + 300,
    nbf: t,
    iat: t,
    jti: "test",
    access: [],
    ...options.claims,
  };
  for (const key of options.omit ?? []) delete claims[key];
  const header = { alg: options.signer.alg, typ: "JWT", kid: options.signer.kid, ...options.header };
  return new SignJWT(claims).setProtectedHeader(header as never).sign(options.signer.privateKey);
}

const pullAccess = (name: string) => [{ type: "repository", name, actions: ["pull"] }];

// Made before the suites: describe bodies run synchronously, and the controller below needs them.
const [trusted, trustedRsa, stranger] = await Promise.all([ecSigner("trusted"), rsaSigner("trusted rsa"), ecSigner("stranger")]);

describe("token auth (auth.token) through the engine", () => {
  const logger = capturingLogger();
  const controller = createTokenController({
    realm: REALM,
    service: SERVICE,
    issuer: ISSUER,
    certificates: [trusted.certificate, trustedRsa.certificate],
    logger,
  });
  let active: AccessController = controller;
  let registry: TestRegistry;

  before(async () => {
    registry = await startTestRegistry({ access: () => active, logger });
  });
  after(() => registry.close());

  async function call(path: string, init: { method?: string; token?: string; authorization?: string } = {}) {
    const headers: Record<string, string> = {};
    if (init.token) headers.Authorization = `Bearer ${init.token}`;
    if (init.authorization) headers.Authorization = init.authorization;
    const res = await fetch(`${registry.url}${path}`, { method: init.method ?? "GET", headers });
    const text = await res.text();
    return { status: res.status, challenge: res.headers.get("www-authenticate"), body: text ? (JSON.parse(text) as { errors?: { code: string; detail?: unknown }[] }) : {} };
  }

  async function assertRefused(path: string, token: string | undefined, error: string | undefined, scope?: string, method = "GET") {
    const res = await call(path, { token, method });
    assert.equal(res.status, 401, `status for ${method} ${path}`);
    // A good token that lacks the action is DENIED; anything else asks for (new) credentials.
    assert.equal(res.body.errors?.[0]?.code, error === "insufficient_scope" ? "DENIED" : "UNAUTHORIZED");
    let expected = `Bearer realm="${REALM}",service="${SERVICE}"`;
    if (scope) expected += `,scope="${scope}"`;
    if (error) expected += `,error="${error}"`;
    assert.equal(res.challenge, expected);
    return res;
  }

  describe("challenges without a token", () => {
    test("GET /v2/ asks for any token, without scope", async () => {
      await assertRefused("/v2/", undefined, undefined);
    });
    test("a pull names repository:<name>:pull, and the detail lists the access records", async () => {
      const res = await assertRefused("/v2/team/app/manifests/latest", undefined, undefined, "repository:team/app:pull");
      assert.deepEqual(res.body.errors?.[0]?.detail, [{ Type: "repository", Class: "", Name: "team/app", Action: "pull" }]);
    });
    test("a push names pull,push", async () => {
      await assertRefused("/v2/team/app/blobs/uploads/", undefined, undefined, "repository:team/app:pull,push", "POST");
    });
    test("a cross-repository mount names both repositories, space-separated in one value", async () => {
      await assertRefused(
        `/v2/team/app/blobs/uploads/?mount=${EMPTY_DIGEST}&from=base/image`,
        undefined,
        undefined,
        "repository:team/app:pull,push repository:base/image:pull",
        "POST",
      );
    });
    test("the catalog names registry:catalog:*", async () => {
      await assertRefused("/v2/_catalog", undefined, undefined, "registry:catalog:*");
    });
    test("a Basic header is no token", async () => {
      const res = await call("/v2/", { authorization: "Basic dXNlcjpwYXNz" });
      assert.equal(res.status, 401);
      assert.equal(res.challenge, `Bearer realm="${REALM}",service="${SERVICE}"`);
    });
  });

  describe("valid tokens", () => {
    test("any valid token opens GET /v2/", async () => {
      assert.equal((await call("/v2/", { token: await mint({ signer: trusted }) })).status, 200);
    });
    test("pull access reaches the handler (404 for an unknown manifest, not 401)", async () => {
      const res = await call("/v2/team/app/manifests/latest", { token: await mint({ signer: trusted, claims: { access: pullAccess("team/app") } }) });
      assert.equal(res.status, 404);
      assert.equal(res.body.errors?.[0]?.code, "MANIFEST_UNKNOWN");
    });
    test("RS256 with an RSA certificate of the bundle", async () => {
      const res = await call("/v2/team/app/tags/list", { token: await mint({ signer: trustedRsa, claims: { access: pullAccess("team/app") } }) });
      assert.equal(res.status, 404);
    });
    test("pull,push opens an upload", async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] } });
      assert.equal((await call("/v2/team/app/blobs/uploads/", { method: "POST", token })).status, 202);
    });
    test('"*" grants every action, delete included', async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "repository", name: "team/app", actions: ["*"] }] } });
      assert.equal((await call("/v2/team/app/blobs/uploads/", { method: "POST", token })).status, 202);
      assert.equal((await call(`/v2/team/app/blobs/${EMPTY_DIGEST}`, { method: "DELETE", token })).status, 404);
    });
    test("registry:catalog:* lists the catalog", async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "registry", name: "catalog", actions: ["*"] }] } });
      assert.equal((await call("/v2/_catalog", { token })).status, 200);
    });
    test("an aud list containing the service", async () => {
      const token = await mint({ signer: trusted, claims: { aud: ["other", SERVICE] } });
      assert.equal((await call("/v2/", { token })).status, 200);
    });
    test("expired or not yet valid by less than the 60 s leeway", async () => {
      assert.equal((await call("/v2/", { token: await mint({ signer: trusted, claims: { exp: now() - 30 } }) })).status, 200);
      assert.equal((await call("/v2/", { token: await mint({ signer: trusted, claims: { nbf: now() + 30 } }) })).status, 200);
    });
    test("an embedded jwk of a trusted key, without kid", async () => {
      const jwk = await exportJWK(trusted.certificate.publicKey);
      assert.equal((await call("/v2/", { token: await mint({ signer: trusted, header: { kid: undefined, jwk } }) })).status, 200);
    });
    test("x5c holding a bundle certificate (what Berth's token server sends)", async () => {
      const x5c = [trusted.certificate.raw.toString("base64")];
      assert.equal((await call("/v2/", { token: await mint({ signer: trusted, header: { kid: undefined, x5c } }) })).status, 200);
    });
  });

  describe("refused tokens: 401, invalid_token", () => {
    const cases: [string, () => Promise<string>, RegExp][] = [
      ["bad signature (a stranger signs with the trusted kid)", () => mint({ signer: { ...stranger, kid: trusted.kid } }), /signature verification failed/],
      ["unknown kid", () => mint({ signer: stranger }), /unknown signing key/],
      ["expired beyond the leeway", () => mint({ signer: trusted, claims: { exp: now() - 120 } }), /"exp" claim/],
      ["nbf beyond the leeway in the future", () => mint({ signer: trusted, claims: { nbf: now() + 120 } }), /"nbf" claim/],
      ["wrong issuer", () => mint({ signer: trusted, claims: { iss: "someone else" } }), /"iss" claim/],
      ["wrong audience", () => mint({ signer: trusted, claims: { aud: "other.registry" } }), /"aud" claim/],
      ["no audience", () => mint({ signer: trusted, omit: ["aud"] }), /"aud" claim/],
      ["no exp", () => mint({ signer: trusted, omit: ["exp"] }), /"exp" claim/],
      ["malformed access claim", () => mint({ signer: trusted, claims: { access: [{ type: "repository", name: 7, actions: "pull" }] } }), /access claim is malformed/],
      ["no key reference at all", () => mint({ signer: trusted, header: { kid: undefined } }), /names no signing key/],
      [
        "tampered payload",
        async () => {
          const [head, , signature] = (await mint({ signer: trusted })).split(".");
          const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: SERVICE, exp: now() + 300, access: pullAccess("team/app") })).toString("base64url");
          return `${head}.${payload}.${signature}`;
        },
        /signature verification failed/,
      ],
      ["alg none", async () => new UnsecuredJWT({ iss: ISSUER, aud: SERVICE, exp: now() + 300, access: [] }).encode(), /"alg"/],
      [
        "HS256 with the certificate's public key as the secret",
        () =>
          new SignJWT({ iss: ISSUER, aud: SERVICE, exp: now() + 300, access: [] })
            .setProtectedHeader({ alg: "HS256", kid: trusted.kid })
            .sign(trusted.certificate.publicKey.export({ type: "spki", format: "der" })),
        /"alg"/,
      ],
      ["x5c with an untrusted self-signed certificate", () => mint({ signer: stranger, header: { kid: undefined, x5c: [stranger.certificate.raw.toString("base64")] } }), /does not lead to a certificate of the root certificate bundle/],
      [
        "x5c of a trusted certificate, signed by another key",
        () => mint({ signer: stranger, header: { kid: undefined, x5c: [trusted.certificate.raw.toString("base64")] } }),
        /signature verification failed/,
      ],
      ["x5c that is not base64 DER", () => mint({ signer: trusted, header: { kid: undefined, x5c: ["bm90IGEgY2VydA=="] } }), /does not parse/],
      [
        "embedded jwk of an untrusted key",
        async () => mint({ signer: stranger, header: { kid: undefined, jwk: await exportJWK(stranger.certificate.publicKey) } }),
        /embedded jwk is not a trusted key/,
      ],
      ["garbage", async () => "not.a.jwt", /Protected Header is invalid/],
    ];
    for (const [what, make, reason] of cases) {
      test(what, async () => {
        const before = logger.lines.length;
        await assertRefused("/v2/team/app/manifests/latest", await make(), "invalid_token", "repository:team/app:pull");
        const reasons = logger.lines.slice(before).filter((l) => l.includes("token refused")).map((l) => String((JSON.parse(l) as { reason: unknown }).reason));
        assert.equal(reasons.length, 1);
        assert.match(reasons[0]!, reason, "refused for the intended reason");
      });
    }
    test("the reason is logged", () => {
      assert.ok(logger.lines.some((line) => line.includes("token refused") && line.includes("unknown signing key")));
    });
  });

  describe("valid tokens lacking access: 401, insufficient_scope", () => {
    test("no access claim at all", async () => {
      await assertRefused("/v2/team/app/manifests/latest", await mint({ signer: trusted, omit: ["access"] }), "insufficient_scope", "repository:team/app:pull");
    });
    test("access to another repository", async () => {
      const token = await mint({ signer: trusted, claims: { access: pullAccess("team/other") } });
      await assertRefused("/v2/team/app/manifests/latest", token, "insufficient_scope", "repository:team/app:pull");
    });
    test("pull only, for a push", async () => {
      const token = await mint({ signer: trusted, claims: { access: pullAccess("team/app") } });
      await assertRefused("/v2/team/app/blobs/uploads/", token, "insufficient_scope", "repository:team/app:pull,push", "POST");
    });
    test("pull,push, for a delete", async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] } });
      await assertRefused(`/v2/team/app/manifests/${EMPTY_DIGEST}`, token, "insufficient_scope", "repository:team/app:delete", "DELETE");
    });
    test("a mount without pull on the source", async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] } });
      await assertRefused(
        `/v2/team/app/blobs/uploads/?mount=${EMPTY_DIGEST}&from=base/image`,
        token,
        "insufficient_scope",
        "repository:team/app:pull,push repository:base/image:pull",
        "POST",
      );
    });
    test("repository access does not open the catalog", async () => {
      const token = await mint({ signer: trusted, claims: { access: [{ type: "repository", name: "catalog", actions: ["*"] }] } });
      await assertRefused("/v2/_catalog", token, "insufficient_scope", "registry:catalog:*");
    });
  });

  describe("x5c chains issued by a CA of the bundle (openssl)", () => {
    before(() => requireCommands("openssl"));
    let dir: string;
    let leaf: Signer;
    let caCertificate: X509Certificate;
    let chained: AccessController;

    before(async () => {
      dir = await tempDir("x5c");
      const file = (name: string) => join(dir, name);
      await run("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "30", "-subj", "/CN=test root",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
      ]);
      await run("openssl", [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", file("leaf.key"), "-out", file("leaf.csr"), "-subj", "/CN=token signer",
      ]);
      await run("openssl", [
        "x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
        "-CAcreateserial", "-out", file("leaf.pem"), "-days", "30",
      ]);
      caCertificate = new X509Certificate(await readFile(file("ca.pem")));
      const leafCertificate = new X509Certificate(await readFile(file("leaf.pem")));
      const { createPrivateKey } = await import("node:crypto");
      leaf = { privateKey: createPrivateKey(await readFile(file("leaf.key"))), certificate: leafCertificate, kid: libtrustKeyId(leafCertificate.publicKey), alg: "ES256" };
      chained = createTokenController({ realm: REALM, service: SERVICE, issuer: ISSUER, certificates: [caCertificate], logger });
      active = chained;
    });
    after(async () => {
      active = controller;
      await removeDir(dir);
    });

    test("leaf + CA in x5c", async () => {
      const x5c = [leaf.certificate.raw.toString("base64"), caCertificate.raw.toString("base64")];
      assert.equal((await call("/v2/", { token: await mint({ signer: leaf, header: { kid: undefined, x5c } }) })).status, 200);
    });
    test("leaf alone in x5c, issued by the bundle's CA", async () => {
      const x5c = [leaf.certificate.raw.toString("base64")];
      assert.equal((await call("/v2/", { token: await mint({ signer: leaf, header: { kid: undefined, x5c } }) })).status, 200);
    });
    test("the leaf's kid alone is not trusted (only bundle keys are)", async () => {
      await assertRefused("/v2/", await mint({ signer: leaf }), "invalid_token");
    });
    test("a chain whose order is broken", async () => {
      const x5c = [caCertificate.raw.toString("base64"), leaf.certificate.raw.toString("base64")];
      await assertRefused("/v2/", await mint({ signer: leaf, header: { kid: undefined, x5c } }), "invalid_token");
    });
    test("a self-signed stranger claiming to chain to the CA", async () => {
      const x5c = [stranger.certificate.raw.toString("base64"), caCertificate.raw.toString("base64")];
      await assertRefused("/v2/", await mint({ signer: stranger, header: { kid: undefined, x5c } }), "invalid_token");
    });
  });
});

describe("token auth: realm", () => {
  test("autoredirect builds the realm from the request's host", async () => {
    const signer = await ecSigner("redirect");
    const controller = createTokenController({
      realm: REALM,
      service: SERVICE,
      issuer: ISSUER,
      certificates: [signer.certificate],
      autoRedirect: true,
      autoRedirectPath: "/auth/token",
      logger: capturingLogger(),
    });
    const registry = await startTestRegistry({ access: () => controller });
    try {
      const res = await fetch(`${registry.url}/v2/`);
      assert.equal(res.headers.get("www-authenticate"), `Bearer realm="http://${registry.host}/auth/token",service="${SERVICE}"`);
    } finally {
      await registry.close();
    }
  });
  test('quotes and backslashes in realm and service are escaped', async () => {
    const signer = await ecSigner("quote");
    const controller = createTokenController({ realm: 'https://a/"x"', service: "s\\1", issuer: ISSUER, certificates: [signer.certificate], logger: capturingLogger() });
    const registry = await startTestRegistry({ access: () => controller });
    try {
      const res = await fetch(`${registry.url}/v2/`);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="https://a/\\"x\\"",service="s\\\\1"');
    } finally {
      await registry.close();
    }
  });
});
