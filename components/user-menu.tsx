"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc";

export function UserMenu() {
  const trpc = useTRPC();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  const logout = useMutation(trpc.auth.logout.mutationOptions({ onSettled: () => window.location.assign("/login") }));
  if (!me.data) return null;
  return (
    <div className="ml-auto flex items-center gap-3 text-sm">
      <span data-testid="current-user" className="text-slate-600">
        {me.data.user}
      </span>
      <button type="button" onClick={() => logout.mutate()} className="rounded border border-slate-300 px-3 py-1 hover:bg-slate-100">
        Log out
      </button>
    </div>
  );
}
