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
  /** A run in progress on some instance; cleared when it ends, ignored once `claimMs` old. */
  running: z.object({ since: z.string(), by: z.string(), token: z.string() }).optional(),
});
export type CleanupPolicy = z.infer<typeof policySchema>;

const policiesPath = `${layoutRoot}/_berth/cleanup/policies.json`;
/**
 * How long a run's claim keeps other runs of the policy away: longer than any collection should
 * take, short enough that a claim left by a crashed instance does not stop the schedule for long.
 */
const claimMs = 6 * 3_600_000;

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
    const policy: CleanupPolicy = { ...input, id: existing?.id ?? randomUUID(), lastRun: existing?.lastRun, running: existing?.running };
    await this.write([...policies.filter((p) => p.id !== policy.id), policy]);
    return policy;
  }

  async remove(id: string): Promise<void> {
    const policies = await this.list();
    if (!policies.some((policy) => policy.id === id)) throw new PolicyNotFoundError(id);
    await this.write(policies.filter((policy) => policy.id !== id));
  }

  /**
   * Applies a policy now, then collects garbage when it says so; records the outcome. Refused
   * while another run of it (here or on another instance sharing the storage) is in progress:
   * without the claim, every instance's scheduler would start a due policy, and a run with a
   * collection lasts longer than the scheduler's period.
   */
  async run(id: string, user: string): Promise<{ applied: CleanupApplyResult; gc?: GcRunRecord }> {
    const policy = await this.claim(id, { since: new Date().toISOString(), by: user, token: randomUUID() });
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

  /** Policies whose schedule is due at `now` and that no run has claimed. */
  async due(now = Date.now()): Promise<CleanupPolicy[]> {
    return (await this.list()).filter((policy) => {
      if (policy.everyHours === undefined || claimedAt(policy, now)) return false;
      const last = policy.lastRun ? Date.parse(policy.lastRun.at) : 0;
      return now - last >= policy.everyHours * 3_600_000;
    });
  }

  /**
   * Marks the policy as running, then reads it back: of two instances claiming at once, the one
   * whose write landed last runs. (The file is rewritten whole, so this narrows the race rather
   * than closing it; a double run applies rules that are already applied, and the collections
   * are serialised by the GC lock.)
   */
  private async claim(id: string, running: NonNullable<CleanupPolicy["running"]>): Promise<CleanupPolicy> {
    const policies = await this.list();
    const current = policies.find((candidate) => candidate.id === id);
    if (!current) throw new PolicyNotFoundError(id);
    const since = claimedAt(current, Date.parse(running.since));
    if (since) throw new PolicyRunningError(current.name, current.running?.by ?? "", since);
    await this.write(policies.map((policy) => (policy.id === id ? { ...policy, running } : policy)));
    const claimed = (await this.list()).find((candidate) => candidate.id === id);
    if (!claimed) throw new PolicyNotFoundError(id);
    if (claimed.running?.token !== running.token) {
      throw new PolicyRunningError(claimed.name, claimed.running?.by ?? "", claimed.running ? new Date(claimed.running.since) : new Date());
    }
    return claimed;
  }

  private async record(id: string, lastRun: NonNullable<CleanupPolicy["lastRun"]>): Promise<void> {
    const policies = await this.list();
    await this.write(policies.map((policy) => (policy.id === id ? { ...policy, lastRun, running: undefined } : policy)));
  }

  private write(policies: CleanupPolicy[]): Promise<void> {
    return this.driver.putContent(policiesPath, JSON.stringify(policies, null, 2));
  }
}

/** When a run of `policy` started, if one is in progress (its claim younger than `claimMs`). */
function claimedAt(policy: CleanupPolicy, now: number): Date | undefined {
  if (!policy.running) return undefined;
  const since = Date.parse(policy.running.since);
  return now - since < claimMs ? new Date(since) : undefined;
}

export class PolicyRunningError extends Error {
  constructor(name: string, by: string, since: Date) {
    super(`cleanup policy ${JSON.stringify(name)} is already running (started by ${by} at ${since.toISOString()})`);
    this.name = "PolicyRunningError";
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
        await policies.run(policy.id, "schedule").catch((error: unknown) => {
          if (error instanceof PolicyRunningError) logger.info("scheduled cleanup policy already running elsewhere", { policy: policy.name });
          else logger.error("scheduled cleanup policy failed", { policy: policy.name, error: String(error) });
        });
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
