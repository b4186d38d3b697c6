import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { SecureVersion } from "node:tls";
import type { Config } from "./config/schema.js";

/** An HTTP or, with `http.tls`, an HTTPS server (client certificates required with `clientcas`). */
export function createListener(tls: Config["http"]["tls"], handler: RequestListener): Server {
  if (!tls?.certificate || !tls.key) return createHttpServer(handler);
  const clientCAs = tls.clientcas?.map((file) => readFileSync(file));
  return createHttpsServer(
    {
      cert: readFileSync(tls.certificate),
      key: readFileSync(tls.key),
      ...(tls.minimumtls ? { minVersion: tlsVersion(tls.minimumtls) } : {}),
      ...(clientCAs?.length ? { ca: clientCAs, requestCert: true, rejectUnauthorized: true } : {}),
    },
    handler,
  );
}

function tlsVersion(value: string): SecureVersion {
  const versions: Record<string, SecureVersion> = { "tls1.0": "TLSv1", "tls1.1": "TLSv1.1", "tls1.2": "TLSv1.2", "tls1.3": "TLSv1.3" };
  return versions[value] ?? "TLSv1.2";
}

export async function listen(server: Server, addr: { host: string | undefined; port: number }): Promise<number> {
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
