import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { SwiftDriverOptions } from "./swift-options.js";

export interface SwiftResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, unread: a caller that does not stream it calls text() or drain(). */
  body: IncomingMessage;
}

/** An unexpected answer from the object store. */
export class SwiftError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "SwiftError";
  }
}

export async function text(response: SwiftResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function bytes(response: SwiftResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function drain(response: SwiftResponse): void {
  response.body.resume();
}

/**
 * Swift's object API over node:http(s) with keep-alive connections, authenticated with a token
 * that is fetched on first use and again when the store answers 401 (it expired).
 */
export class SwiftClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly https: HttpsAgent;
  private session: Promise<{ storageURL: string; token: string }> | undefined;
  /** The container, created on first use as distribution's driver does (PUT is idempotent). */
  private container: Promise<void> | undefined;

  constructor(private readonly options: SwiftDriverOptions) {
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: !options.insecureSkipVerify });
  }

  /**
   * A request for `path` below the container ("" for the container itself; query included),
   * answered with any status: callers decide which are errors.
   */
  async request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<SwiftResponse> {
    if (path !== "") await this.ensureContainer();
    for (let attempt = 0; ; attempt++) {
      const session = await this.authenticated();
      const url = `${session.storageURL}/${encodeURIComponent(this.options.container)}${path === "" || path.startsWith("?") ? "" : "/"}${path}`;
      let response: SwiftResponse;
      try {
        response = await this.send(method, url, { ...headers, "X-Auth-Token": session.token }, body);
      } catch (error) {
        // A kept-alive connection the server closed as it was reused: every request here can be
        // sent again (bodies are buffers, PUTs replace whole objects).
        if (attempt > 0 || !isReset(error)) throw error;
        continue;
      }
      if (response.status !== 401 || attempt > 0) return response;
      drain(response);
      this.session = undefined;
    }
  }

  send(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<SwiftResponse> {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    return new Promise((resolve, reject) => {
      const outgoing = (secure ? httpsRequest : httpRequest)(
        target,
        { method, agent: secure ? this.https : this.http, headers: { ...headers, "Content-Length": String(body?.length ?? 0) } },
        (incoming) => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: incoming }),
      );
      outgoing.once("error", reject);
      outgoing.end(body);
    });
  }

  private ensureContainer(): Promise<void> {
    const pending = (this.container ??= (async () => {
      const response = await this.request("PUT", "");
      drain(response);
      if (response.status >= 300) throw new SwiftError(response.status, `swift: cannot create container ${this.options.container} (HTTP ${response.status})`);
    })());
    pending.catch(() => {
      if (this.container === pending) this.container = undefined;
    });
    return pending;
  }

  private authenticated(): Promise<{ storageURL: string; token: string }> {
    const session = (this.session ??= this.options.authVersion === 3 ? this.keystone() : this.tempAuth());
    session.catch(() => {
      if (this.session === session) this.session = undefined;
    });
    return session;
  }

  /** TempAuth-style v1: the user and key in headers, the storage URL and token in the answer's. */
  private async tempAuth(): Promise<{ storageURL: string; token: string }> {
    const response = await this.send("GET", this.options.authURL, { "X-Auth-User": this.options.username, "X-Auth-Key": this.options.password });
    drain(response);
    const storageURL = header(response, "x-storage-url");
    const token = header(response, "x-auth-token") ?? header(response, "x-storage-token");
    if (response.status >= 300 || !storageURL || !token) {
      throw new SwiftError(response.status, `swift: authentication at ${this.options.authURL} failed (HTTP ${response.status})`);
    }
    return { storageURL: storageURL.replace(/\/+$/, ""), token };
  }

  /**
   * Keystone v3 password authentication, scoped to the tenant (project) when one is named; the
   * object store's endpoint comes from the token's catalog (region and interface as configured).
   */
  private async keystone(): Promise<{ storageURL: string; token: string }> {
    const o = this.options;
    const userDomain = o.domainId ? { id: o.domainId } : { name: o.domain ?? "Default" };
    const projectDomain = o.tenantDomainId ? { id: o.tenantDomainId } : o.tenantDomain ? { name: o.tenantDomain } : userDomain;
    const project = o.tenantId ? { id: o.tenantId } : o.tenant ? { name: o.tenant, domain: projectDomain } : undefined;
    const request = {
      auth: {
        identity: { methods: ["password"], password: { user: { name: o.username, domain: userDomain, password: o.password } } },
        ...(project ? { scope: { project } } : {}),
      },
    };
    const url = `${o.authURL.replace(/\/auth\/tokens$/, "")}/auth/tokens`;
    const response = await this.send("POST", url, { "Content-Type": "application/json" }, Buffer.from(JSON.stringify(request)));
    const answer = await text(response);
    const token = header(response, "x-subject-token");
    if (response.status >= 300 || !token) throw new SwiftError(response.status, `swift: Keystone authentication at ${url} failed (HTTP ${response.status})`);
    const catalog = (JSON.parse(answer) as { token?: { catalog?: CatalogEntry[] } }).token?.catalog ?? [];
    const endpoint = catalog
      .filter((service) => service.type === "object-store")
      .flatMap((service) => service.endpoints ?? [])
      .find((candidate) => candidate.interface === o.endpointType && (o.region === undefined || candidate.region === o.region || candidate.region_id === o.region));
    if (!endpoint?.url) throw new Error(`swift: Keystone's catalog has no ${o.endpointType} object-store endpoint${o.region ? ` in region ${o.region}` : ""}`);
    return { storageURL: endpoint.url.replace(/\/+$/, ""), token };
  }
}

interface CatalogEntry {
  type?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[];
}

function isReset(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

export function header(response: SwiftResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
