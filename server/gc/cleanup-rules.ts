import { z } from "zod";
import { compare } from "./context.js";
import type { TagInfo } from "./scan.js";

// Tag cleanup rules, and which tags a rule keeps.

const repositoryGlob = /^[a-z0-9._\-/*?]+$/;

export const cleanupRuleSchema = z
  .object({
    /** Repositories the rule applies to: a repository glob (server/registry/repository-glob.ts). */
    repository: z.string().min(1).max(255).regex(repositoryGlob, "a repository glob uses a-z 0-9 . _ - / and the wildcards * ** ?"),
    /** Keep the N most recently pushed tags (push time: the tag's `current/link` modification time). */
    keepLast: z.number().int().min(0).optional(),
    /** Keep tags matching this regular expression (JavaScript syntax, unanchored: use ^ and $). */
    keepTags: z
      .string()
      .min(1)
      .refine((source) => {
        try {
          new RegExp(source);
          return true;
        } catch {
          return false;
        }
      }, "invalid regular expression")
      .optional(),
    /** Keep tags pushed less than this many days ago. */
    olderThanDays: z.number().min(0).optional(),
  })
  .strict()
  .refine((rule) => rule.keepLast !== undefined || rule.keepTags !== undefined || rule.olderThanDays !== undefined, {
    message: "a rule needs keepLast, keepTags or olderThanDays (keepLast: 0 deletes every tag that no other criterion keeps)",
  });

export type CleanupRule = z.infer<typeof cleanupRuleSchema>;
export const cleanupRulesSchema = z.array(cleanupRuleSchema).min(1);

const dayMs = 24 * 60 * 60 * 1000;

export interface Decision {
  action: "delete" | "keep";
  reason: string;
}

/** A tag is kept when any applicable rule keeps it. */
export function decide(tag: TagInfo, rank: number, rules: { rule: CleanupRule; keep: RegExp | undefined }[], at: number): Decision {
  if (!tag.current) return { action: "keep", reason: "the tag has no readable current link" };
  const ageDays = tag.pushedAt ? (at - tag.pushedAt.getTime()) / dayMs : Infinity;
  const why: string[] = [];
  for (const { rule, keep } of rules) {
    if (keep?.test(tag.tag)) return { action: "keep", reason: `matches keepTags /${rule.keepTags}/ (rule ${rule.repository})` };
    if (rule.keepLast !== undefined && rank < rule.keepLast) return { action: "keep", reason: `among the ${rule.keepLast} most recently pushed (rule ${rule.repository})` };
    if (rule.olderThanDays !== undefined && ageDays < rule.olderThanDays) {
      return { action: "keep", reason: `pushed ${formatDays(ageDays)} ago, less than ${rule.olderThanDays} days (rule ${rule.repository})` };
    }
    const parts: string[] = [];
    if (rule.keepLast !== undefined) parts.push(`not among the ${rule.keepLast} most recent`);
    if (rule.olderThanDays !== undefined) parts.push(`pushed ${formatDays(ageDays)} ago`);
    if (rule.keepTags !== undefined) parts.push(`does not match /${rule.keepTags}/`);
    why.push(`${parts.join(", ")} (rule ${rule.repository})`);
  }
  return { action: "delete", reason: why.join("; ") };
}

export function byPushTimeDesc(a: TagInfo, b: TagInfo): number {
  const ta = a.pushedAt?.getTime() ?? -Infinity;
  const tb = b.pushedAt?.getTime() ?? -Infinity;
  return tb - ta || compare(a.tag, b.tag);
}

function formatDays(days: number): string {
  if (!Number.isFinite(days)) return "an unknown time";
  if (days < 1) return `${Math.max(0, Math.round(days * 24))} h`;
  return `${Math.floor(days)} days`;
}
