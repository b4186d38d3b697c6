/** A `http.addr` value split for `server.listen`: ":5000", "0.0.0.0:5000", "[::1]:5000", "localhost:0". */
export interface ListenAddress {
  host: string | undefined;
  port: number;
}

export function parseListenAddress(addr: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new Error(`invalid listen address ${JSON.stringify(addr)}: expected [host]:port`);
  }
  const host = match[1] ?? match[2];
  return { host: host ? host : undefined, port };
}
