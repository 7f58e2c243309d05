/** Debezium's spatial types: Geometry and Geography as {wkb, srid}, Point with its coordinates too. */
import { base64, type Compiled, float, int, mismatch, type TypeBase } from "./read.ts";

/** A spatial logical type, or undefined when `name` is not one. */
export function compileGeometry(name: string, base: TypeBase): Compiled | undefined {
  switch (name) {
    case "io.debezium.data.geometry.Geometry":
    case "io.debezium.data.geometry.Geography":
      return {
        type: { ...base, kind: name.endsWith("Geometry") ? "geometry" : "geography" },
        decode: (raw, _, f) => {
          if (typeof raw !== "object" || raw === null) return mismatch(f, "a {wkb, srid} struct", raw);
          const { wkb, srid } = raw as { wkb?: unknown; srid?: unknown };
          return {
            wkb: base64(wkb, `${f}.wkb`),
            srid: srid === null || srid === undefined ? null : int(srid, f),
          };
        },
      };
    case "io.debezium.data.geometry.Point":
      return {
        type: { ...base, kind: "point" },
        decode: (raw, _, f) => {
          if (typeof raw !== "object" || raw === null) return mismatch(f, "a {x, y, wkb, srid} struct", raw);
          const p = raw as { x?: unknown; y?: unknown; wkb?: unknown; srid?: unknown };
          return {
            x: float(p.x, `${f}.x`),
            y: float(p.y, `${f}.y`),
            wkb: p.wkb === null || p.wkb === undefined ? null : base64(p.wkb, `${f}.wkb`),
            srid: p.srid === null || p.srid === undefined ? null : int(p.srid, `${f}.srid`),
          };
        },
      };
    default:
      return undefined;
  }
}
