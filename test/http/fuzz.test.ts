import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { specErrorCodes } from "../support/error-codes.js";
import {
  descriptor,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushImage,
  rawRequest,
  sha256,
  startRegistry,
  type PushedImage,
  type TestRegistry,
} from "./harness.js";

const requests = 2_000;

/**
 * Malformed requests of every kind, generated from a fixed seed so a failure reproduces: none
 * may get a 5xx, log a server error, answer a code outside the specs' lists, or stop the server
 * from answering.
 */
describe("malformed requests never get a 5xx or a code outside the spec", () => {
  let r: TestRegistry;
  let image: PushedImage;
  /** Upload sessions opened before the run, so garbage reaches a live upload too. */
  const sessions: string[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    r = await startRegistry({ deleteEnabled: true, secret: "fuzz" });
    image = await pushImage(r, "fuzz/app", "latest");
    for (let i = 0; i < 4; i++) {
      const res = await r.fetch("/v2/fuzz/app/blobs/uploads/", { method: "POST" });
      assert.equal(res.status, 202);
      const location = new URL(res.headers.get("location") ?? "", r.url);
      sessions.push(location.pathname + location.search);
    }
  });

  after(async () => {
    agent.destroy();
    await r.close();
  });

  it(`answers ${requests.toLocaleString("en")} generated requests with 4xx and a spec code, or success`, async () => {
    let state = 0x9e3779b9;
    const rand = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const pick = <T>(items: readonly T[]): T => items[rand(items.length)] as T;
    const zeros = "0".repeat(64);

    const validNames = ["fuzz/app", "fuzz/other", "a", "a.b-c/d__e"];
    const invalidNames = ["A", "a/../b", "_a", "a//b", "a%2Fb", "%zz", "%00", "x".repeat(300), "a/".repeat(100) + "a", "fuzz/app/blobs", "-a", "a..b", "%C3%A4", "a%20b"];
    const name = () => (rand(3) === 0 ? pick(invalidNames) : pick(validNames));
    const validDigests = [image.digest, sha256(image.config), sha256(image.layers[0]!), `sha256:${zeros}`, `sha512:${"a".repeat(128)}`];
    const invalidDigests = ["sha256:", "sha256:zz", `sha256:${"A".repeat(64)}`, `sha256:${"0".repeat(63)}`, `sha256:${"0".repeat(65)}`, `sha384:${"0".repeat(95)}`, "md5:abc", "sha256:%2e%2e", ":", `sha256:${zeros}%00`];
    const digest = () => (rand(3) === 0 ? pick(invalidDigests) : pick(validDigests));
    const tag = () => pick(["latest", "nope", "v1.0", "-bad", ".INVALID_MANIFEST_NAME", "x".repeat(129), "%00", "a%2Fb", "_x"]);
    const number = () => pick(["", "-1", "abc", "1e9", "99999999999", "0", "5", "1.5", "%20", "0x10", "10000000000000000000000"]);
    const text = () => pick(["", "%", "zz", "fuzz/app", "%ff", "a".repeat(300)]);

    /** Each endpoint with the methods it serves; a request uses one of them three times in four. */
    const endpoints: { path: () => string; methods: string[] }[] = [
      { path: () => `/v2/${name()}/manifests/${rand(2) === 0 ? tag() : digest()}`, methods: ["GET", "HEAD", "PUT", "DELETE"] },
      { path: () => `/v2/${name()}/blobs/${digest()}`, methods: ["GET", "HEAD", "DELETE"] },
      { path: () => `/v2/${name()}/blobs/uploads/${pick(["", "?", `?digest=${digest()}`, `?digest=${digest()}&size=${number()}`])}`, methods: ["POST"] },
      { path: () => `/v2/${name()}/blobs/uploads/?mount=${digest()}&from=${name()}${pick(["", `&digest=${digest()}`, "&from=a&from=b"])}`, methods: ["POST"] },
      {
        path: () => `/v2/${name()}/blobs/uploads/${pick(["nope", "00000000-0000-0000-0000-000000000000", "%ff", "..", "a/b"])}?_state=${pick(["", "a.b", "...", "x", "%zz"])}`,
        methods: ["GET", "PATCH", "PUT", "DELETE"],
      },
      { path: () => `${pick(sessions)}${pick(["", `&digest=${digest()}`, "&_state=x", "&digest=sha256:zz"])}`, methods: ["GET", "PATCH", "PUT", "DELETE"] },
      { path: () => `/v2/${name()}/tags/list?n=${number()}&last=${text()}`, methods: ["GET"] },
      { path: () => `/v2/${name()}/referrers/${digest()}?artifactType=${pick(["", "a/b", "%", "x".repeat(300)])}`, methods: ["GET"] },
      { path: () => `/v2/_catalog?n=${number()}&last=${text()}`, methods: ["GET"] },
      {
        path: () => pick(["/v2", "/v2/", "/v2//", "/v2/_catalog/x", "/v2/%2e%2e/etc/passwd", "/v3/", "/v2/?x=1", `/v2/${name()}`, `/v2/${name()}/manifests/`, `/v2/${name()}/tags/list/extra`]),
        methods: ["GET"],
      },
    ];
    const methods = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"];
    // Only methods Node's HTTP parser knows: it answers others itself, before any handler runs.
    const otherMethods = ["OPTIONS", "TRACE", "PROPFIND", "MKCOL", "PURGE"];
    const contentRange = () => pick(["0-0", "5-1", "bytes=0-10", "x", "-1-5", "0-99999999999999999999", "0-", "1-1", "0-1048575", "1-8"]);
    const headerPool: Record<string, () => string>[] = [
      { "Content-Type": () => pick([OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v1+prettyjws", "text/plain", "", ";;;", "application/octet-stream"]) },
      { "Content-Range": contentRange },
      { Range: () => pick(["bytes=0-0", "bytes=5-1", "bytes=-0", "bytes=99999999999-", "items=0-1", "bytes=0-1,3-4", "bytes=", "bytes=-5"]) },
      { Accept: () => pick(["", "*/*", "text/html", `${OCI_INDEX};q=0.5`, ",,,", "application/vnd.docker.distribution.manifest.v2+json"]) },
      { Authorization: () => pick(["Bearer x", "Basic !!!", "Basic " + Buffer.from("a:b").toString("base64"), ""]) },
      { "Docker-Content-Digest": digest },
    ];

    const manifest = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...fields }));
    const config = descriptor(OCI_CONFIG, image.config);
    const layer = descriptor(OCI_LAYER, image.layers[0]!);
    const bodies = [
      () => Buffer.alloc(0),
      () => Buffer.from(pick(["{", "null", "[]", '"s"', "1", '{"schemaVersion":2}', '{"schemaVersion":1}'])),
      () => image.manifest,
      () => manifest({ config: { ...config, size: pick([-1, 1.5, 1e300, "10", 2 ** 53, config.size + 1]) }, layers: [layer] }),
      () => manifest({ config, layers: [{ ...layer, size: pick([0, layer.size - 1, 4 * 1024 ** 3]) }] }),
      () => manifest({ config, layers: Array.from({ length: 1_001 }, () => layer) }),
      () => manifest({ config: { ...config, digest: digest() }, layers: [], subject: { ...layer, digest: digest() } }),
      () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: digest(), size: pick([1, -5, image.size]) }] })),
      () => Buffer.from("[".repeat(5_000) + "]".repeat(5_000)),
      () => Buffer.from(Array.from({ length: 512 }, () => rand(256))),
    ];

    const statuses = new Map<number, number>();
    const codes = new Set<string>();
    for (let i = 0; i < requests; i++) {
      const endpoint = pick(endpoints);
      const path = endpoint.path();
      const method = rand(4) > 0 ? pick(endpoint.methods) : rand(3) === 0 ? pick(otherMethods) : pick(methods);
      const headers: Record<string, string> = {};
      for (let h = rand(3); h > 0; h--) {
        const [name, value] = Object.entries(pick(headerPool))[0]!;
        headers[name] = value();
      }
      if (method === "PATCH" && rand(2) === 0) headers["Content-Range"] = contentRange();
      const body = method === "GET" || method === "HEAD" || rand(4) === 0 ? undefined : pick(bodies)();
      // Framed either way: Node sends a DELETE's body unframed otherwise, and on a kept-alive
      // connection the server would read it as the next request.
      if (body) Object.assign(headers, rand(2) === 0 ? { "Content-Length": String(body.length) } : { "Transfer-Encoding": "chunked" });
      const res = await rawRequest(r.url, method, path, headers, body, agent);
      const what = `#${i} ${method} ${path} ${JSON.stringify(headers)}`;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `${what} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
      if (res.status < 400 || method === "HEAD") continue;
      assert.match(String(res.headers["content-type"]), /^application\/json/, `${what}: error body type (${res.status} ${res.body.toString().slice(0, 200)})`);
      const errors = (JSON.parse(res.body.toString("utf8")) as { errors: { code: string }[] }).errors;
      assert.ok(errors.length > 0, `${what}: no errors in the body`);
      for (const { code } of errors) {
        assert.ok(specErrorCodes.has(code), `${what} answered the code ${code}, which no spec defines`);
        codes.add(code);
      }
    }
    assert.deepEqual(r.errors, [], "the engine logged server errors");
    // The generator must reach successes and many kinds of refusal, or it is not testing much.
    assert.ok([...statuses.keys()].some((s) => s < 300), "no request succeeded");
    const expected = ["NAME_INVALID", "NAME_UNKNOWN", "DIGEST_INVALID", "TAG_INVALID", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", "RANGE_INVALID", "PAGINATION_NUMBER_INVALID", "UNSUPPORTED"];
    assert.deepEqual(expected.filter((code) => !codes.has(code)), [], `refusals not reached; reached: ${[...codes].join(", ")}`);
    // Still serving, pushes and pulls included (the run may have deleted the first image).
    assert.equal((await r.fetch("/v2/")).status, 200);
    const after = await pushImage(r, "fuzz/after", "v1");
    const pulled = await r.fetch("/v2/fuzz/after/manifests/v1", { headers: { Accept: OCI_MANIFEST } });
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), after.manifest);
  });
});
