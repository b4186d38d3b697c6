"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc";

const roleHelp = {
  viewer: "A viewer sees everything; changes need a maintainer or an admin.",
  maintainer: "A maintainer deletes images, runs cleanups and garbage collection; configuration, auth and users need an admin.",
};

export function UserMenu() {
  const trpc = useTRPC();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  const logout = useMutation(trpc.auth.logout.mutationOptions({ onSettled: () => window.location.assign("/login") }));
  if (!me.data) return null;
  return (
    <div className="ml-auto flex items-center gap-2 text-sm sm:gap-3">
      <span data-testid="current-user" className="max-w-[8rem] truncate text-slate-700 sm:max-w-none dark:text-slate-200">
        {me.data.user}
      </span>
      {/* The API refuses what the role does not allow (403); say so before they try. */}
      {me.data.role !== "admin" ? (
        <span data-testid="current-role" title={roleHelp[me.data.role]} className="rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300">
          {me.data.role === "viewer" ? "viewer (read-only)" : me.data.role}
        </span>
      ) : null}
      <button type="button" onClick={() => logout.mutate()} className="shrink-0 rounded border border-slate-300 px-3 py-1 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800">
        Log out
      </button>
    </div>
  );
}
