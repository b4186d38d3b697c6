import { matchesRepositoryGlob } from "../registry/repository-glob.js";
import type { ResourceActions } from "./token.js";

export type RuleAction = "pull" | "push" | "delete" | "catalog" | "*";

/** One `tokenserver.rules` entry. */
export interface AccessRule {
  /** User names; "*" is every authenticated user. */
  users?: string[];
  /** Names from `groups`. */
  groups?: string[];
  /** The rule also applies without credentials (and therefore to everyone). */
  anonymous?: boolean;
  /** Glob patterns over repository names; default `["**"]`. */
  repositories?: string[];
  actions: RuleAction[];
}

export interface AccessPolicy {
  /** Users who may do everything: pull, push, delete on every repository, and the catalog. */
  admins: string[];
  groups?: Record<string, string[]>;
  /** Absent: `defaultRules` (every authenticated user may pull everything). */
  rules?: AccessRule[];
}

/** Without `rules`: authenticated users pull everything; anonymous requests get nothing. */
export const defaultRules: AccessRule[] = [{ users: ["*"], repositories: ["**"], actions: ["pull"] }];

/** A scope a client asks the token server for (`repository:team/app:pull,push`). */
export interface RequestedScope {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parses one scope: `type[(class)]:name:actions`. The name may itself contain ":" (a registry
 * host with a port), so the type ends at the first ":" and the actions start after the last.
 * Returns undefined for anything malformed.
 */
export function parseScope(text: string): RequestedScope | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last <= first + 1) return undefined;
  const type = text.slice(0, first).replace(/\([a-z0-9]+\)$/i, "");
  const name = text.slice(first + 1, last);
  const actions = text
    .slice(last + 1)
    .split(",")
    .map((action) => action.trim())
    .filter((action) => action !== "");
  if (!/^[a-z0-9]+$/i.test(type) || actions.length === 0) return undefined;
  return { type, name, actions };
}

/** Every scope of the `scope` query parameters (each may hold several, space-separated). */
export function parseScopes(values: string[]): RequestedScope[] {
  return values
    .flatMap((value) => value.split(" "))
    .filter((item) => item !== "")
    .map(parseScope)
    .filter((scope): scope is RequestedScope => scope !== undefined);
}

/** Whether `name` matches one of `patterns` (repository globs, see repository-glob.ts). */
export function matchesRepository(patterns: string[], name: string): boolean {
  return patterns.some((pattern) => matchesRepositoryGlob(pattern, name));
}

function applies(rule: AccessRule, account: string | undefined, policy: AccessPolicy): boolean {
  if (rule.anonymous) return true;
  if (account === undefined) return false;
  const users = rule.users ?? [];
  const groups = rule.groups ?? [];
  if (users.length === 0 && groups.length === 0) return true;
  if (users.includes("*") || users.includes(account)) return true;
  return groups.some((group) => policy.groups?.[group]?.includes(account) ?? false);
}

const repositoryActions = ["pull", "push", "delete"] as const;

/** The actions `account` (undefined: anonymous) holds on a resource, from the rules. */
export function allowedActions(policy: AccessPolicy, account: string | undefined, type: string, name: string): Set<string> {
  const allowed = new Set<string>();
  if (account !== undefined && policy.admins.includes(account)) {
    if (type === "repository") return new Set([...repositoryActions, "*"]);
    if (type === "registry" && name === "catalog") return new Set(["*"]);
    return allowed;
  }
  for (const rule of policy.rules ?? defaultRules) {
    if (!applies(rule, account, policy)) continue;
    const all = rule.actions.includes("*");
    if (type === "registry" && name === "catalog") {
      if (all || rule.actions.includes("catalog")) allowed.add("*");
      continue;
    }
    if (type !== "repository" || !matchesRepository(rule.repositories ?? ["**"], name)) continue;
    for (const action of repositoryActions) if (all || rule.actions.includes(action)) allowed.add(action);
  }
  if (type === "repository" && repositoryActions.every((action) => allowed.has(action))) allowed.add("*");
  return allowed;
}

/**
 * The `access` claim for a token: each requested scope narrowed to what the rules allow;
 * scopes with nothing allowed are left out (never an error, as docker token servers do). The
 * same resource asked for twice is merged.
 */
export function grantAccess(policy: AccessPolicy, account: string | undefined, scopes: RequestedScope[]): ResourceActions[] {
  const merged = new Map<string, ResourceActions>();
  for (const scope of scopes) {
    const allowed = allowedActions(policy, account, scope.type, scope.name);
    const actions = scope.actions.filter((action) => allowed.has(action));
    if (actions.length === 0) continue;
    const key = `${scope.type}\0${scope.name}`;
    const entry = merged.get(key) ?? { type: scope.type, name: scope.name, actions: [] };
    for (const action of actions) if (!entry.actions.includes(action)) entry.actions.push(action);
    merged.set(key, entry);
  }
  return [...merged.values()];
}
