/** Prometheus metrics of two engines in one process: each instance counts only its own requests. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegistryMetrics } from "./metrics.js";

const noUploads = () => ({ started: 0, completed: 0, cancelled: 0 });
const request = { method: "GET", path: "/v2/", route: "base", status: 200, durationMs: 3, bytesIn: 100, bytesOut: 50, remote: "127.0.0.1", userAgent: "test" };

describe("registry metrics", () => {
  it("keeps separate counts per instance, in the exposition format", async () => {
    const a = new RegistryMetrics(noUploads);
    const b = new RegistryMetrics(() => ({ started: 4, completed: 3, cancelled: 1 }));
    a.observe(request);
    a.observe({ ...request, status: 503 });
    b.observe(request);
    const [textA, textB] = await Promise.all([a.render(), b.render()]);
    for (const line of [
      'berth_http_requests_total{route="base",method="GET",status="200"} 1',
      'berth_http_requests_total{route="base",method="GET",status="503"} 1',
      'berth_http_request_duration_seconds_bucket{le="0.005",route="base",method="GET"} 2',
      'berth_http_request_duration_seconds_count{route="base",method="GET"} 2',
      "berth_http_received_bytes_total 200",
      "berth_http_server_errors_total 1",
      "berth_upload_sessions_started_total 0",
      "# TYPE berth_http_request_duration_seconds histogram",
    ]) {
      assert.ok(textA.split("\n").includes(line), `instance a lacks ${line}:\n${textA}`);
    }
    for (const line of ["berth_http_received_bytes_total 100", "berth_http_server_errors_total 0", "berth_upload_sessions_started_total 4", "berth_upload_sessions_cancelled_total 1"]) {
      assert.ok(textB.split("\n").includes(line), `instance b lacks ${line}:\n${textB}`);
    }
  });
});
