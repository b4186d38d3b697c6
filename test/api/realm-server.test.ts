import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { realmServer } from "../../server/api/routers/registry-auth.js";

describe("which token server serves a realm", () => {
  const path = "/api/v1/authorize/registry";
  it("is Berth's own when the realm names its token server's path and that server is on", () => {
    assert.equal(realmServer("http://127.0.0.1:5000/api/v1/authorize/registry/", path, true), "builtin");
    assert.equal(realmServer("https://registry.example.com/api/v1/authorize/registry", path, true), "builtin");
    assert.equal(realmServer("https://r.example.com/prefix/api/v1/authorize/registry/", `/prefix${path}`, true), "builtin");
  });
  it("is external otherwise: another path, the built-in server off, or no URL at all", () => {
    assert.equal(realmServer("https://auth.example.com/token", path, true), "external");
    assert.equal(realmServer("http://127.0.0.1:5000/api/v1/authorize/registry/", path, false), "external");
    assert.equal(realmServer("not a url", path, true), "external");
  });
});
