/** Production's table as resync reads it, for the direct copy and the sweep alike. */
import { ShadowdbError } from "../errors.ts";
import type { KeyReader, QualifiedName, TableShape } from "../target/dialect.ts";

/** The connector's data collection as production describes it; RESYNC_SOURCE when it cannot. */
export async function describeSource(production: KeyReader, source: QualifiedName): Promise<TableShape> {
  const shape = await production.describe(source).catch((error: unknown) => {
    throw new ShadowdbError("RESYNC_SOURCE", `reading production: ${(error as Error).message}`, {
      cause: error,
    });
  });
  if (!shape)
    throw new ShadowdbError(
      "RESYNC_SOURCE",
      `production has no table ${source.schema}.${source.name} (the connector's data collection)`,
    );
  return shape;
}
