/**
 * Connect's containers: arrays, maps and structs, each compiled from its members' schemas. The
 * member compiler is passed in (it is compileField, which dispatches back here for nested ones).
 */
import type { CompiledField } from "../columns.ts";
import type { ConnectSchema } from "../schema.ts";
import { UNCHANGED, type Value } from "../values.ts";
import {
  badValue,
  type Compiled,
  isPlaceholderBytes,
  mismatch,
  PLACEHOLDER,
  PLACEHOLDER_BASE64,
  PLACEHOLDER_CODES,
  PLACEHOLDER_UUID,
  type TypeBase,
} from "./read.ts";

function sameCodes(raw: unknown[]): boolean {
  for (let i = 0; i < raw.length; i++) if (raw[i] !== BigInt(PLACEHOLDER.charCodeAt(i))) return false;
  return true;
}

export type CompileMember = (schema: ConnectSchema, field: string) => CompiledField;

export function compileArray(
  schema: ConnectSchema,
  field: string,
  base: TypeBase,
  compileField: CompileMember,
): Compiled {
  const items = compileField(schema.items!, field);
  const itemIsInt64 = schema.items!.type === "int64" && items.type.kind === "int64";
  return {
    type: { ...base, kind: "array", items: items.type },
    decode: (raw, ctx, f) => {
      if (!Array.isArray(raw)) return mismatch(f, "an array", raw);
      if (
        raw.length === 1 &&
        (raw[0] === PLACEHOLDER ||
          raw[0] === PLACEHOLDER_BASE64 ||
          raw[0] === PLACEHOLDER_UUID ||
          isPlaceholderBytes(raw[0]))
      ) {
        return UNCHANGED;
      }
      if (
        raw.length === PLACEHOLDER.length &&
        typeof raw[0] === "number" &&
        JSON.stringify(raw) === PLACEHOLDER_CODES
      ) {
        return UNCHANGED;
      }
      // The same codes as Avro longs (BigInt, which JSON.stringify refuses).
      if (raw.length === PLACEHOLDER.length && typeof raw[0] === "bigint" && sameCodes(raw)) return UNCHANGED;
      if (itemIsInt64 && raw.some((v) => typeof v === "number" && !Number.isSafeInteger(v))) {
        const texts = ctx.arrayTexts(field, raw) ?? badValue(f, "int64 array source text not found");
        return texts.map((t, i) => (t === "null" ? items.decode(null, ctx, `${f}[${i}]`) : BigInt(t)));
      }
      return raw.map((v, i) => items.decode(v, ctx, `${f}[${i}]`));
    },
  };
}

export function compileMap(
  schema: ConnectSchema,
  field: string,
  base: TypeBase,
  compileField: CompileMember,
): Compiled {
  const values = compileField(schema.values!, `${field}[value]`);
  return {
    type: { ...base, kind: "map", values: values.type },
    decode: (raw, ctx, f) => {
      if (typeof raw !== "object" || raw === null) return mismatch(f, "an object (map)", raw);
      if (Array.isArray(raw)) return mismatch(f, "an object with string keys (map)", raw);
      const entries = Object.entries(raw as Record<string, unknown>);
      if (entries.length === 1 && entries[0]![0] === PLACEHOLDER) return UNCHANGED;
      const out: Record<string, Value> = {};
      for (const [k, v] of entries) out[k] = values.decode(v, ctx, `${f}.${k}`);
      return out;
    },
  };
}

export function compileStruct(schema: ConnectSchema, base: TypeBase, compileField: CompileMember): Compiled {
  const fields = schema.fields!.map((s) => compileField(s, s.field!));
  // Each field's path (for errors) per path of the struct, built once rather than per value.
  const paths = new Map<string, string[]>();
  const pathsFor = (f: string) => {
    let names = paths.get(f);
    if (!names) {
      names = fields.map((c) => `${f}.${c.name}`);
      if (paths.size < 64) paths.set(f, names);
    }
    return names;
  };
  return {
    type: {
      ...base,
      kind: "struct",
      fields: fields.map(({ name: n, type }) => ({ name: n, type })),
    },
    decode: (raw, ctx, f) => {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return mismatch(f, "an object", raw);
      const obj = raw as Record<string, unknown>;
      const out: Record<string, Value> = {};
      const names = pathsFor(f);
      for (let i = 0; i < fields.length; i++) {
        const c = fields[i]!;
        out[c.name] = c.decode(obj[c.name], ctx, names[i]!);
      }
      return out;
    },
  };
}
