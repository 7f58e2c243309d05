/**
 * An envelope's metadata: the source block (connector, snapshot marker, log positions), the table
 * it names, and the transaction an event or a boundary record belongs to.
 */
import type { DecodeContext } from "./context.ts";
import type {
  Coordinates,
  SnapshotMarker,
  SourceInfo,
  TableRef,
  TransactionBoundary,
  TransactionRef,
} from "./events.ts";
import { preview } from "./limits.ts";
import { envelopeError, isObject, type Payload } from "./payload.ts";

const snapshotMarkers = new Set([
  "first",
  "first_in_data_collection",
  "true",
  "last_in_data_collection",
  "last",
  "incremental",
]);

function bigintField(raw: unknown, ctx: DecodeContext, key: string): bigint | undefined {
  // Avro's longs arrive as BigInt.
  if (typeof raw !== "number" || !Number.isInteger(raw)) return typeof raw === "bigint" ? raw : undefined;
  if (Number.isSafeInteger(raw)) return BigInt(raw);
  const text = ctx.numberText(key, raw);
  return text !== undefined && /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

export function sourceInfo(raw: unknown, ctx: DecodeContext): SourceInfo | null {
  if (!isObject(raw)) return null;
  const snapshot = raw.snapshot;
  const info: SourceInfo = {
    connector: String(raw.connector ?? ""),
    name: String(raw.name ?? ""),
    tsMs: typeof raw.ts_ms === "number" ? raw.ts_ms : typeof raw.ts_ms === "bigint" ? Number(raw.ts_ms) : 0,
    // Streaming events carry "false" (the schema default) or null; very old ones a boolean.
    snapshot:
      snapshot === true
        ? "true"
        : typeof snapshot === "string" && snapshotMarkers.has(snapshot)
          ? (snapshot as SnapshotMarker)
          : false,
  };
  const lsn = bigintField(raw.lsn, ctx, "lsn");
  if (lsn !== undefined) info.lsn = lsn;
  const txId = bigintField(raw.txId, ctx, "txId");
  if (txId !== undefined) info.txId = txId;
  if ("gtid" in raw) info.gtid = typeof raw.gtid === "string" ? raw.gtid : null;
  if (typeof raw.file === "string") info.file = raw.file;
  const pos = bigintField(raw.pos, ctx, "pos");
  if (pos !== undefined) info.pos = pos;
  if (typeof raw.row === "number") info.row = raw.row;
  const serverId = bigintField(raw.server_id, ctx, "server_id");
  if (serverId !== undefined) info.serverId = serverId;
  return info;
}

export function tableOf(source: SourceInfo | null, raw: unknown, topic: string): TableRef {
  const s = isObject(raw) ? raw : {};
  const db = typeof s.db === "string" ? s.db : null;
  if (typeof s.table === "string" && s.table !== "") {
    const schema = typeof s.schema === "string" ? s.schema : source?.connector === "postgresql" ? null : db;
    return { database: db, schema, table: s.table };
  }
  const parts = topic.split(".");
  return { database: db, schema: parts.length >= 3 ? parts.at(-2)! : null, table: parts.at(-1)! };
}

/**
 * PostgreSQL ids are `xid:lsn`, with an lsn that differs per event of one transaction; group by the
 * xid. MySQL GTIDs (`uuid:seq`), MariaDB GTIDs (`d-s-n`) and `file=…,pos=…` ids never look like that.
 */
function transactionGroup(id: string): string {
  return /^\d+:\d+$/.test(id) ? id.slice(0, id.indexOf(":")) : id;
}

export function transactionRef(raw: unknown): TransactionRef | null {
  if (!isObject(raw) || typeof raw.id !== "string") return null;
  return {
    id: raw.id,
    group: transactionGroup(raw.id),
    totalOrder: Number(raw.total_order ?? 0),
    dataCollectionOrder: Number(raw.data_collection_order ?? 0),
  };
}

export function transactionBoundary(payload: Payload, at: Coordinates): TransactionBoundary {
  const status = payload.status;
  if (status !== "BEGIN" && status !== "END")
    envelopeError(`transaction status ${preview(JSON.stringify(status) ?? "undefined", 40)}`);
  const id = String(payload.id ?? "");
  const collections = Array.isArray(payload.data_collections) ? payload.data_collections : null;
  return {
    op: status === "BEGIN" ? "begin" : "end",
    at,
    id,
    group: transactionGroup(id),
    tsMs: Number(payload.ts_ms ?? 0),
    eventCount:
      typeof payload.event_count === "number"
        ? payload.event_count
        : typeof payload.event_count === "bigint"
          ? Number(payload.event_count)
          : null,
    dataCollections:
      collections?.map((c) => ({
        dataCollection: String((c as Payload).data_collection ?? ""),
        eventCount: Number((c as Payload).event_count ?? 0),
      })) ?? null,
  };
}
