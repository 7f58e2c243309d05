/**
 * Avro test data DERIVED from the recorded JSON fixtures (real Debezium messages): each record's
 * Connect schema becomes the Avro schema Connect's Avro converters register for it (connect.name,
 * connect.parameters, connect.type, ["null", T] optionals, records defined once then named), and
 * its payload the same values as Avro data, encoded with avsc. Nothing here is typed by hand from
 * a Debezium message; the real converter's recorded output is to replace this.
 */
import avro from "avsc";
import { longAsBigInt } from "../../src/decode/avro/avro-type.ts";
import { DecodeContext } from "../../src/decode/context.ts";

type Json = Record<string, unknown>;

const primitive: Record<string, string> = {
  int8: "int",
  int16: "int",
  int32: "int",
  int64: "long",
  float: "float",
  double: "double",
  boolean: "boolean",
  string: "string",
  bytes: "bytes",
};

const sanitize = (name: string) =>
  name
    .split(".")
    .map((part) => part.replace(/[^A-Za-z0-9_]/g, "_").replace(/^([0-9])/, "_$1"))
    .join(".");

/** The Avro schema Connect's AvroData writes for a Connect schema (its JSON as JsonConverter sends it). */
export function avroSchemaOf(connect: Json): unknown {
  const defined = new Set<string>();
  let anonymous = 0;
  const convert = (s: Json): unknown => {
    let type: unknown;
    const attributes: Json = {};
    if (typeof s.name === "string") attributes["connect.name"] = s.name;
    if (typeof s.version === "number") attributes["connect.version"] = s.version;
    if (s.parameters) attributes["connect.parameters"] = s.parameters;
    switch (s.type) {
      case "struct": {
        const name = sanitize(typeof s.name === "string" ? s.name : `ConnectDefault${++anonymous}`);
        if (defined.has(name)) return name;
        defined.add(name);
        const fields = (s.fields as Json[]).map((f) => {
          const fieldType = convert(f);
          const field: Json = { name: f.field, type: f.optional ? ["null", fieldType] : fieldType };
          if (f.optional) field.default = null;
          return field;
        });
        type = { type: "record", name, fields, ...attributes };
        return type;
      }
      case "array":
        return { type: "array", items: optional(s.items as Json, convert), ...attributes };
      case "map":
        return { type: "map", values: optional(s.values as Json, convert), ...attributes };
      default: {
        const base: Json = { type: primitive[s.type as string], ...attributes };
        if (s.type === "int8" || s.type === "int16") base["connect.type"] = s.type;
        if (s.name === "org.apache.kafka.connect.data.Decimal") {
          const p = s.parameters as Record<string, string>;
          base.logicalType = "decimal";
          base.scale = Number(p.scale);
          base.precision = Number(p["connect.decimal.precision"] ?? 64);
        }
        return Object.keys(base).length === 1 ? base.type : base;
      }
    }
  };
  return convert(connect);
}

function optional(s: Json, convert: (s: Json) => unknown): unknown {
  return s.optional ? ["null", convert(s)] : convert(s);
}

/** An optional's branch as avsc names it in a wrapped union (the encoder wraps them: see avroTypeOf). */
function branch(s: Json): string {
  if (s.type === "struct") return sanitize(s.name as string);
  return primitive[s.type as string] ?? (s.type as string);
}

/**
 * The payload's values as avsc takes them: longs exact (from the JSON text), bytes as Buffers,
 * optionals wrapped ({long: 1n}): avsc picks an unwrapped union's branch by typeof, and knows no
 * "bigint" (reading, which the decoder does, is not affected).
 */
export function avroValueOf(connect: Json, payload: unknown, payloadText: string): unknown {
  const ctx = new DecodeContext(payloadText, "bytes");
  const convert = (s: Json, raw: unknown, name: string): unknown => {
    if (raw === null || raw === undefined) return null;
    const value = plain(s, raw, name);
    return s.optional ? { [branch(s)]: value } : value;
  };
  const plain = (s: Json, raw: unknown, name: string): unknown => {
    switch (s.type) {
      case "struct": {
        const out: Json = {};
        for (const f of s.fields as Json[])
          out[f.field as string] = convert(f, (raw as Json)[f.field as string], f.field as string);
        return out;
      }
      case "array": {
        const items = s.items as Json;
        const list = raw as unknown[];
        if (items.type === "int64" && list.some((v) => typeof v === "number" && !Number.isSafeInteger(v)))
          return ctx
            .arrayTexts(name, list)!
            .map((t) => (t === "null" ? null : items.optional ? { long: BigInt(t) } : BigInt(t)));
        return list.map((v) => convert(items, v, name));
      }
      case "map":
        return Object.fromEntries(
          Object.entries(raw as Json).map(([k, v]) => [k, convert(s.values as Json, v, k)]),
        );
      case "int64":
        return Number.isSafeInteger(raw)
          ? BigInt(raw as number)
          : BigInt(ctx.numberText(name, raw as number)!);
      case "bytes":
        return Buffer.from(raw as string, "base64");
      case "float":
      case "double":
        return typeof raw === "string" ? Number(raw) : raw;
      default:
        return raw;
    }
  };
  return plain(connect, payload, "");
}

export function avroTypeOf(schema: unknown): avro.Type {
  return avro.Type.forSchema(
    schema as avro.Schema,
    {
      typeHook: longAsBigInt,
      wrapUnions: true,
    } as unknown as avro.ForSchemaOptions,
  );
}

/** A JsonConverter text → its Avro schema and Avro bytes; undefined for schemaless or null payloads. */
export function toAvro(text: string): { schema: unknown; bytes: Buffer } | undefined {
  const parsed = JSON.parse(text) as Json;
  if (parsed === null || typeof parsed !== "object" || !parsed.schema || parsed.payload === null)
    return undefined;
  const schema = avroSchemaOf(parsed.schema as Json);
  const payloadText = text.slice(text.indexOf(',"payload":') + ',"payload":'.length, -1);
  const value = avroValueOf(parsed.schema as Json, parsed.payload, payloadText);
  return { schema, bytes: avroTypeOf(schema).toBuffer(value) };
}

export function confluentFrame(id: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, bytes]);
}

export function apicurioFrame(id: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeBigInt64BE(BigInt(id), 1);
  return Buffer.concat([header, bytes]);
}

export function globalIdHeader(id: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeBigInt64BE(BigInt(id));
  return header;
}
