/**
 * The one way a section repeats a comparison: `--rounds` rounds (default 5), each measuring
 * both registries one after the other, with the one that goes first swapped every round
 * (Berth, distribution, distribution, Berth, …), so drift in the machine's load lands on both.
 * The rows built from the samples report their median with min–max (report.ts).
 */
import { alternate, type Context } from "./context.js";
import type { Kind } from "./servers.js";

export type Samples = Record<Kind, number[]>;

export const samples = (): Samples => ({ berth: [], distribution: [] });

export interface RoundSteps<T, P> {
  /** Per round before either side runs (fresh content, say); what it returns goes to `measure`. */
  prepare: (round: number) => Promise<P>;
  measure: (side: T, round: number, prepared: P) => Promise<void>;
  /** Per round after both sides ran, also when one failed (removing that round's files). */
  cleanup?: (round: number, prepared: P) => Promise<void>;
}

/** Runs `--rounds` interleaved rounds of `steps` over `pair`. */
export async function interleaved<T, P = void>(ctx: Context, pair: [T, T], steps: RoundSteps<T, P>): Promise<void> {
  for (let round = 0; round < ctx.options.runs; round++) {
    const prepared = await steps.prepare(round);
    try {
      for (const side of alternate(pair, round)) await steps.measure(side, round, prepared);
    } finally {
      await steps.cleanup?.(round, prepared);
    }
  }
}
