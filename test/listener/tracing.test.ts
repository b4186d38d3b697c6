/**
 * OpenTelemetry tracing from the standard OTEL_* variables, through the `berth serve` process:
 * spans reach a real OTLP/HTTP receiver (JSON) named by route, with the caller's traceparent as
 * parent; without the variables no SDK is loaded.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { tracingRequested } from "../../server/tracing.js";
import { startBerthProcess } from "../support/berth-cli.js";
import { eventually } from "../support/eventually.js";
import type { ServerProcess } from "../support/process.js";

interface ReceivedSpan {
  name: string;
  traceId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  service: unknown;
}

/** An OTLP/HTTP trace receiver that accepts the JSON encoding on /v1/traces. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url !== "/v1/traces" || !req.headers["content-type"]?.startsWith("application/json")) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      for (const resource of body.resourceSpans ?? []) {
        const service = attributes(resource.resource?.attributes)["service.name"];
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) spans.push({ name: span.name, traceId: span.traceId, parentSpanId: span.parentSpanId, attributes: attributes(span.attributes), service });
        }
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function attributes(list: { key: string; value: Record<string, unknown> }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, Object.values(value)[0]]));
}

describe("OpenTelemetry tracing (OTEL_* variables)", () => {
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let berth: ServerProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-otel-"));
    receiver = await startReceiver();
    berth = await startBerthProcess({
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "berth-under-test",
        OTEL_BSP_SCHEDULE_DELAY: "200",
      },
      config: async (port) => {
        const file = join(dir, "config.yml");
        await writeFile(file, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "storage")}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
        return file;
      },
    });
  });
  after(async () => {
    await berth?.stop();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("exports a span per request of a blob push, named by route, child of the caller's traceparent", async () => {
    const blob = randomBytes(4096);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const started = await fetch(`${berth.url}/v2/traced/app/blobs/uploads/`, { method: "POST" });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get("location")!, berth.url);
    location.searchParams.set("digest", digest);
    assert.equal((await fetch(location, { method: "PUT", body: blob })).status, 201);
    const traceId = randomBytes(16).toString("hex");
    const parentId = randomBytes(8).toString("hex");
    const head = await fetch(`${berth.url}/v2/traced/app/blobs/${digest}`, { method: "HEAD", headers: { traceparent: `00-${traceId}-${parentId}-01` } });
    assert.equal(head.status, 200);

    await eventually(() => {
      const names = receiver.spans.map((span) => span.name);
      assert.ok(names.includes("POST /v2/{name}/blobs/uploads/"), names.join(", "));
      assert.ok(names.includes("PUT /v2/{name}/blobs/uploads/{uuid}"), names.join(", "));
      assert.ok(names.includes("HEAD /v2/{name}/blobs/{digest}"), names.join(", "));
    }, 15_000, () => `spans of the push at the receiver (berth output: ${berth.output()})`);
    const put = receiver.spans.find((span) => span.name === "PUT /v2/{name}/blobs/uploads/{uuid}")!;
    assert.equal(put.attributes["http.route"], "/v2/{name}/blobs/uploads/{uuid}");
    assert.equal(Number(put.attributes["http.response.status_code"]), 201);
    assert.equal(put.service, "berth-under-test");
    const headSpan = receiver.spans.find((span) => span.name === "HEAD /v2/{name}/blobs/{digest}")!;
    assert.equal(headSpan.traceId, traceId);
    assert.equal(headSpan.parentSpanId, parentId);
  });

  it("is off without OTEL_* variables asking for traces, and with exporter none or the SDK disabled", () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: "x" }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp" }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), false);
    assert.equal(tracingRequested({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }), false);
  });
});
