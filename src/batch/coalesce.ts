/**
 * One table's changes of a batch, reduced to what the database must do: the last state per key
 * wins; a truncate drops everything before it. Deletes are applied before upserts (a unique value
 * freed by a delete may be taken by an insert in the same batch); an upsert that omits columns
 * (TOAST) is merged over an earlier upsert of the same key.
 */
import type { Row } from "../decode/values.ts";
import type { MappedChange } from "../map/mapper.ts";

export interface Coalesced {
  truncate: boolean;
  deletes: Row[];
  upserts: Row[];
}

export function coalesce(changes: Iterable<MappedChange>): Coalesced {
  let truncate = false;
  let state = new Map<string, { kind: "upsert"; row: Row } | { kind: "delete"; key: Row }>();
  for (const change of changes) {
    switch (change.kind) {
      case "truncate":
        truncate = true;
        state = new Map();
        break;
      case "delete":
        state.delete(change.keyId);
        state.set(change.keyId, { kind: "delete", key: change.key });
        break;
      case "upsert": {
        const previous = state.get(change.keyId);
        const row = previous?.kind === "upsert" ? { ...previous.row, ...change.row } : change.row;
        state.delete(change.keyId);
        state.set(change.keyId, { kind: "upsert", row });
        break;
      }
    }
  }
  const deletes: Row[] = [];
  const upserts: Row[] = [];
  for (const s of state.values()) {
    if (s.kind === "delete") deletes.push(s.key);
    else upserts.push(s.row);
  }
  return { truncate, deletes, upserts };
}
