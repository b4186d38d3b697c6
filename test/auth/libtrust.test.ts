/**
 * libtrust key IDs and the token server's self-signed certificates, checked against tools that
 * share no code with Berth: openssl (DER SubjectPublicKeyInfo, SHA-256, certificate parsing and
 * verification) and coreutils' base32.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createSelfSignedCertificate } from "../../server/auth/certs.js";
import { base32, libtrustKeyId } from "../../server/auth/libtrust.js";
import { requireCommands } from "../support/commands.js";
import { removeDir, tempDir } from "./harness.js";

const run = promisify(execFile);

// Public keys made with `openssl genpkey`; the IDs with
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | head -c 30 | base32`, grouped by hand.
const vectors = [
  {
    what: "ECDSA P-256",
    pem: `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExZ6GubD3ZikgG90S3GQy9HePVD9c
lUulYrDmVMQ8zqR/L+7JKe+fg24spgrkxwLrJoyDZaLc8rnqpozL8yzsAw==
-----END PUBLIC KEY-----`,
    id: "TWTW:6AM5:FF42:QMIF:N52T:KZLE:PMX3:VPE5:UZCP:N43O:K3ZG:IPGD",
  },
  {
    what: "RSA 2048",
    pem: `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5YgBHDAR3MKWtFpMjh12
ZnOb+XvYP4sGIMm+vzRLvB2wg9UCwCFnnFKHrvq2NHaQKgzYaiot18vayDbzaBXo
LzBaTOvQh8XFXXJ/dZQV6a3xevG9z4stQ7yS/JQLAjYFhR+RTqiW4C6acEnGcBOj
LBYZWPOlhJI4TfVXV4i26DgqyjjhSjNdeVva9uCtuAYPf5+qV67t8GKl4sFkOMpB
iKzzNDLqDmYtqSidjACCE9ob2Ao1m3u2yvmdowi36t0lXGExZ2LBX8ASl7oWabfa
UHJWQ7RBE2gLXlZ1ahb9/WJnhyBcSyxAEQLzWeExVb7Ohoc9MifPseaXlxs2vzJ0
xQIDAQAB
-----END PUBLIC KEY-----`,
    id: "X6NC:DVXF:5RER:566H:3YXN:ZS5B:Y3N5:OFMK:2C3R:4VIP:HXHE:BT3U",
  },
];

describe("base32", () => {
  test("RFC 4648 §10 test vectors (padding removed)", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"],
    ];
    for (const [input, expected] of cases) assert.equal(base32(Buffer.from(input)), expected, JSON.stringify(input));
  });
});

describe("libtrustKeyId", () => {
  for (const vector of vectors) {
    test(`known vector: ${vector.what}`, () => {
      const key = createPublicKey(vector.pem);
      assert.equal(libtrustKeyId(key), vector.id);
      assert.equal(libtrustKeyId(vector.pem), vector.id, "from PEM text");
      assert.match(vector.id, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    });
  }

  test("a private key and its certificate give the public key's ID", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const certificate = await createSelfSignedCertificate(privateKey, { commonName: "kid test" });
    assert.equal(libtrustKeyId(privateKey), libtrustKeyId(publicKey));
    assert.equal(libtrustKeyId(certificate), libtrustKeyId(publicKey));
  });

  describe("against openssl + coreutils base32, fresh keys", () => {
    before(() => requireCommands("openssl", "base32"));
    let dir: string;
    before(async () => {
      dir = await tempDir("kid");
    });
    after(() => removeDir(dir));

    for (const [what, args] of [
      ["P-256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]],
      ["P-384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]],
      ["RSA", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]],
      ["Ed25519", ["-algorithm", "ED25519"]],
    ] as const) {
      test(what, async () => {
        const key = join(dir, `${what}.pem`);
        const pub = join(dir, `${what}.der`);
        const digest = join(dir, `${what}.sha256`);
        const truncated = join(dir, `${what}.240`);
        await run("openssl", ["genpkey", ...args, "-out", key]);
        await run("openssl", ["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", pub]);
        await run("openssl", ["dgst", "-sha256", "-binary", "-out", digest, pub]);
        await writeFile(truncated, (await readFile(digest)).subarray(0, 30));
        const { stdout } = await run("base32", [truncated]);
        const encoded = stdout.replace(/\s|=/g, "");
        assert.equal(encoded.length, 48);
        const expected = encoded.match(/.{4}/g)!.join(":");
        assert.equal(libtrustKeyId(createPrivateKey(await readFile(key))), expected);
      });
    }
  });
});

describe("createSelfSignedCertificate", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("cert");
  });
  after(() => removeDir(dir));

  for (const [what, pair] of [
    ["P-256", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
    ["P-384", () => generateKeyPairSync("ec", { namedCurve: "P-384" })],
    ["RSA", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
    ["Ed25519", () => generateKeyPairSync("ed25519")],
  ] as const) {
    test(`${what}: node reads it back, CA, ten years, the key's own`, async () => {
      const { privateKey, publicKey } = pair();
      const now = new Date("2030-06-01T12:00:00Z");
      const certificate = await createSelfSignedCertificate(privateKey, { commonName: "Berth token server", now });
      assert.ok(certificate instanceof X509Certificate);
      assert.equal(certificate.subject, "CN=Berth token server");
      assert.equal(certificate.issuer, certificate.subject);
      assert.equal(certificate.ca, true);
      assert.ok(certificate.verify(publicKey));
      assert.ok(certificate.checkPrivateKey(privateKey));
      assert.ok(Date.parse(certificate.validFrom) <= now.getTime());
      assert.ok(Date.parse(certificate.validTo) > now.getTime() + 9 * 365 * 86_400_000);
    });
  }

  test("validity after 2049 is written as GeneralizedTime and still parses", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const certificate = await createSelfSignedCertificate(privateKey, { commonName: "far", now: new Date("2045-01-01T00:00:00Z") });
    assert.equal(new Date(certificate.validTo).getUTCFullYear(), 2054);
  });

  test("openssl parses it and verifies it as its own trust anchor", async () => {
    requireCommands("openssl");
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const file = join(dir, "self.pem");
    await writeFile(file, (await createSelfSignedCertificate(privateKey, { commonName: "openssl check" })).toString());
    const { stdout: text } = await run("openssl", ["x509", "-in", file, "-noout", "-text"]);
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /CA:TRUE/);
    assert.match(text, /Digital Signature, Certificate Sign/);
    const { stdout: verdict } = await run("openssl", ["verify", "-CAfile", file, file]);
    assert.match(verdict, /: OK/);
  });
});
