import type { ServerResponse } from "node:http";
import { Counter, Histogram, Registry } from "prom-client";
import type { Logger } from "./log.js";
import type { MirrorCounts } from "./proxy/stats.js";
import type { RequestRecord } from "./registry/handler.js";

/** Request latency buckets in seconds, from a cached manifest GET to a large layer push. */
const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type UploadCounts = { started: number; completed: number; cancelled: number };

/**
 * The registry's Prometheus metrics (`http.debug.prometheus`) on prom-client: requests and
 * latency by endpoint, method and status; bytes in and out; upload sessions; server errors; and
 * the pull-through cache's hits, misses, upstream errors and bytes per upstream. Each instance
 * has its own registry, so several engines in one process keep separate counts.
 */
export class RegistryMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"route" | "method" | "status">;
  private readonly latency: Histogram<"route" | "method">;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly serverErrors: Counter;
  private proxyRegistered = false;

  constructor(
    uploads: () => UploadCounts,
    /** The pull-through cache's counts by upstream, read at each scrape; undefined without a cache. */
    private readonly proxy: () => { id: string; counts: MirrorCounts }[] | undefined = () => undefined,
  ) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "berth_http_requests_total",
      help: "Registry API requests by endpoint, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "berth_http_request_duration_seconds",
      help: "Registry API request latency.",
      labelNames: ["route", "method"],
      buckets,
      registers,
    });
    this.bytesIn = new Counter({ name: "berth_http_received_bytes_total", help: "Bytes received by the registry API, headers included.", registers });
    this.bytesOut = new Counter({ name: "berth_http_sent_bytes_total", help: "Bytes sent by the registry API, headers included.", registers });
    // Upload sessions and the cache keep their own counts; these counters copy them at each scrape.
    const uploadCounter = (name: string, help: string, key: keyof UploadCounts) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(uploads()[key]);
        },
      });
    uploadCounter("berth_upload_sessions_started_total", "Blob upload sessions started.", "started");
    uploadCounter("berth_upload_sessions_completed_total", "Blob upload sessions completed into a blob.", "completed");
    uploadCounter("berth_upload_sessions_cancelled_total", "Blob upload sessions cancelled or discarded.", "cancelled");
    this.serverErrors = new Counter({ name: "berth_http_server_errors_total", help: "Requests answered with a 5xx (storage failures).", registers });
  }

  observe(record: RequestRecord): void {
    this.requests.inc({ route: record.route, method: record.method, status: record.status });
    this.latency.observe({ route: record.route, method: record.method }, record.durationMs / 1000);
    this.bytesIn.inc(record.bytesIn);
    this.bytesOut.inc(record.bytesOut);
    if (record.status >= 500) this.serverErrors.inc();
  }

  /** Answers a scrape of `http.debug.prometheus.path`; a failed collection is a 500, never a crash. */
  async respond(res: ServerResponse, logger: Logger): Promise<void> {
    try {
      const body = await this.render();
      res.writeHead(200, { "Content-Type": this.registry.contentType, "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      logger.error("metrics collection failed", { error: String(error) });
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("metrics collection failed\n");
    }
  }

  /** The text exposition format. */
  render(): Promise<string> {
    // Registered at the first scrape, when the engine that owns the cache exists; without a cache
    // there are no cache metrics at all, not empty ones.
    if (!this.proxyRegistered && this.proxy() !== undefined) {
      registerProxyMetrics(this.registry, this.proxy);
      this.proxyRegistered = true;
    }
    return this.registry.metrics();
  }
}

function registerProxyMetrics(registry: Registry, proxy: () => { id: string; counts: MirrorCounts }[] | undefined): void {
  const perUpstream = (name: string, help: string, value: (counts: MirrorCounts) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["upstream"],
      registers: [registry],
      collect() {
        this.reset();
        for (const { id, counts } of proxy() ?? []) this.inc({ upstream: id }, value(counts));
      },
    });
  perUpstream("berth_proxy_hits_total", "Manifests and blobs the pull-through cache served from storage.", (c) => c.hits);
  perUpstream("berth_proxy_misses_total", "Manifests and blobs the pull-through cache fetched from the upstream.", (c) => c.misses);
  perUpstream("berth_proxy_upstream_errors_total", "Upstream requests of the pull-through cache that failed.", (c) => c.upstreamErrors);
  new Counter({
    name: "berth_proxy_bytes_total",
    help: "Blob bytes the pull-through cache served from storage (source=cache) or fetched from the upstream (source=upstream).",
    labelNames: ["upstream", "source"],
    registers: [registry],
    collect() {
      this.reset();
      for (const { id, counts } of proxy() ?? []) {
        this.inc({ upstream: id, source: "cache" }, counts.bytesFromCache);
        this.inc({ upstream: id, source: "upstream" }, counts.bytesFetched);
      }
    },
  });
}
