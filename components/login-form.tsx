"use client";

import { useMutation } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useTRPC } from "./trpc";

/** Where to go after logging in: only a path on this site, never another origin. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function LoginForm() {
  const trpc = useTRPC();
  const params = useSearchParams();
  const [user, setUser] = useState("admin");
  const [password, setPassword] = useState("");
  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: () => window.location.assign(safeNext(params.get("next"))),
    }),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate({ user, password });
  };

  return (
    <form onSubmit={submit} className="space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <label className="block text-sm">
        <span className="text-slate-600">User</span>
        <input
          name="user"
          autoComplete="username"
          value={user}
          onChange={(e) => setUser(e.target.value)}
          className="mt-1 w-full rounded border border-slate-300 px-3 py-2"
          required
        />
      </label>
      <label className="block text-sm">
        <span className="text-slate-600">Password</span>
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          className="mt-1 w-full rounded border border-slate-300 px-3 py-2"
          required
        />
      </label>
      {login.isError ? (
        <p role="alert" data-testid="login-error" className="text-sm text-red-700">
          {login.error.message}
        </p>
      ) : null}
      <button
        type="submit"
        disabled={login.isPending}
        className="w-full rounded bg-slate-900 px-4 py-2 font-medium text-white hover:bg-slate-700 disabled:opacity-50"
      >
        {login.isPending ? "Logging in…" : "Log in"}
      </button>
    </form>
  );
}
