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

type KeyState = { kind: "upsert"; row: Row; deleteFirst?: Row } | { kind: "delete"; key: Row };

export function coalesce(changes: Iterable<MappedChange>): Coalesced {
  let truncate = false;
  let state = new Map<string, KeyState>();
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
        state.delete(change.keyId);
        if (previous?.kind === "upsert") {
          const merged: KeyState = { kind: "upsert", row: { ...previous.row, ...change.row } };
          if (previous.deleteFirst) merged.deleteFirst = previous.deleteFirst;
          state.set(change.keyId, merged);
        } else if (previous?.kind === "delete") {
          // The row was deleted and inserted again: columns the insert does not carry must not
          // keep the deleted row's values, so the delete is applied too (deletes go first).
          state.set(change.keyId, { kind: "upsert", row: change.row, deleteFirst: previous.key });
        } else {
          state.set(change.keyId, { kind: "upsert", row: change.row });
        }
        break;
      }
    }
  }
  const deletes: Row[] = [];
  const upserts: Row[] = [];
  for (const s of state.values()) {
    if (s.kind === "delete") deletes.push(s.key);
    else {
      if (s.deleteFirst) deletes.push(s.deleteFirst);
      upserts.push(s.row);
    }
  }
  return { truncate, deletes, upserts };
}
