/**
 * An Avro writer schema, as Connect's Avro converters register it, read back as the Connect schema
 * it was made from: `connect.name`, `connect.version`, `connect.parameters` and `connect.type`
 * (int8/int16 travel as Avro int), optional fields as ["null", T] unions, records defined once
 * and referenced by name after. The result compiles like a JsonConverter schema, so every logical
 * type is decoded by the same code. Read from the schema's JSON: avsc drops unknown attributes of
 * primitive types.
 */
import { ShadowdbError } from "../../errors.ts";
import { badName, MAX_DEPTH, preview } from "../limits.ts";
import type { ConnectSchema, ConnectType } from "../schema.ts";

/** Expanded nodes one schema may have: references reuse records, and a chain of them doubles each time. */
export const MAX_SCHEMA_NODES = 100_000;

const primitives: Record<string, ConnectType> = {
  int: "int32",
  long: "int64",
  float: "float",
  double: "double",
  boolean: "boolean",
  string: "string",
  bytes: "bytes",
};

/** Avro logical types a non-Connect producer may write, as the Connect or Debezium type they are. */
const avroLogical: Record<string, string> = {
  date: "org.apache.kafka.connect.data.Date",
  "time-millis": "org.apache.kafka.connect.data.Time",
  "timestamp-millis": "org.apache.kafka.connect.data.Timestamp",
  "time-micros": "io.debezium.time.MicroTime",
  "timestamp-micros": "io.debezium.time.MicroTimestamp",
  uuid: "io.debezium.data.Uuid",
};

type Json = Record<string, unknown>;

function bad(path: string, what: string): never {
  throw new ShadowdbError("DECODE_BAD_REGISTRY_SCHEMA", `Avro schema ${preview(path || "(root)")}: ${what}`);
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

class Converter {
  /** Named types by full name, as the schema defines them (Avro: defined before referenced). */
  private readonly named = new Map<string, Json>();
  private readonly converting = new Set<string>();
  private nodes = 0;

  convert(raw: unknown, namespace: string, path: string, depth: number): ConnectSchema {
    if (depth > MAX_DEPTH) bad(path, `nests deeper than ${MAX_DEPTH} levels`);
    if (++this.nodes > MAX_SCHEMA_NODES) bad(path, `expands to more than ${MAX_SCHEMA_NODES} types`);
    if (Array.isArray(raw)) return this.union(raw, namespace, path, depth);
    if (typeof raw === "string") {
      if (raw in primitives) return { type: primitives[raw]!, optional: false };
      const found = this.lookup(raw, namespace);
      if (!found) bad(path, `unknown type ${preview(JSON.stringify(raw), 80)}`);
      return this.complex(found.schema, found.namespace, path, depth);
    }
    if (!isObject(raw)) bad(path, "expected a type name, an object or a union");
    return this.complex(raw, namespace, path, depth);
  }

  private union(branches: unknown[], namespace: string, path: string, depth: number): ConnectSchema {
    const nulls = branches.filter((b) => b === "null").length;
    if (branches.length !== 2 || nulls !== 1)
      bad(path, 'only ["null", T] unions are Connect types (an optional T)');
    const branch = branches.find((b) => b !== "null");
    return { ...this.convert(branch, namespace, path, depth + 1), optional: true };
  }

  private lookup(name: string, namespace: string): { schema: Json; namespace: string } | undefined {
    const full = name.includes(".") || namespace === "" ? name : `${namespace}.${name}`;
    const schema = this.named.get(full) ?? this.named.get(name);
    if (!schema) return undefined;
    return { schema, namespace: namespaceOf(fullName(schema, namespace)) };
  }

  private define(schema: Json, namespace: string, path: string): string {
    if (typeof schema.name !== "string") bad(path, `a ${String(schema.type)} needs a name`);
    const full = fullName(schema, namespace);
    const known = this.named.get(full);
    if (known && known !== schema) bad(path, `${preview(full, 80)} is defined twice`);
    this.named.set(full, schema);
    return full;
  }

  private complex(s: Json, namespace: string, path: string, depth: number): ConnectSchema {
    const type = s.type;
    let schema: ConnectSchema;
    switch (type) {
      case "record":
        return this.record(s, namespace, path, depth);
      case "array": {
        const items = this.convert(s.items, namespace, `${path}.items`, depth + 1);
        schema = { type: "array", optional: false, items };
        break;
      }
      case "map": {
        const values = this.convert(s.values, namespace, `${path}.values`, depth + 1);
        schema = { type: "map", optional: false, keys: { type: "string", optional: false }, values };
        break;
      }
      case "enum":
        this.define(s, namespace, path);
        schema = { type: "string", optional: false };
        break;
      case "fixed":
        this.define(s, namespace, path);
        schema = { type: "bytes", optional: false };
        break;
      default:
        if (typeof type === "string" && type in primitives) {
          schema = { type: primitives[type]!, optional: false };
          break;
        }
        // `{"type": {...}}` and `{"type": "SomeRecord"}` wrap another type.
        if (typeof type === "string" || isObject(type) || Array.isArray(type))
          return this.convert(type, namespace, path, depth + 1);
        bad(path, `unknown type ${preview(JSON.stringify(type) ?? "undefined", 80)}`);
    }
    return withConnectAttributes(schema, s, path);
  }

  private record(s: Json, namespace: string, path: string, depth: number): ConnectSchema {
    const full = this.define(s, namespace, path);
    if (this.converting.has(full)) bad(path, `${preview(full, 80)} contains itself (no Connect type does)`);
    if (!Array.isArray(s.fields)) bad(path, "a record needs fields");
    this.converting.add(full);
    const inner = namespaceOf(full);
    const fields = s.fields.map((f, i): ConnectSchema => {
      const at = `${path}.fields[${i}]`;
      if (!isObject(f) || typeof f.name !== "string") bad(at, "a field needs a name");
      const problem = badName(f.name);
      if (problem) bad(at, `field name ${JSON.stringify(preview(f.name, 80))} ${problem}`);
      const field: ConnectSchema = { ...this.convert(f.type, inner, at, depth + 1), field: f.name };
      const fallback = defaultOf(f, field);
      if (fallback !== undefined) field.default = fallback;
      else delete field.default;
      return field;
    });
    this.converting.delete(full);
    const name = typeof s["connect.name"] === "string" ? s["connect.name"] : full;
    const schema: ConnectSchema = { type: "struct", optional: false, name, fields };
    if (typeof s["connect.version"] === "number") schema.version = s["connect.version"];
    const parameters = s["connect.parameters"];
    if (isObject(parameters)) schema.parameters = stringParameters(parameters, path);
    return schema;
  }
}

function fullName(schema: Json, namespace: string): string {
  const name = schema.name as string;
  if (name.includes(".")) return name;
  const ns = typeof schema.namespace === "string" ? schema.namespace : namespace;
  return ns === "" ? name : `${ns}.${name}`;
}

function namespaceOf(full: string): string {
  const dot = full.lastIndexOf(".");
  return dot < 0 ? "" : full.slice(0, dot);
}

function stringParameters(raw: Json, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") bad(path, `connect.parameters.${preview(k, 80)} is not a string`);
    out[k] = v;
  }
  return out;
}

