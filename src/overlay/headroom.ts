/**
 * The id-headroom rule both dialects apply to their sequences / AUTO_INCREMENT columns: the
 * shadow's next id stays at least half the headroom above production's highest, and when it is
 * not, moves to production's highest + headroom (the column type permitting). The dialects only
 * read the numbers and move the counter.
 */
import { ShadowdbError } from "../errors.ts";
import type { IdHeadroom } from "../target/dialect.ts";

export function assertHeadroom(headroom: bigint): void {
  if (headroom < 1n)
    throw new ShadowdbError("CONFIG_INVALID", `id headroom must be positive, not ${headroom}`);
}

/**
 * Where the next id should move, or undefined when it stays: it is clear of production's highest
 * (`base`) by half the headroom, or the cap leaves nothing higher to move to.
 */
export function headroomMove(base: bigint, next: bigint, headroom: bigint, cap: bigint): bigint | undefined {
  if (next > base + headroom / 2n) return undefined;
  const wanted = base + headroom;
  const to = wanted < cap ? wanted : cap;
  return to > next ? to : undefined;
}

export function headroomReport(
  column: string,
  productionMax: bigint | null,
  base: bigint,
  next: bigint,
  moved: boolean,
): IdHeadroom {
  return {
    column,
    productionMax: productionMax === null ? null : productionMax.toString(),
    next: next.toString(),
    remaining: (next - base - 1n).toString(),
    moved,
  };
}
