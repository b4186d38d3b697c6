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

/** Longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
const maxSocketPathBytes = 107;

/**
 * Checks `http.addr` (or `http.debug.addr`) for the given `http.net`; returns what is wrong, or
 * undefined. tcp/tcp4/tcp6 want `[host]:port`; unix wants a socket path.
 */
export function checkListenAddress(addr: string, net = "tcp"): string | undefined {
  if (net === "unix") {
    if (addr.trim() === "") return "must be the path of a unix socket when http.net is unix";
    if (addr.includes("\0")) return "a unix socket path cannot contain NUL characters";
    if (Buffer.byteLength(addr) > maxSocketPathBytes) {
      return `unix socket path is ${Buffer.byteLength(addr)} bytes; the limit is ${maxSocketPathBytes}`;
    }
    return undefined;
  }
  try {
    parseListenAddress(addr);
    return undefined;
  } catch {
    return `${JSON.stringify(addr)} is not a listen address: expected [host]:port such as ":5000", "0.0.0.0:5000" or "[::1]:5000"${
      addr.startsWith("/") ? ' (for a unix socket set http.net: unix)' : ""
    }`;
  }
}
