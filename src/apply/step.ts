/**
 * One apply, retried until it commits: what may pass (a lost connection, a deadlock, a fenced
 * position) waits with backoff and goes again from the stored positions, so that nothing is
 * skipped and nothing applied twice; what will not pass is thrown. `shadowdb run` and the demo
 * both apply through it.
 */
import type { Item } from "../batch/items.ts";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type ApplyResult, applyItems } from "./apply.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import type { ApplyContext } from "./context.ts";

export interface StepHooks {
  /** An attempt starts (true) or ends (false): health's watch for an apply that hangs. */
  applying?: (running: boolean) => void;
  /** The target took `items` (an attempt begun at `started`, from performance.now()). */
  applied?: (items: Item[], result: ApplyResult, started: number) => void | Promise<void>;
  /** A failure that may pass, tried again after `delay` ms. */
  retrying?: (error: ShadowdbError, attempt: number, delay: number) => void;
}

export interface StepRun {
  signal: AbortSignal;
  /** Kept up while waiting, so that the group does not drop this member. */
  heartbeat?: () => Promise<void>;
  /** Whether the partitions are still this instance's (absent: always). */
  owned?: () => boolean;
}

/** What the target counts: the counters a runner keeps of what it applied. */
export interface AppliedCounts {
  applied: number;
  toCopy: number;
  lostInserts: number;
  hidden: number;
}

export function countApplied(counts: AppliedCounts, result: ApplyResult): void {
  counts.applied += result.applied;
  counts.toCopy += result.toCopy;
  counts.lostInserts += result.lostInserts;
  counts.hidden += result.hidden;
}

/** The positions as the target stores them, read again (at start, after a fence or a rebalance). */
export async function reloadPositions(ctx: ApplyContext): Promise<void> {
  ctx.positions.load(await ctx.target.readPositions(ctx.groupId));
}

export class ApplyStep {
  constructor(
    private readonly ctx: ApplyContext,
    private readonly log: Logger,
    private readonly hooks: StepHooks = {},
  ) {}

  /** Applies `items` (of one partition or several) past their stored positions. */
  async apply(items: Item[], run: StepRun): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // A failed attempt may have committed part of the batch record by record.
      const pending = this.ctx.positions.pending(items);
      if (pending.length === 0) return;
      const started = performance.now();
      this.hooks.applying?.(true);
      try {
        // Applied first: `hooks.applied?.(…)` would not evaluate its arguments without the hook.
        const result = await applyItems(this.ctx, pending);
        await this.hooks.applied?.(pending, result, started);
        return;
      } catch (error) {
        const retriable = error instanceof ShadowdbError && error.retriable;
        if (!retriable || run.signal.aborted || run.owned?.() === false) throw error;
        const delay = backoffDelay(attempt);
        this.hooks.retrying?.(error, attempt, delay);
        this.log.warn({ err: error, attempt, delay: Math.round(delay) }, "retrying batch");
        await sleep(delay, run.signal);
        await run.heartbeat?.();
        // Fenced: another instance moved the partition on; learn where it is before going on.
        if (error.code === "APPLY_FENCED") await reloadPositions(this.ctx);
      } finally {
        this.hooks.applying?.(false);
      }
    }
  }
}
