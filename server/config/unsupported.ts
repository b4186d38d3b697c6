/**
 * distribution keys Berth leaves out on purpose, each with the reason `berth config validate`
 * prints. Unlike an unimplemented key, nothing is planned for these: the reason says what to use.
 */
export const unsupportedKeys: ReadonlyMap<string, string> = new Map([
  [
    "http.tls.letsencrypt",
    "not supported on purpose: Berth runs no ACME client; give it certificate files (http.tls.certificate and key) that certbot or a TLS-terminating proxy renews",
  ],
  [
    "reporting",
    "not supported on purpose: distribution 3.0 removed bugsnag and newrelic reporting; use log.hooks, Prometheus metrics (http.debug.prometheus) or OpenTelemetry (OTEL_* variables)",
  ],
  [
    "middleware",
    "not supported on purpose: distribution's middlewares (cloudfront, redirect, alicdn, rewrite) are Go code built into its binary; for direct downloads from object storage use storage.redirect",
  ],
  [
    "compatibility",
    "not supported on purpose: Berth serves Docker schema1 manifests already in storage but, like distribution 3.0, accepts pushes of schema2 and OCI manifests only (docker 1.10 and later push those)",
  ],
]);
