// Tag retention rules as the cleanup page edits them: form drafts, and the rules they make.

/** A rule being edited: every field as typed. */
export interface RuleDraft {
  id: number;
  repository: string;
  keepLast: string;
  keepTags: string;
  olderThanDays: string;
}

/** A rule as the maintenance API takes it (server/gc/cleanup-rules.ts). */
export interface Rule {
  repository: string;
  keepLast?: number;
  keepTags?: string;
  olderThanDays?: number;
}

let nextId = 1;
export const newRule = (): RuleDraft => ({ id: nextId++, repository: "**", keepLast: "10", keepTags: "", olderThanDays: "" });
export const draftOf = (rule: Rule): RuleDraft => ({
  id: nextId++,
  repository: rule.repository,
  keepLast: rule.keepLast?.toString() ?? "",
  keepTags: rule.keepTags ?? "",
  olderThanDays: rule.olderThanDays?.toString() ?? "",
});

/** The drafts as rules, and what keeps each from being one. */
export function toRules(drafts: RuleDraft[]): { rules: Rule[]; errors: string[] } {
  const errors: string[] = [];
  const rules = drafts.map((draft, index) => {
    const rule: Rule = { repository: draft.repository.trim() };
    const where = `Rule ${index + 1}`;
    if (!rule.repository) errors.push(`${where}: the repository pattern is empty`);
    if (draft.keepLast.trim() !== "") {
      const value = Number(draft.keepLast);
      if (!Number.isInteger(value) || value < 0) errors.push(`${where}: “keep last” must be a whole number ≥ 0`);
      else rule.keepLast = value;
    }
    if (draft.keepTags.trim() !== "") {
      try {
        new RegExp(draft.keepTags);
        rule.keepTags = draft.keepTags;
      } catch {
        errors.push(`${where}: “keep tags matching” is not a valid regular expression`);
      }
    }
    if (draft.olderThanDays.trim() !== "") {
      const value = Number(draft.olderThanDays);
      if (!Number.isFinite(value) || value < 0) errors.push(`${where}: “keep tags newer than” must be a number of days ≥ 0`);
      else rule.olderThanDays = value;
    }
    if (rule.keepLast === undefined && rule.keepTags === undefined && rule.olderThanDays === undefined) {
      errors.push(`${where}: set at least one of “keep last”, “keep tags matching”, “keep tags newer than”`);
    }
    return rule;
  });
  return { rules, errors };
}
