/**
 * Kafka Connect's JSON schema vocabulary (JsonConverter with schemas.enable=true), decoded and
 * checked once per distinct schema; everything after this trusts the shape.
 */
import { ShadowdbError } from "../errors.ts";
import { badName, preview } from "./limits.ts";

export type ConnectType =
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "float"
  | "double"
  | "boolean"
  | "string"
  | "bytes"
  | "array"
  | "map"
  | "struct";

export interface ConnectSchema {
  type: ConnectType;
  optional: boolean;
  name?: string;
  version?: number;
  parameters?: Record<string, string>;
  field?: string;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
  keys?: ConnectSchema;
  values?: ConnectSchema;
  /** The column's default as the connector encodes a value of this schema (absent: none). */
  default?: unknown;
}

const types = new Set<string>([
  "int8",
  "int16",
  "int32",
  "int64",
  "float",
  "double",
  "boolean",
  "string",
  "bytes",
  "array",
  "map",
  "struct",
]);

function bad(path: string, what: string): never {
  throw new ShadowdbError("DECODE_BAD_SCHEMA", `schema ${preview(path || "(root)")}: ${what}`);
}

export function parseSchema(raw: unknown, path = ""): ConnectSchema {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad(path, "expected an object");
  const s = raw as Record<string, unknown>;
  if (typeof s.type !== "string" || !types.has(s.type))
    bad(path, `unknown type ${preview(JSON.stringify(s.type) ?? "undefined", 40)}`);
  const schema: ConnectSchema = { type: s.type as ConnectType, optional: s.optional === true };
  if (s.name !== undefined) {
    if (typeof s.name !== "string") bad(path, "name must be a string");
    schema.name = s.name;
  }
  if (typeof s.version === "number") schema.version = s.version;
  if (typeof s.field === "string") schema.field = s.field;
  if (s.default !== undefined && s.default !== null) schema.default = s.default;
  if (s.parameters !== undefined && s.parameters !== null) {
    if (typeof s.parameters !== "object") bad(path, "parameters must be an object");
    schema.parameters = s.parameters as Record<string, string>;
  }
  switch (schema.type) {
    case "struct": {
      if (!Array.isArray(s.fields)) bad(path, "a struct needs fields");
      schema.fields = s.fields.map((f, i) => {
        const field = parseSchema(f, `${path}.fields[${i}]`);
        if (field.field === undefined) bad(`${path}.fields[${i}]`, "a struct field needs a name");
        // Struct fields become columns: a name no target can have is refused here, once per schema.
        const problem = badName(field.field);
        if (problem)
          bad(`${path}.fields[${i}]`, `field name ${JSON.stringify(preview(field.field, 80))} ${problem}`);
        return field;
      });
      break;
    }
    case "array":
      schema.items = parseSchema(s.items, `${path}.items`);
      break;
    case "map":
      schema.keys = parseSchema(s.keys, `${path}.keys`);
      schema.values = parseSchema(s.values, `${path}.values`);
      break;
    default:
      break;
  }
  return schema;
}

export function fieldOf(schema: ConnectSchema, name: string): ConnectSchema | undefined {
  return schema.fields?.find((f) => f.field === name);
}
