/**
 * What the demo prints for the user: where things are, then what to try. The lines that name the
 * database and the HTTP address have a fixed shape, so scripts and tests can read the ports.
 */

export interface PrintoutOptions {
  databaseUrl: string;
  httpUrl: string;
  adminToken: string;
  paceMs: number;
  /** Production's transactions still to come. */
  transactions: number;
}

export function addressLines(databaseUrl: string, httpUrl: string): string {
  return `shadowdb demo: database ${databaseUrl}\nshadowdb demo: http ${httpUrl}\n`;
}

/**
 * Customer 3 is the row production changes later in the recording (test/fixtures/record.ts,
 * demoChanges): the user sees production's version go to the copy while theirs stays.
 */
export const exampleWrites = [
  "UPDATE demo_customers SET tier = 'platinum' WHERE id = 3;",
  "INSERT INTO demo_orders (id, customer_id, total, status, placed_at) VALUES (1001, 3, 99.90, 'placed', now());",
];

function flowing({ paceMs, transactions }: PrintoutOptions): string {
  if (transactions === 0) return "Production has no more changes to send (the recorded stream is replayed).";
  const every = paceMs >= 1000 ? `${(paceMs / 1000).toFixed(paceMs % 1000 === 0 ? 0 : 1)} s` : `${paceMs} ms`;
  return `Production keeps changing them: ${transactions} more transactions, one every ${every}.`;
}

export function printout(options: PrintoutOptions): string {
  const { databaseUrl, httpUrl, adminToken } = options;
  const auth = `-H "Authorization: Bearer ${adminToken}"`;
  return `
shadowdb demo is running. The shadow database holds production's rows (tables demo_customers and
demo_orders, fed by a recorded Debezium stream), with the copy-on-write overlay on.
${flowing(options)}

Try it:
  1. Be the shadow service: connect and write.
       psql ${databaseUrl}
${exampleWrites.map((sql) => `       ${sql}`).join("\n")}
  2. See your writes against production (production changes customer 3 soon: your row stays yours):
       curl ${auth} "${httpUrl}/diff?format=text"
  3. Give the rows back to production:
       curl -X POST ${auth} ${httpUrl}/reset
  Without a token: curl ${httpUrl}/status and ${httpUrl}/healthz

The embedded database runs one transaction at a time: an open transaction in psql holds the demo
up until it ends. Ctrl-C stops the demo.
`;
}
