/** Logical types carried as strings: JSON, UUID, XML, ltree, tsvector, enums and sets. */
import type { ConnectSchema } from "../schema.ts";
import { type Compiled, str, type TypeBase, withPlaceholderString } from "./read.ts";

/** A text logical type, or undefined when `name` is not one. */
export function compileText(name: string, schema: ConnectSchema, base: TypeBase): Compiled | undefined {
  switch (name) {
    case "io.debezium.data.Json":
      return { type: { ...base, kind: "json" }, decode: withPlaceholderString((raw, _, f) => str(raw, f)) };
    case "io.debezium.data.Uuid":
      return { type: { ...base, kind: "uuid" }, decode: (raw, _, f) => str(raw, f) };
    case "io.debezium.data.Xml":
      return { type: { ...base, kind: "xml" }, decode: withPlaceholderString((raw, _, f) => str(raw, f)) };
    case "io.debezium.data.Ltree":
      return { type: { ...base, kind: "ltree" }, decode: (raw, _, f) => str(raw, f) };
    case "io.debezium.data.Tsvector":
      return {
        type: { ...base, kind: "tsvector" },
        decode: withPlaceholderString((raw, _, f) => str(raw, f)),
      };
    case "io.debezium.data.Enum":
    case "io.debezium.data.EnumSet": {
      const allowed = schema.parameters?.allowed;
      return {
        type: {
          ...base,
          kind: name === "io.debezium.data.Enum" ? "enum" : "enum-set",
          ...(allowed !== undefined && { allowed: allowed === "" ? [] : allowed.split(",") }),
        },
        decode: (raw, _, f) => str(raw, f),
      };
    }
    default:
      return undefined;
  }
}
