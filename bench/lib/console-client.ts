import http from "node:http";

// The console's tRPC API over one kept-alive connection, as a logged-in admin.

const REQUEST_TIMEOUT = 60_000;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

function request(agent: http.Agent, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: options.method ?? "GET", headers: options.headers, timeout: REQUEST_TIMEOUT }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
    });
    req.once("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${url} took longer than ${REQUEST_TIMEOUT} ms`)));
    req.once("error", reject);
    req.end(options.body);
  });
}

export class ApiClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private cookie = "";

  constructor(
    private readonly base: string,
    private readonly password: string,
  ) {}

  async login(): Promise<void> {
    const body = JSON.stringify({ user: "admin", password: this.password });
    const answer = await request(this.agent, `${this.base}/api/trpc/auth.login`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) },
      body,
    });
    if (answer.status !== 200) throw new Error(`auth.login answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    const setCookie = answer.headers["set-cookie"] ?? [];
    const session = setCookie.map((c) => /^berth_session=([^;]+)/.exec(c)?.[1]).find((v) => v !== undefined);
    if (!session) throw new Error(`auth.login set no berth_session cookie (Set-Cookie: ${setCookie.join(" | ")})`);
    this.cookie = `berth_session=${session}`;
  }

  /** A tRPC query (GET, input as URL-encoded JSON); returns the data and the round trip. */
  async query<T>(path: string, input?: unknown): Promise<{ data: T; ms: number }> {
    const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    const answer = await request(this.agent, `${this.base}/api/trpc/${path}${query}`, { headers: { Cookie: this.cookie } });
    if (answer.status !== 200) throw new Error(`${path} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    const parsed = JSON.parse(answer.body) as { result?: { data?: T } };
    if (parsed.result?.data === undefined) throw new Error(`${path}: no result.data in ${answer.body.slice(0, 300)}`);
    return { data: parsed.result.data, ms: answer.ms };
  }

  close(): void {
    this.agent.destroy();
  }
}
