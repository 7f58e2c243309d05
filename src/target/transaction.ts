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

/**
 * `work` under a savepoint of the open transaction: on failure only its statements are undone,
 * and the error is rethrown. Both dialects spell it the same way.
 */
export async function underSavepoint<T>(
  execute: (sql: string) => Promise<unknown>,
  work: () => Promise<T>,
): Promise<T> {
  await execute("SAVEPOINT shadowdb_chunk");
  try {
    const result = await work();
    await execute("RELEASE SAVEPOINT shadowdb_chunk");
    return result;
  } catch (error) {
    await execute("ROLLBACK TO SAVEPOINT shadowdb_chunk");
    await execute("RELEASE SAVEPOINT shadowdb_chunk");
    throw error;
  }
}
