"use client";

import { useQuery } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { hasRole, type Role } from "@/server/console-auth/roles";
import { useTRPC } from "./trpc";

const noSubscribe = () => () => undefined;

/** The browser's host, after hydration ("" on the server). */
function useLocationHost(): string {
  return useSyncExternalStore(
    noSubscribe,
    () => window.location.host,
    () => "",
  );
}

/**
 * The registry's host as `docker pull` needs it: `http.host` when configured, else the address
 * this console was reached on (the registry answers on the same port).
 */
export function useRegistryHost(): string {
  const trpc = useTRPC();
  const configured = useQuery({ ...trpc.config.host.queryOptions(), staleTime: 60_000, retry: false });
  const location = useLocationHost();
  return configured.data?.host ?? location;
}

/** Whether a session exists (the header shows nothing that needs one on the login page). */
export function useSignedIn(): boolean {
  return useMe().isSuccess;
}

function useMe() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.auth.me.queryOptions(), retry: false, staleTime: 60_000 });
}

/**
 * Whether the user's role allows what `role` may do: false until known. Only hides actions; the
 * API and the page guard refuse them anyway.
 */
export function useCan(role: Role): boolean {
  const me = useMe().data;
  return me !== undefined && hasRole(me.role, role);
}

/**
 * Read-only state and the running garbage collection, polled: fast while something runs, slowly
 * otherwise. Shared by the banner and the GC page (one query each, deduplicated by TanStack Query).
 */
export function useMaintenance({ enabled = true, fast = false }: { enabled?: boolean; fast?: boolean } = {}) {
  const trpc = useTRPC();
  const gc = useQuery({
    ...trpc.maintenance.gcStatus.queryOptions(),
    enabled,
    retry: false,
    // `fast`: a run was just started (it takes its lock after the request answered).
    refetchInterval: (query) => (query.state.data?.running || fast ? 700 : 5_000),
  });
  const running = gc.data?.running ?? null;
  const readOnly = useQuery({
    ...trpc.maintenance.readOnly.queryOptions(),
    enabled,
    retry: false,
    refetchInterval: running || fast ? 1_000 : 5_000,
  });
  return { gc, running, readOnly: readOnly.data ?? null, readOnlyQuery: readOnly };
}
