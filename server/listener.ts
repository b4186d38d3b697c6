import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { Server as NetServer } from "node:net";
import type { SecureVersion } from "node:tls";
import type { Config } from "./config/schema.js";
import { trackConnections, type Drain } from "./drain.js";

export type Listener = Server | Http2SecureServer;

export interface ListenerOptions {
  /** With TLS, also speak HTTP/2 (ALPN `h2`); HTTP/1.1 clients are served as before. */
  http2?: boolean;
}

/**
 * An HTTP or, with `http.tls`, an HTTPS server (client certificates required with `clientcas`),
 * HTTP/2 as well when asked. `drain` stops it as `http.draintimeout` says.
 */
export function createListener(tls: Config["http"]["tls"], handler: RequestListener, options: ListenerOptions = {}): { server: Listener } & Drain {
  if (!tls?.certificate || !tls.key) return withDrain(patientHttp(createHttpServer(handler)), false);
  const clientCAs = tls.clientcas?.map((file) => readFileSync(file));
  const secure = {
    cert: readFileSync(tls.certificate),
    key: readFileSync(tls.key),
    ...(tls.minimumtls ? { minVersion: tlsVersion(tls.minimumtls) } : {}),
    ...(clientCAs?.length ? { ca: clientCAs, requestCert: true, rejectUnauthorized: true } : {}),
  };
  if (!options.http2) return withDrain(patientHttp(createHttpsServer(secure, handler)), true);
  return withDrain(createSecureServer({ ...secure, allowHTTP1: true }, http2Compat(handler)), true);
}

function withDrain(server: Listener, secure: boolean): { server: Listener } & Drain {
  const { drain } = trackConnections(server as NetServer, secure);
  return { server, drain };
}

/** Layer uploads can take longer than Node's default request timeout. */
function patientHttp(server: Server): Server {
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * Node's HTTP/2 compatibility objects stand in for IncomingMessage and ServerResponse; the one
 * difference the handlers see is the host, which HTTP/2 sends as `:authority`.
 */
function http2Compat(handler: RequestListener): (req: Http2ServerRequest, res: Http2ServerResponse) => void {
  return (req, res) => {
    if (req.headers.host === undefined && req.authority) req.headers.host = req.authority;
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  };
}

function tlsVersion(value: string): SecureVersion {
  const versions: Record<string, SecureVersion> = { "tls1.0": "TLSv1", "tls1.1": "TLSv1.1", "tls1.2": "TLSv1.2", "tls1.3": "TLSv1.3" };
  return versions[value] ?? "TLSv1.2";
}

export async function listen(server: Listener, addr: { host: string | undefined; port: number }): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : addr.port;
}