/** A primitive's connect.* attributes (and Avro's own decimal and time logical types). */
function withConnectAttributes(schema: ConnectSchema, s: Json, path: string): ConnectSchema {
  const connectType = s["connect.type"];
  if (schema.type === "int32" && (connectType === "int8" || connectType === "int16"))
    schema.type = connectType;
  const parameters = s["connect.parameters"];
  if (isObject(parameters)) schema.parameters = stringParameters(parameters, path);
  if (typeof s["connect.version"] === "number") schema.version = s["connect.version"];
  if (typeof s["connect.name"] === "string") schema.name = s["connect.name"];
  else if (s.logicalType === "decimal" && (schema.type === "bytes" || s.type === "fixed")) {
    schema.name = "org.apache.kafka.connect.data.Decimal";
    schema.parameters = {
      scale: String(s.scale ?? 0),
      ...(typeof s.precision === "number" && { "connect.decimal.precision": String(s.precision) }),
      ...schema.parameters,
    };
  } else if (typeof s.logicalType === "string" && avroLogical[s.logicalType])
    schema.name = avroLogical[s.logicalType];
  return schema;
}

/**
 * A field's Avro default as the JsonConverter would have carried it, so that it decodes the same
 * way: bytes as base64 (Avro writes them as one character per byte), longs as exact integers.
 * A null default, or one that cannot be had exactly, is none.
 */
function defaultOf(f: Json, field: ConnectSchema): unknown {
  const raw = f.default;
  if (raw === undefined || raw === null) return undefined;
  switch (field.type) {
    case "bytes":
      return typeof raw === "string" ? Buffer.from(raw, "latin1").toString("base64") : undefined;
    case "int64":
      return typeof raw === "number" && Number.isSafeInteger(raw) ? raw : undefined;
    default:
      return raw;
  }
}

/** The Connect schema an Avro writer schema (its parsed JSON) was made from. */
export function connectSchemaOf(avroSchema: unknown): ConnectSchema {
  return new Converter().convert(avroSchema, "", "", 0);
}
