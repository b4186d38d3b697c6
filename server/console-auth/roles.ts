/**
 * What a console user may do, each role including the ones before it: a viewer browses; a
 * maintainer also deletes images and tags, runs cleanup and garbage collection, switches
 * read-only mode and evicts cached images; an admin also edits the configuration, switches
 * registry auth and manages console users. The API enforces them (server/api/trpc.ts); the
 * console imports this file too, to hide what the user's role cannot do.
 */
export const roles = ["viewer", "maintainer", "admin"] as const;
export type Role = (typeof roles)[number];

/** Whether `role` includes what `needed` may do. */
export function hasRole(role: Role, needed: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(needed);
}
