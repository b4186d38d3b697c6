// The image's HEALTHCHECK: GET /v2/ on the local port answers 200 (open registry) or 401 (auth
// on). BERTH_HEALTHCHECK_URL overrides the address (another port, or https).
const url = process.env.BERTH_HEALTHCHECK_URL || "http://127.0.0.1:5000/v2/";
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exit(response.status === 200 || response.status === 401 ? 0 : 1);
} catch {
  process.exit(1);
}
