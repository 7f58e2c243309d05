/** The one place that picks a dialect; drivers load only with the dialect that needs them. */
import type { ClassifiedError, KeyReader, QualifiedName, SeedSource, SeedTarget, Target } from "./dialect.ts";

export interface DialectModule {
  Target: new (url: string, deadLetterTable?: QualifiedName) => Target;
  classify: (error: unknown) => ClassifiedError;
  /** Present where `shadowdb seed` is built: the source reader, and the target's load. */
  seeding?: {
    Source: new (url: string) => SeedSource;
    target: (target: Target) => SeedTarget;
  };
  /** `shadowdb resync`'s key reader, for the shadow's URL or production's. */
  KeyReader: new (
    url: string,
  ) => KeyReader;
}

export async function loadDialect(dialect: "postgres" | "mysql"): Promise<DialectModule> {
  switch (dialect) {
    case "postgres":
      return import("./postgres/index.ts");
    case "mysql":
      return import("./mysql/index.ts");
  }
}
