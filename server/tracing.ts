import type { RequestListener } from "node:http";
import type { Logger } from "./log.js";
import { matchRoute, type Route } from "./registry/http/router.js";

/**
 * OpenTelemetry tracing, configured only by the standard `OTEL_*` variables as distribution 3.x
 * is. The SDK is imported only when they ask for traces, so a Berth without them starts and runs
 * without it.
 */
export interface Tracing {
  /** Wraps the registry's listener (paths from `/v2/`): one server span per request, a `traceparent` header its parent. */
  wrap(handler: RequestListener): RequestListener;
  /** Sends the spans still buffered and stops the SDK. */
  close(): Promise<void>;
}

/** Traces are asked for by an exporter or an OTLP endpoint; `OTEL_SDK_DISABLED` or exporter `none` turn them off. */
export function tracingRequested(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter) return exporter !== "none";
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function startTracing(logger: Logger, version: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const [api, { NodeSDK }] = await Promise.all([import("@opentelemetry/api"), import("@opentelemetry/sdk-node")]);
  // Without a name from the environment the SDK would call the service "unknown_service:node".
  const named = Boolean(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? "");
  const sdk = new NodeSDK({ instrumentations: [], ...(named ? {} : { serviceName: "berth" }) });
  sdk.start();
  logger.info("OpenTelemetry tracing on", { exporter: env.OTEL_TRACES_EXPORTER ?? "otlp", endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT });
  const tracer = api.trace.getTracer("berth", version);
  return {
    wrap: (handler) => (req, res) => {
      const method = req.method ?? "GET";
      const route = routeTemplate(req.url ?? "/");
      const parent = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
      const span = tracer.startSpan(
        route ? `${method} ${route}` : method,
        {
          kind: api.SpanKind.SERVER,
          attributes: { "http.request.method": method, "url.path": (req.url ?? "/").split("?")[0], ...(route ? { "http.route": route } : {}) },
        },
        parent,
      );
      res.once("close", () => {
        span.setAttribute("http.response.status_code", res.statusCode);
        if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: api.SpanStatusCode.ERROR });
        span.end();
      });
      api.context.with(api.trace.setSpan(parent, span), () => handler(req, res));
    },
    close: () =>
      sdk.shutdown().catch((error: unknown) => {
        logger.warn("OpenTelemetry shutdown failed", { error: String(error) });
      }),
  };
}

const templates: Record<Route["kind"], string> = {
  base: "/v2/",
  catalog: "/v2/_catalog",
  tags: "/v2/{name}/tags/list",
  manifest: "/v2/{name}/manifests/{reference}",
  blob: "/v2/{name}/blobs/{digest}",
  uploads: "/v2/{name}/blobs/uploads/",
  upload: "/v2/{name}/blobs/uploads/{uuid}",
  referrers: "/v2/{name}/referrers/{digest}",
};

/** The low-cardinality route a span is named by (never the repository or digest themselves). */
function routeTemplate(url: string): string | undefined {
  try {
    const route = matchRoute(url.split("?")[0] ?? "/");
    return route ? templates[route.kind] : undefined;
  } catch {
    return undefined;
  }
}
