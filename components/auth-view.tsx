"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { formatAgo, formatDuration, formatTime } from "./format";
import { useCan } from "./hooks";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, cx, Dialog, Empty, ErrorBox, Facts, inputClass, Loading, NeedsRole, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

/** Registry auth: the etcd key LAIN uses to switch token auth, and the built-in token server. */
export function AuthView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useQuery({ ...trpc.registryAuth.status.queryOptions(), refetchInterval: 5_000 });
  const isAdmin = useCan("admin");
  // Its users and rules are for admins (the API refuses the query to the others).
  const tokenServer = useQuery({ ...trpc.registryAuth.tokenServer.queryOptions(), enabled: isAdmin });
  const [confirm, setConfirm] = useState<"enable" | "disable" | null>(null);
  const [form, setForm] = useState<{ realm: string; issuer: string; service: string } | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.registryAuth.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.system.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.config.activity.queryKey() });
  };
  const enable = useMutation(trpc.registryAuth.enableToken.mutationOptions({ onSuccess: () => (setConfirm(null), refresh()) }));
  const disable = useMutation(trpc.registryAuth.disableToken.mutationOptions({ onSuccess: () => (setConfirm(null), refresh()) }));

  if (status.isPending) return <Loading />;
  if (status.error) return <ErrorBox error={status.error} title="Cannot read the auth state" />;
  const data = status.data;
  const etcd = data.etcd;
  const keyOn = etcd?.value !== null && etcd?.value !== undefined;
  const values = form ?? data.suggestion;

  return (
    <div className="space-y-6">
      <Card title="In force now">
        <Facts
          items={[
            ["Mode", <span key="m" className="font-semibold" data-testid="auth-mode">{data.auth.mode}</span>],
            [
              "From",
              <span key="s" data-testid="auth-source">
                {data.auth.source === "etcd" ? "the etcd key" : `config.yml (auth: ${data.configMode})`}
              </span>,
            ],
            ["Since", <span key="t" title={formatTime(data.auth.since)}>{formatAgo(data.auth.since)}</span>],
            [
              "etcd",
              etcd ? (
                data.auth.connected ? (
                  <Badge key="e" tone="good">connected</Badge>
                ) : (
                  <Badge key="e" tone="bad">unreachable</Badge>
                )
              ) : (
                <span key="e" className="text-slate-500">not configured</span>
              ),
            ],
          ]}
        />
        {data.auth.settings ? (
          <p className="mt-3 text-sm text-slate-600 dark:text-slate-300">
            Token realm <code className="break-all">{data.auth.settings.realm}</code>{" "}
            <span data-testid="realm-server">
              ({data.auth.realmServer === "builtin" ? "served by Berth's built-in token server" : "an external token server, not this Berth"})
            </span>
            , issuer <code>{data.auth.settings.issuer}</code>, service <code>{data.auth.settings.service}</code>.
          </p>
        ) : null}
        {data.auth.lastError ? <ErrorBox error={{ message: data.auth.lastError }} title="Last etcd problem" /> : null}
      </Card>

      <Card title="Token auth switch (etcd)">
        {!etcd ? (
          <p className="text-sm text-slate-600 dark:text-slate-300">
            etcd is not configured. Set <code>etcd.endpoints</code> in config.yml (and restart) to switch docker token auth on and off here, as LAIN does with{" "}
            <code>etcdctl set /lain/config/auth/registry</code>.
          </p>
        ) : (
          <div className="space-y-4 text-sm">
            <div className="flex flex-wrap items-center gap-4">
              {isAdmin ? (
                <button
                  type="button"
                  role="switch"
                  aria-checked={keyOn}
                  onClick={() => {
                    setForm(null);
                    setConfirm(keyOn ? "disable" : "enable");
                  }}
                  className={cx(
                    "relative inline-flex h-7 w-12 shrink-0 items-center rounded-full transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500",
                    keyOn ? "bg-emerald-600" : "bg-slate-300 dark:bg-slate-600",
                  )}
                  data-testid="auth-toggle"
                >
                  <span className="sr-only">Token auth through etcd</span>
                  <span className={cx("inline-block h-5 w-5 rounded-full bg-white shadow transition-transform", keyOn ? "translate-x-6" : "translate-x-1")} />
                </button>
              ) : null}
              <span className="text-base font-medium" data-testid="auth-key-state">
                Token auth is {keyOn ? "ON" : "OFF"}
              </span>
              <span className="text-slate-500 dark:text-slate-400">
                key <code>{etcd.key}</code> on {etcd.endpoints.join(", ")}
              </span>
            </div>
            {isAdmin ? null : <NeedsRole role="admin" what="Switching token auth" />}
            {etcd.readError ? <ErrorBox error={{ message: etcd.readError }} title="Cannot read the key" /> : null}
            {etcd.value !== null ? (
              <div>
                <div className="mb-1 text-slate-500 dark:text-slate-400">Current value</div>
                <pre className="overflow-auto rounded bg-slate-50 p-3 font-mono text-xs dark:bg-slate-950" data-testid="auth-key-value">
                  {etcd.value}
                </pre>
                {etcd.valueError ? <ErrorBox error={{ message: etcd.valueError }} title="The value is not usable (the previous auth stays in force)" /> : null}
              </div>
            ) : (
              <p className="text-slate-600 dark:text-slate-300">The key is absent: config.yml’s auth is in force.</p>
            )}
          </div>
        )}
      </Card>

      {isAdmin ? (
        <Card title="Built-in token server">
          <ErrorBox error={tokenServer.error} />
          {tokenServer.isPending ? (
            <Loading />
          ) : !tokenServer.data?.configured ? (
            <p className="text-sm text-slate-600 dark:text-slate-300">
              Not configured (<code>tokenserver</code> in config.yml). Berth can issue docker tokens itself, from an htpasswd users file and access rules.
            </p>
          ) : (
            <div className="space-y-5 text-sm">
              <Facts
                items={[
                  ["State", tokenServer.data.enabled ? <Badge key="s" tone="good">enabled</Badge> : <Badge key="s">disabled</Badge>],
                  ["Issuer", <code key="i">{tokenServer.data.issuer}</code>],
                  ["Service", tokenServer.data.service ? <code key="v">{tokenServer.data.service}</code> : "any (from the request)"],
                  ["Token lifetime", formatDuration(tokenServer.data.expirationMs)],
                ]}
              />
              <div>
                <h3 className="mb-1 font-medium">
                  Users {tokenServer.data.usersFile ? <span className="font-normal text-slate-500">from {tokenServer.data.usersFile}</span> : null}
                </h3>
                {tokenServer.data.usersError ? <ErrorBox error={{ message: tokenServer.data.usersError }} title="Users file" /> : null}
                {tokenServer.data.users.length === 0 ? (
                  <p className="text-slate-500">No users.</p>
                ) : (
                  <ul className="flex flex-wrap gap-1.5" data-testid="token-users">
                    {tokenServer.data.users.map((user) => (
                      <li key={user}>
                        <Badge tone={tokenServer.data.configured && tokenServer.data.admins.includes(user) ? "warn" : "neutral"}>
                          {user}
                          {tokenServer.data.configured && tokenServer.data.admins.includes(user) ? " (admin)" : ""}
                        </Badge>
                      </li>
                    ))}
                  </ul>
                )}
                {tokenServer.data.usersProblems.length > 0 ? (
                  <ul className="mt-2 list-disc pl-5 text-amber-700 dark:text-amber-300">
                    {tokenServer.data.usersProblems.map((problem) => (
                      <li key={problem}>{problem}</li>
                    ))}
                  </ul>
                ) : null}
              </div>
              <div>
                <h3 className="mb-1 font-medium">Admins and groups</h3>
                <p>
                  Admins (everything on every repository): {tokenServer.data.admins.length ? tokenServer.data.admins.join(", ") : <span className="text-slate-500">none</span>}
                </p>
                {Object.entries(tokenServer.data.groups).map(([group, members]) => (
                  <p key={group}>
                    Group <strong>{group}</strong>: {members.join(", ") || "—"}
                  </p>
                ))}
              </div>
              <div>
                <h3 className="mb-1 font-medium">Access rules {tokenServer.data.defaultRules ? <span className="font-normal text-slate-500">(default: no rules configured)</span> : null}</h3>
                {tokenServer.data.rules.length === 0 ? (
                  <Empty>No rules: only admins get access.</Empty>
                ) : (
                  <div className={tableScrollClass}>
                    <table className={tableClass} data-testid="token-rules">
                      <thead>
                        <tr>
                          <th scope="col" className={thClass}>
                            Who
                          </th>
                          <th scope="col" className={thClass}>
                            Repositories
                          </th>
                          <th scope="col" className={thClass}>
                            Actions
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {tokenServer.data.rules.map((rule, index) => (
                          <tr key={index} className={rowClass}>
                            <td className={tdClass}>
                              {[
                                ...rule.users.map((user) => (user === "*" ? "every authenticated user" : user)),
                                ...rule.groups.map((group) => `group ${group}`),
                                ...(rule.anonymous ? ["anonymous"] : []),
                              ].join(", ") || "every authenticated user"}
                            </td>
                            <td className={`${tdClass} font-mono text-xs`}>{rule.repositories.join(", ")}</td>
                            <td className={tdClass}>
                              {rule.actions.map((action) => (
                                <Badge key={action} className="mr-1">
                                  {action}
                                </Badge>
                              ))}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>
            </div>
          )}
        </Card>
      ) : null}

      <Dialog
        open={confirm === "enable"}
        onClose={() => setConfirm(null)}
        title="Switch token auth on?"
        footer={
          <>
            <Button onClick={() => setConfirm(null)}>Cancel</Button>
            <Button variant="primary" type="submit" form="enable-token" disabled={enable.isPending} data-testid="auth-confirm">
              {enable.isPending ? "Writing…" : "Write the key"}
            </Button>
          </>
        }
      >
        <form
          id="enable-token"
          className="space-y-3"
          onSubmit={(event) => {
            event.preventDefault();
            enable.mutate(values);
          }}
        >
          <p>
            Writes <code>{etcd?.key}</code>: every Berth watching it requires docker tokens from this realm within seconds. Clients without a token get a 401 with
            the realm to ask.
          </p>
          {(["realm", "issuer", "service"] as const).map((field) => (
            <label key={field} className="block">
              <span className="block capitalize text-slate-600 dark:text-slate-300">{field}</span>
              <input
                className={`${inputClass} w-full font-mono`}
                value={values[field]}
                onChange={(event) => setForm({ ...values, [field]: event.target.value })}
                required
                name={field}
              />
            </label>
          ))}
          <ErrorBox error={enable.error} title="Not written" />
        </form>
      </Dialog>

      <Dialog
        open={confirm === "disable"}
        onClose={() => setConfirm(null)}
        title="Switch token auth off?"
        footer={
          <>
            <Button onClick={() => setConfirm(null)}>Cancel</Button>
            <Button variant="danger" onClick={() => disable.mutate()} disabled={disable.isPending} data-testid="auth-confirm">
              {disable.isPending ? "Deleting…" : "Delete the key"}
            </Button>
          </>
        }
      >
        <p>
          Deletes <code>{etcd?.key}</code>: every Berth watching it goes back to config.yml’s auth (<strong>{data.configMode}</strong>
          {data.configMode === "none" ? ": anyone can push and pull" : ""}).
        </p>
        <ErrorBox error={disable.error} title="Not deleted" />
      </Dialog>
    </div>
  );
}
