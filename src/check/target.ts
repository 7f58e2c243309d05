/**
 * The target half of `shadowdb check`: the database answers, its user may do what apply and the
 * overlay do (tried for real and undone, by the dialect), and each table an entry names exactly
 * can be written: a missing one is only a warning (run creates it from the events), but an
 * existing one needs a primary key, since apply upserts and deletes by the target's primary key
 * and the overlay tracks rows by it.
 */
import { type Config, redactUrl } from "../config/index.ts";
import { tableArgument } from "../overlay/admin.ts";
import type { PrivilegeCheck, TableLookup } from "../target/dialect.ts";
import type { DialectModule } from "../target/load.ts";
import type { CheckResult } from "./result.ts";

export async function checkTarget(config: Config, dialect: DialectModule): Promise<CheckResult[]> {
  const url = redactUrl(config.target.url);
  const target = new dialect.Target(config.target.url);
  try {
    let privileges: PrivilegeCheck[];
    try {
      privileges = await target.checkPrivileges();
    } catch (error) {
      const { code } = dialect.classify(error);
      return [
        {
          check: "target.connect",
          status: "fail",
          message: `${url}: ${code}: ${(error as Error).message}`,
          fix: "check target.url (host, port, database, user, password) and that the database accepts connections from here",
        },
      ];
    }
    const results: CheckResult[] = [
      { check: "target.connect", status: "ok", message: `${url} (${config.target.dialect}) answered` },
    ];
    for (const p of privileges) {
      results.push(
        p.ok
          ? { check: "target.privileges", status: "ok", message: p.privilege }
          : {
              check: "target.privileges",
              status: "fail",
              message: `${p.privilege}: ${p.error}`,
              ...(p.fix === undefined ? {} : { fix: p.fix }),
            },
      );
    }
    for (const [i, entry] of config.tables.entries()) {
      if (entry.topic === undefined) continue;
      results.push(await checkTable(config, target, i));
    }
    return results;
  } finally {
    await target.close();
  }
}

async function checkTable(config: Config, target: TableLookup, i: number): Promise<CheckResult> {
  const entry = config.tables[i]!;
  const name = tableArgument(entry.table);
  const shape = await target.describe(name);
  const check = "target.tables";
  if (!shape) {
    return {
      check,
      status: "warn",
      message: `${entry.table} does not exist`,
      fix: "run creates it from the first event's schema; better, run the application's migrations on the shadow database first",
    };
  }
  if (shape.primaryKey.length > 0) {
    return { check, status: "ok", message: `${entry.table} exists, key (${shape.primaryKey.join(", ")})` };
  }
  // The configured key names source columns; the table has them under their renamed names.
  const key = entry.key?.map((k) => entry.columns.rename[k] ?? k);
  const columns = key === undefined ? "the source table's key columns" : key.join(", ");
  return {
    check,
    status: "fail",
    message: `${entry.table} has no primary key${entry.key === undefined ? "" : ` (tables[${i}].key is ${entry.key.join(", ")})`}: apply writes and deletes rows by the target's primary key`,
    fix: `ALTER TABLE ${entry.table} ADD PRIMARY KEY (${columns})`,
  };
}
