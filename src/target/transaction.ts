/**
 * BEGIN, the work, COMMIT; ROLLBACK (best effort) and rethrow on failure. Both dialects share
 * this shape and differ only in the statement that opens the transaction.
 */
export async function inTransaction<T>(
  execute: (sql: string) => Promise<unknown>,
  begin: string,
  work: () => Promise<T>,
): Promise<T> {
  await execute(begin);
  try {
    const result = await work();
    await execute("COMMIT");
    return result;
  } catch (error) {
    await execute("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
