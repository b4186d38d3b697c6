import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { eventsMediaType } from "../../server/notifications/notifier.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { eventually } from "../support/eventually.js";
import { listen, type ListeningServer } from "../support/server.js";

interface Received {
  contentType: string | undefined;
  authorization: string | undefined;
  events: { action: string; target: { repository: string; digest?: string; tag?: string; mediaType?: string; url?: string } }[];
}

describe("notifications", () => {
  let receiver: ListeningServer;
  let running: RunningBerth;
  const received: Received[] = [];
  let failuresLeft = 1;

  before(async () => {
    receiver = await listen((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        // The first delivery fails: the notifier must retry, not drop the event.
        if (failuresLeft-- > 0) {
          res.writeHead(500).end();
          return;
        }
        received.push({
          contentType: req.headers["content-type"],
          authorization: req.headers.authorization,
          events: (JSON.parse(body) as { events: Received["events"] }).events,
        });
        res.writeHead(200).end();
      });
    });
    const config = parseConfig({
      version: "0.1",
      storage: { inmemory: {}, delete: { enabled: true } },
      http: { addr: "127.0.0.1:0", secret: "n" },
      notifications: {
        endpoints: [
          { name: "hook", url: `${receiver.url}/events`, headers: { Authorization: ["Bearer hook-token"] }, timeout: "1s", backoff: "100ms" },
          { name: "off", url: `${receiver.url}/never`, disabled: true },
        ],
      },
    });
    running = await serve({ config, registryOnly: true, logger: createLogger({ level: "error", write: () => undefined }) });
  });

  after(async () => {
    await running.close();
    await receiver.close();
  });

  it("posts push and delete events in distribution's envelope, retrying a failed delivery", async () => {
    const config = Buffer.from("{}");
    const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
    assert.equal((await fetch(`${running.url}/v2/hooked/app/blobs/uploads/?digest=${configDigest}`, { method: "POST", body: new Uint8Array(config) })).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: 2 },
        layers: [],
      }),
    );
    const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
    const put = await fetch(`${running.url}/v2/hooked/app/manifests/v1`, {
      method: "PUT",
      headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
      body: new Uint8Array(manifest),
    });
    assert.equal(put.status, 201);
    assert.equal((await fetch(`${running.url}/v2/hooked/app/manifests/${digest}`, { method: "DELETE" })).status, 202);

    await eventually(() => received.flatMap((r) => r.events).length >= 3, 5_000, "three events delivered");
    const events = received.flatMap((r) => r.events);
    assert.deepEqual(
      events.map((e) => [e.action, e.target.repository, e.target.tag ?? e.target.digest]),
      [
        ["push", "hooked/app", "v1"],
        ["delete", "hooked/app", "v1"],
        ["delete", "hooked/app", digest],
      ],
    );
    assert.equal(events[0]?.target.digest, digest);
    assert.equal(events[0]?.target.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.match(events[0]?.target.url ?? "", new RegExp(`/v2/hooked/app/manifests/${digest}$`));
    assert.equal(received[0]?.contentType, eventsMediaType);
    assert.equal(received[0]?.authorization, "Bearer hook-token");
  });
});
