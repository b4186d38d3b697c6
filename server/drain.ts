import type { IncomingMessage } from "node:http";
import type { Http2Session } from "node:http2";
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/**
 * Stops a server the way `http.draintimeout` asks: no new connections, idle ones closed at once,
 * requests in flight (a layer upload) allowed to finish until `timeoutMs`, then every connection
 * dropped. Works for plain HTTP, HTTPS and HTTP/2 servers (HTTP/2 sessions get a GOAWAY and close
 * when their streams end).
 */
export interface Drain {
  drain(timeoutMs: number): Promise<void>;
}

/** Starts counting the server's connections and their requests; call before `listen`. */
export function trackConnections(server: Server, secure: boolean): Drain {
  // HTTP/1 connections and their requests in flight; HTTP/2 connections are tracked as sessions.
  const requests = new Map<Socket, number>();
  const sessions = new Set<Http2Session>();
  let draining = false;

  server.on(secure ? "secureConnection" : "connection", (socket: Socket) => {
    if ((socket as TLSSocket).alpnProtocol === "h2") return;
    if (draining) return void socket.destroy();
    requests.set(socket, 0);
    socket.once("close", () => requests.delete(socket));
  });
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (draining) session.close();
  });
  server.on("request", (req: IncomingMessage, res: { once(event: "close", listener: () => void): unknown }) => {
    const socket = req.socket;
    const count = requests.get(socket);
    if (count === undefined) return;
    requests.set(socket, count + 1);
    res.once("close", () => {
      const left = (requests.get(socket) ?? 1) - 1;
      requests.set(socket, left);
      // The response is written: a draining server ends the connection instead of keeping it alive.
      if (draining && left === 0) socket.end();
    });
  });

  return {
    async drain(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [socket, count] of requests) if (count === 0) socket.end();
      for (const session of sessions) session.close();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([closed, expired]);
      clearTimeout(timer);
      for (const socket of requests.keys()) socket.destroy();
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
