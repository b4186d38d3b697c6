/** `berth config validate --connect` sends Redis a PING: a wrong address is reported at `redis.addr`. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { berth } from "../support/berth-cli.js";
import { freePort } from "../support/net.js";
import { startRedis, type RedisServer } from "./redis-server.js";

describe("berth config validate --connect: redis", () => {
  let dir: string;
  let redis: RedisServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-redis-validate-"));
    redis = await startRedis();
  });
  after(async () => {
    await redis?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  async function validate(addr: string, ...flags: string[]) {
    const file = join(dir, "config.yml");
    await writeFile(
      file,
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  cache:\n    blobdescriptor: redis\nredis:\n  addr: ${addr}\n  dialtimeout: 2s\n`,
    );
    return berth(["config", "validate", ...flags, file]);
  }

  it("passes when Redis answers, and names redis.addr when nothing listens there", async () => {
    const good = await validate(redis.addr, "--connect");
    assert.equal(good.code, 0, good.stdout + good.stderr);
    const wrong = await validate(`127.0.0.1:${await freePort()}`, "--connect");
    assert.notEqual(wrong.code, 0, wrong.stdout + wrong.stderr);
    assert.match(wrong.stdout + wrong.stderr, /redis\.addr.*did not answer PING/);
  });

  it("a dry run without --connect leaves Redis alone and says so", async () => {
    const result = await validate(`127.0.0.1:${await freePort()}`, "--dry-run");
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /not reached without --connect: .*redis/);
  });
});
