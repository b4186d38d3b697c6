import type { MirrorCounts } from "./proxy/stats.js";
import type { RequestRecord } from "./registry/handler.js";

/** Request latency buckets in seconds, from a cached manifest GET to a large layer push. */
const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/**
 * The registry's Prometheus metrics (`http.debug.prometheus`), rendered in the text exposition
 * format: requests and latency by endpoint, method and status; bytes in and out; upload
 * sessions; server errors; and the pull-through cache's hits, misses, upstream errors and bytes
 * per upstream.
 */
export class RegistryMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private bytesIn = 0;
  private bytesOut = 0;
  private serverErrors = 0;

  constructor(
    private readonly uploads: () => { started: number; completed: number; cancelled: number },
    /** The pull-through cache's counts by upstream, read at each scrape; undefined without a cache. */
    private readonly proxy: () => { id: string; counts: MirrorCounts }[] | undefined = () => undefined,
  ) {}

  observe(record: RequestRecord): void {
    const labels = `route="${record.route}",method="${record.method}",status="${record.status}"`;
    this.requests.set(labels, (this.requests.get(labels) ?? 0) + 1);
    const key = `route="${record.route}",method="${record.method}"`;
    const histogram = this.latency.get(key) ?? { counts: buckets.map(() => 0), sum: 0, count: 0 };
    const seconds = record.durationMs / 1000;
    buckets.forEach((bound, i) => {
      if (seconds <= bound) histogram.counts[i] = (histogram.counts[i] ?? 0) + 1;
    });
    histogram.sum += seconds;
    histogram.count += 1;
    this.latency.set(key, histogram);
    this.bytesIn += record.bytesIn;
    this.bytesOut += record.bytesOut;
    if (record.status >= 500) this.serverErrors += 1;
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    metric("berth_http_requests_total", "counter", "Registry API requests by endpoint, method and status.");
    for (const [labels, value] of this.requests) lines.push(`berth_http_requests_total{${labels}} ${value}`);
    metric("berth_http_request_duration_seconds", "histogram", "Registry API request latency.");
    for (const [labels, h] of this.latency) {
      buckets.forEach((bound, i) => lines.push(`berth_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${h.counts[i]}`));
      lines.push(`berth_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`berth_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`berth_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    metric("berth_http_received_bytes_total", "counter", "Bytes received by the registry API, headers included.");
    lines.push(`berth_http_received_bytes_total ${this.bytesIn}`);
    metric("berth_http_sent_bytes_total", "counter", "Bytes sent by the registry API, headers included.");
    lines.push(`berth_http_sent_bytes_total ${this.bytesOut}`);
    const uploads = this.uploads();
    metric("berth_upload_sessions_started_total", "counter", "Blob upload sessions started.");
    lines.push(`berth_upload_sessions_started_total ${uploads.started}`);
    metric("berth_upload_sessions_completed_total", "counter", "Blob upload sessions completed into a blob.");
    lines.push(`berth_upload_sessions_completed_total ${uploads.completed}`);
    metric("berth_upload_sessions_cancelled_total", "counter", "Blob upload sessions cancelled or discarded.");
    lines.push(`berth_upload_sessions_cancelled_total ${uploads.cancelled}`);
    metric("berth_http_server_errors_total", "counter", "Requests answered with a 5xx (storage failures).");
    lines.push(`berth_http_server_errors_total ${this.serverErrors}`);
    const mirrors = this.proxy();
    if (mirrors) {
      // Upstream ids are repository name prefixes or "proxy": nothing in them needs escaping.
      const perUpstream = (name: string, help: string, value: (counts: MirrorCounts) => number) => {
        metric(name, "counter", help);
        for (const { id, counts } of mirrors) lines.push(`${name}{upstream="${id}"} ${value(counts)}`);
      };
      perUpstream("berth_proxy_hits_total", "Manifests and blobs the pull-through cache served from storage.", (c) => c.hits);
      perUpstream("berth_proxy_misses_total", "Manifests and blobs the pull-through cache fetched from the upstream.", (c) => c.misses);
      perUpstream("berth_proxy_upstream_errors_total", "Upstream requests of the pull-through cache that failed.", (c) => c.upstreamErrors);
      metric("berth_proxy_bytes_total", "counter", "Blob bytes the pull-through cache served from storage (source=cache) or fetched from the upstream (source=upstream).");
      for (const { id, counts } of mirrors) {
        lines.push(`berth_proxy_bytes_total{upstream="${id}",source="cache"} ${counts.bytesFromCache}`);
        lines.push(`berth_proxy_bytes_total{upstream="${id}",source="upstream"} ${counts.bytesFetched}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
