/**
 * The stack's schema registry as a background process: `node --import tsx stack/registry/main.ts
 * PORT FILE [marker]`. The trailing marker only lets `down` recognise this process by its command line.
 */
import { startRegistry } from "./server.ts";

const [port, file] = process.argv.slice(2);
if (!port || !file) {
  process.stderr.write("usage: registry/main.ts PORT FILE\n");
  process.exit(2);
}
const registry = await startRegistry({ port: Number.parseInt(port, 10), file });
process.stderr.write(`schema registry listening on 127.0.0.1:${registry.port}, state in ${file}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => registry.close().then(() => process.exit(0)));
}
