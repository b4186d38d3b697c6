import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../log.js";
import { layoutRoot } from "../registry/layout.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { cleanupRulesSchema, type CleanupApplyResult, type CleanupService } from "./cleanup.js";
import type { GcRunRecord } from "./runner.js";

export const cleanupPolicyInput = z.object({
  name: z.string().min(1).max(100),
  rules: cleanupRulesSchema,
  /** Run the garbage collection after applying (what frees the space). */
  gc: z.boolean().default(true),
  /** With `gc`: also delete manifests no tag reaches any more. */
  deleteUntagged: z.boolean().default(false),
  /** Run by itself every N hours; absent: only when started by hand. */
  everyHours: z.number().min(1).max(24 * 365).optional(),
});
export type CleanupPolicyInput = z.infer<typeof cleanupPolicyInput>;

const policySchema = cleanupPolicyInput.extend({
  id: z.string().min(1),
  lastRun: z.object({ at: z.string(), by: z.string(), ok: z.boolean(), summary: z.string() }).optional(),
});
export type CleanupPolicy = z.infer<typeof policySchema>;

const policiesPath = `${layoutRoot}/_berth/cleanup/policies.json`;

/**
 * Saved cleanup policies, in the registry storage so every instance sees the same ones. A run
 * applies the rules (soft deletes) and then, when asked, garbage-collects.
 */
export class CleanupPolicies {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cleanup: CleanupService,
    private readonly collect: (options: { user: string; deleteUntagged: boolean }) => Promise<GcRunRecord>,
    private readonly logger: Logger,
  ) {}

  async list(): Promise<CleanupPolicy[]> {
    try {
      return z.array(policySchema).parse(JSON.parse((await this.driver.getContent(policiesPath)).toString("utf8")));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  async save(input: CleanupPolicyInput, id?: string): Promise<CleanupPolicy> {
    const policies = await this.list();
    const existing = id ? policies.find((policy) => policy.id === id) : undefined;
    if (id && !existing) throw new PolicyNotFoundError(id);
    const policy: CleanupPolicy = { ...input, id: existing?.id ?? randomUUID(), lastRun: existing?.lastRun };
    await this.write([...policies.filter((p) => p.id !== policy.id), policy]);
    return policy;
  }

  async remove(id: string): Promise<void> {
    const policies = await this.list();
    if (!policies.some((policy) => policy.id === id)) throw new PolicyNotFoundError(id);
    await this.write(policies.filter((policy) => policy.id !== id));
  }

  /** Applies a policy now, then collects garbage when it says so; records the outcome. */
  async run(id: string, user: string): Promise<{ applied: CleanupApplyResult; gc?: GcRunRecord }> {
    const policy = (await this.list()).find((candidate) => candidate.id === id);
    if (!policy) throw new PolicyNotFoundError(id);
    let outcome: { applied: CleanupApplyResult; gc?: GcRunRecord } | undefined;
    try {
      const applied = await this.cleanup.applyCleanup(policy.rules);
      const gc = policy.gc ? await this.collect({ user, deleteUntagged: policy.deleteUntagged }) : undefined;
      outcome = { applied, gc };
      return outcome;
    } finally {
      const summary = outcome
        ? `${outcome.applied.deleted.length} manifests deleted, ${outcome.applied.untagged.length} tags removed` +
          (outcome.gc?.report ? `, ${outcome.gc.report.bytesFreed} bytes freed` : "")
        : "failed";
      await this.record(id, { at: new Date().toISOString(), by: user, ok: outcome !== undefined, summary }).catch((error: unknown) =>
        this.logger.warn("could not record the cleanup policy run", { policy: id, error: String(error) }),
      );
    }
  }

  /** Policies whose schedule is due at `now`. */
  async due(now = Date.now()): Promise<CleanupPolicy[]> {
    return (await this.list()).filter((policy) => {
      if (policy.everyHours === undefined) return false;
      const last = policy.lastRun ? Date.parse(policy.lastRun.at) : 0;
      return now - last >= policy.everyHours * 3_600_000;
    });
  }

  private async record(id: string, lastRun: NonNullable<CleanupPolicy["lastRun"]>): Promise<void> {
    const policies = await this.list();
    await this.write(policies.map((policy) => (policy.id === id ? { ...policy, lastRun } : policy)));
  }

  private write(policies: CleanupPolicy[]): Promise<void> {
    return this.driver.putContent(policiesPath, JSON.stringify(policies, null, 2));
  }
}

export class PolicyNotFoundError extends Error {
  constructor(id: string) {
    super(`no cleanup policy ${id}`);
    this.name = "PolicyNotFoundError";
  }
}

/** Checks for due policies every `checkMs` and runs them one at a time. */
export function schedulePolicies(policies: CleanupPolicies, logger: Logger, checkMs = 60_000): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      for (const policy of await policies.due()) {
        logger.info("running scheduled cleanup policy", { policy: policy.name });
        await policies.run(policy.id, "schedule").catch((error: unknown) =>
          logger.error("scheduled cleanup policy failed", { policy: policy.name, error: String(error) }),
        );
      }
    } catch (error) {
      logger.warn("cleanup schedule check failed", { error: String(error) });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), checkMs);
  timer.unref();
  return () => clearInterval(timer);
}
