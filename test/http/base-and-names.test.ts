import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { errorCodes } from "../../server/registry/errors.js";
import { ociErrorCodes, specErrorCodes } from "../support/error-codes.js";
import { expectError, pushImage, rawErrorCode, rawRequest, startRegistry, type TestRegistry } from "./harness.js";

describe("GET /v2/ and unknown endpoints", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("answers the base endpoint with 200 {} and the API version header", async () => {
    const res = await r.fetch("/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), {});
  });

  it("answers HEAD /v2/ with 200 and no body", async () => {
    const res = await r.fetch("/v2/", { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it("declares only the specs' error codes, and every one of the OCI spec's", () => {
    const declared = Object.keys(errorCodes);
    assert.deepEqual(declared.filter((code) => !specErrorCodes.has(code)), [], "codes in no spec");
    assert.deepEqual(ociErrorCodes.filter((code) => !declared.includes(code)), [], "OCI codes missing");
  });

  it("answers an unknown path under /v2/ with 404 and the spec's UNSUPPORTED", async () => {
    for (const path of ["/v2/foo", "/v2/foo/bar", "/v2/foo/blobs", "/v2/foo/manifests/", "/v3/"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await r.fetch(path, { method });
        await expectError(res, 404, "UNSUPPORTED");
      }
    }
  });

  it("keeps the connection open after an error to a request without a body", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const path of ["/v2/foo", `/v2/foo/blobs/sha256:${"0".repeat(64)}`, "/v2/foo/manifests/latest"]) {
        const res = await rawRequest(r.url, "GET", path, {}, undefined, agent);
        assert.equal(res.status, 404, path);
        assert.equal(res.headers.connection, "keep-alive", path);
      }
    } finally {
      agent.destroy();
    }
  });

  it("answers a method no endpoint knows with 405 UNSUPPORTED", async () => {
    for (const method of ["OPTIONS", "TRACE", "PROPFIND"]) {
      const res = await rawRequest(r.url, method, "/v2/foo/manifests/latest");
      assert.equal(res.status, 405, `${method}: ${res.body.toString()}`);
      assert.equal(rawErrorCode(res), "UNSUPPORTED");
      assert.equal(res.headers.allow, "GET, HEAD, PUT, DELETE");
    }
  });

  it("answers an unsupported method with 405 and an Allow header", async () => {
    const res = await r.fetch("/v2/_catalog", { method: "PUT", body: "{}" });
    await expectError(res, 405, "UNSUPPORTED");
    assert.match(res.headers.get("allow") ?? "", /\bGET\b/);
    const onBlob = await r.fetch(`/v2/foo/blobs/sha256:${"0".repeat(64)}`, { method: "PATCH", body: "x" });
    await expectError(onBlob, 405, "UNSUPPORTED");
    const onBase = await r.fetch("/v2/", { method: "DELETE" });
    await expectError(onBase, 405, "UNSUPPORTED");
  });
});

describe("repository names", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  const invalid: [string, string][] = [
    ["uppercase", "Library/Alpine"],
    ["uppercase component", "library/Alpine"],
    ["empty component", "a//b"],
    ["leading underscore", "_private"],
    ["leading underscore component", "a/_b"],
    ["trailing separator", "a-"],
    ["dot component", "a/./b"],
    ["more than 255 characters", "a".repeat(256)],
    ["nested more than 255 characters", `${"a".repeat(200)}/${"b".repeat(60)}`],
    ["percent-encoded slash", "a%2Fb"],
    ["percent-encoded slash (lower case)", "a%2fb"],
    ["malformed percent-encoding", "a%zz"],
    ["truncated percent-encoding", "abc%"],
    ["percent-encoded dot-dot", "a/%2e%2e/b"],
    ["space", "a%20b"],
  ];

  for (const [label, name] of invalid) {
    it(`refuses a name with ${label} (400 NAME_INVALID) on every endpoint`, async () => {
      const digest = `sha256:${"a".repeat(64)}`;
      const attempts: [string, string][] = [
        ["GET", `/v2/${name}/tags/list`],
        ["GET", `/v2/${name}/manifests/latest`],
        ["HEAD", `/v2/${name}/manifests/latest`],
        ["GET", `/v2/${name}/blobs/${digest}`],
        ["POST", `/v2/${name}/blobs/uploads/`],
        ["GET", `/v2/${name}/referrers/${digest}`],
      ];
      for (const [method, path] of attempts) {
        // Sent verbatim: fetch would resolve "." and "%2e%2e" segments before they reach the server.
        const res = await rawRequest(r.url, method, path);
        assert.equal(res.status, 400, `${method} ${path}: ${res.body.toString()}`);
        if (method !== "HEAD") assert.equal(rawErrorCode(res), "NAME_INVALID", `${method} ${path}`);
      }
    });
  }

  it("refuses literal dot-dot path segments with 400 NAME_INVALID, never touching storage outside the repository", async () => {
    for (const path of ["/v2/../tags/list", "/v2/a/../b/tags/list", "/v2/a/../../manifests/latest", "/v2/../blobs/uploads/"]) {
      const res = await rawRequest(r.url, path.endsWith("uploads/") ? "POST" : "GET", path);
      assert.equal(res.status, 400, `${path}: ${res.body.toString()}`);
      assert.equal(rawErrorCode(res), "NAME_INVALID", path);
    }
  });

  it("answers garbage in the path with its 4xx error, never 5xx", async () => {
    // A malformed percent-encoding cannot be routed: 400 NAME_INVALID wherever it is. What
    // decodes is judged as what it decodes to: ".." is not a tag (so no such manifest), and
    // "sha256:../.." is not a digest.
    const paths: [string, number, string][] = [
      ["/v2/%zz/manifests/%zz", 400, "NAME_INVALID"],
      ["/v2/a/manifests/%zz", 400, "NAME_INVALID"],
      ["/v2/a/blobs/%zz", 400, "NAME_INVALID"],
      ["/v2/a/blobs/uploads/%zz", 400, "NAME_INVALID"],
      ["/v2/a/referrers/%zz", 400, "NAME_INVALID"],
      ["/v2/%00/tags/list", 400, "NAME_INVALID"],
      ["/v2/a%00b/tags/list", 400, "NAME_INVALID"],
      ["/v2/a/manifests/%2e%2e", 404, "MANIFEST_UNKNOWN"],
      ["/v2/a/blobs/sha256:%2e%2e%2f%2e%2e", 400, "DIGEST_INVALID"],
    ];
    for (const [path, status, code] of paths) {
      const res = await rawRequest(r.url, "GET", path);
      assert.equal(res.status, status, `${path}: ${res.body.toString()}`);
      assert.equal(rawErrorCode(res), code, path);
    }
    assert.deepEqual(r.errors, []);
  });

  it("accepts a name of exactly 255 characters", async () => {
    const name = `${"a".repeat(127)}/${"b".repeat(127)}`;
    assert.equal(name.length, 255);
    await pushImage(r, name, "v1");
    const res = await r.fetch(`/v2/${name}/tags/list`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name, tags: ["v1"] });
  });

  it("serves nested names a/b/c independently of their parents", async () => {
    const image = await pushImage(r, "a/b/c", "latest");
    const res = await r.fetch("/v2/a/b/c/manifests/latest");
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
    await expectError(await r.fetch("/v2/a/b/manifests/latest"), 404, "MANIFEST_UNKNOWN");
    await expectError(await r.fetch("/v2/a/b/tags/list"), 404, "NAME_UNKNOWN");
    // Components that look like endpoint words are still names.
    const tricky = await pushImage(r, "x/manifests/blobs", "v1");
    const got = await r.fetch("/v2/x/manifests/blobs/manifests/v1");
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), tricky.manifest);
  });

  it("accepts separators the grammar allows (., _, __, -)", async () => {
    for (const name of ["a.b", "a_b", "a__b", "a---b", "0/9-z"]) {
      const res = await r.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" });
      assert.equal(res.status, 202, name);
      await res.arrayBuffer();
    }
  });
});
