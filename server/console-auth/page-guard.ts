import type { ConsoleHandler } from "../console.js";
import { hasRole, type Role } from "./roles.js";
import type { Sessions } from "./sessions.js";

/** Console pages beyond a viewer's reach, by path prefix; the API refuses their procedures too. */
const restrictedPages: { prefix: string; role: Role }[] = [
  { prefix: "/users", role: "admin" },
  { prefix: "/config", role: "admin" },
];

/** The role a console page needs (query and Next.js's `_rsc` navigation requests included). */
export function pageRole(url: string): Role {
  const path = url.split(/[?#]/)[0] ?? "/";
  return restrictedPages.find(({ prefix }) => path === prefix || path.startsWith(`${prefix}/`))?.role ?? "viewer";
}

/**
 * The console's pages behind a session: without one, to the login page; with a role the page
 * does not allow, 403 (the navigation hides such pages, so only a typed or stale URL gets here).
 */
export function guardConsole(sessions: Sessions, handler: ConsoleHandler): ConsoleHandler {
  return async (req, res) => {
    const url = req.url ?? "/";
    // What the login page itself needs; everything else in the console wants a session.
    const isPublic =
      url === "/login" || url.startsWith("/login?") || url.startsWith("/_next/static/") || url === "/favicon.ico" || url === "/robots.txt" ||
      // The tab and home-screen icons, fetched before (and regardless of) a session.
      url === "/icon.svg" || url === "/apple-touch-icon.png";
    if (isPublic) return handler(req, res);
    const session = await sessions.fromRequest(req);
    if (!session) {
      res.writeHead(302, { Location: `/login?next=${encodeURIComponent(url)}`, "Cache-Control": "no-store" });
      res.end();
      return;
    }
    const needed = pageRole(url);
    if (hasRole(session.role, needed)) return handler(req, res);
    const body = `This page needs the ${needed} role; ${session.user} is a ${session.role}.\n`;
    res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
    res.end(body);
  };
}
