"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { roles, type Role } from "@/server/console-auth/roles";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, Dialog, ErrorBox, inputClass, Loading, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

const roleHelp: Record<Role, string> = {
  viewer: "browses repositories, images, history and settings",
  maintainer: "also deletes images and tags, runs cleanups and garbage collection, switches read-only mode",
  admin: "also edits the configuration, switches registry auth and manages these users",
};

const roleOptions = roles.map((role) => (
  <option key={role} value={role}>
    {role}
  </option>
));

/**
 * Console users (admins only): add one with a role and a first password, change a role, reset a
 * password, disable or enable, remove. Every change but adding ends that user's sessions.
 */
export function UsersView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const users = useQuery(trpc.users.list.queryOptions());
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSettled: refresh }));
  const setDisabled = useMutation(trpc.users.setDisabled.mutationOptions({ onSettled: refresh }));
  const [resetting, setResetting] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const failed = setRole.error ?? setDisabled.error;

  return (
    <div className="space-y-6">
      <Card title="Users">
        <ErrorBox error={users.error} title="Cannot list the users" />
        <ErrorBox error={failed} title="The change was refused" />
        {users.isPending ? <Loading /> : null}
        {users.data ? (
          <div className={tableScrollClass}>
            <table className={tableClass} data-testid="users-table">
              <thead>
                <tr>
                  <th scope="col" className={thClass}>
                    Name
                  </th>
                  <th scope="col" className={thClass}>
                    Role
                  </th>
                  <th scope="col" className={thClass}>
                    State
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((user) => (
                  <tr key={user.name} className={rowClass} data-testid="user-row" data-user={user.name}>
                    <td className={`${tdClass} font-mono`}>{user.name}</td>
                    <td className={tdClass}>
                      <select
                        className={inputClass}
                        value={user.role}
                        aria-label={`Role of ${user.name}`}
                        disabled={setRole.isPending}
                        onChange={(event) => setRole.mutate({ name: user.name, role: event.target.value as Role })}
                      >
                        {roleOptions}
                      </select>
                    </td>
                    <td className={tdClass}>{user.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="good">enabled</Badge>}</td>
                    <td className={`${tdClass} whitespace-nowrap text-right`}>
                      <Button size="sm" variant="ghost" onClick={() => setResetting(user.name)} aria-label={`Reset the password of ${user.name}`}>
                        Reset password…
                      </Button>
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={setDisabled.isPending}
                        onClick={() => setDisabled.mutate({ name: user.name, disabled: !user.disabled })}
                        aria-label={`${user.disabled ? "Enable" : "Disable"} ${user.name}`}
                      >
                        {user.disabled ? "Enable" : "Disable"}
                      </Button>
                      <Button size="sm" variant="ghost" className="text-red-700 dark:text-red-400" onClick={() => setRemoving(user.name)} aria-label={`Remove ${user.name}`}>
                        Remove…
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <ul className="mt-4 space-y-1 text-sm text-slate-600 dark:text-slate-300">
          {roles.map((role) => (
            <li key={role}>
              <span className="font-medium">{role}</span>: {roleHelp[role]}
            </li>
          ))}
        </ul>
        <p className="mt-2 text-sm text-slate-500 dark:text-slate-400">A role change, a password reset, disabling and removal end the user&apos;s sessions.</p>
      </Card>

      <AddUser onAdded={refresh} />
      <ResetPassword name={resetting} onClose={() => setResetting(null)} />
      <RemoveUser name={removing} onClose={() => setRemoving(null)} onRemoved={refresh} />
    </div>
  );
}

function AddUser({ onAdded }: { onAdded: () => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const add = useMutation(
    trpc.users.add.mutationOptions({
      onSuccess: () => {
        setName("");
        setPassword("");
        onAdded();
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ name: name.trim(), password, role });
  };
  return (
    <Card title="Add a user">
      <form className="flex flex-wrap items-end gap-3" onSubmit={submit} data-testid="add-user">
        <label className="text-sm">
          <span className="block text-slate-600 dark:text-slate-300">Name</span>
          <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required maxLength={64} aria-label="New user's name" />
        </label>
        <label className="text-sm">
          <span className="block text-slate-600 dark:text-slate-300">First password</span>
          <input className={inputClass} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required minLength={8} aria-label="New user's password" />
        </label>
        <label className="text-sm">
          <span className="block text-slate-600 dark:text-slate-300">Role</span>
          <select className={inputClass} value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="New user's role">
            {roleOptions}
          </select>
        </label>
        <Button type="submit" variant="primary" disabled={add.isPending}>
          Add user
        </Button>
      </form>
      {add.data ? (
        <p role="status" className="mt-3 text-sm text-emerald-700 dark:text-emerald-400">
          Added {add.data.name} ({add.data.role}).
        </p>
      ) : null}
      <ErrorBox error={add.error} title="Cannot add the user" />
    </Card>
  );
}

function ResetPassword({ name, onClose }: { name: string | null; onClose: () => void }) {
  const trpc = useTRPC();
  const [password, setPassword] = useState("");
  const close = () => {
    setPassword("");
    reset.reset();
    onClose();
  };
  const reset = useMutation(trpc.users.setPassword.mutationOptions({ onSuccess: close }));
  return (
    <Dialog
      open={name !== null}
      onClose={close}
      title={`Reset the password of ${name ?? ""}`}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" form="reset-password" variant="primary" disabled={reset.isPending || password.length < 8}>
            Set password
          </Button>
        </>
      }
    >
      <form
        id="reset-password"
        className="space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          if (name) reset.mutate({ name, password });
        }}
      >
        <p>Their sessions end; they log in with the new password.</p>
        <label className="block">
          <span className="block text-slate-600 dark:text-slate-300">New password (8 characters or more)</span>
          <input className={`${inputClass} w-full`} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" aria-label="New password" />
        </label>
        <ErrorBox error={reset.error} title="Cannot set the password" />
      </form>
    </Dialog>
  );
}

function RemoveUser({ name, onClose, onRemoved }: { name: string | null; onClose: () => void; onRemoved: () => void }) {
  const trpc = useTRPC();
  const close = () => {
    remove.reset();
    onClose();
  };
  const remove = useMutation(
    trpc.users.remove.mutationOptions({
      onSuccess: () => {
        onRemoved();
        close();
      },
    }),
  );
  return (
    <Dialog
      open={name !== null}
      onClose={close}
      title={`Remove ${name ?? ""}`}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button variant="danger" onClick={() => name && remove.mutate({ name })} disabled={remove.isPending} data-testid="confirm-remove-user">
            Remove
          </Button>
        </>
      }
    >
      <p>{name} can no longer log in and their sessions end. Disabling keeps the account for later instead.</p>
      <ErrorBox error={remove.error} title="Cannot remove the user" />
    </Dialog>
  );
}
