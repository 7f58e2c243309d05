/** `shadowdb decode`: what shadowdb makes of one message, as lossless JSON. */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { DecodeError, RecordDecoder, toLosslessJson } from "../decode/index.ts";

async function readInput(file: string | undefined): Promise<Buffer> {
  if (file === undefined || file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  return readFile(file);
}

export async function decodeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      key: { type: "string" },
      topic: { type: "string" },
      "binary-handling-mode": { type: "string" },
      envelope: { type: "string" },
    },
  });
  if (positionals.length > 1) {
    console.error(
      "shadowdb decode: one message at a time: decode [--key FILE] [--topic T] [--envelope E] [FILE | -]",
    );
    return 2;
  }
  const mode = values["binary-handling-mode"];
  if (mode !== undefined && !["bytes", "base64", "base64-url-safe", "hex"].includes(mode)) {
    console.error(`shadowdb decode: --binary-handling-mode must be bytes, base64, base64-url-safe or hex`);
    return 2;
  }
  const envelope = values.envelope ?? "debezium";
  if (envelope !== "debezium" && envelope !== "flattened") {
    console.error("shadowdb decode: --envelope must be debezium or flattened (as tables[].envelope)");
    return 2;
  }
  const text = await readInput(positionals[0]);
  const key = values.key === undefined ? null : await readFile(values.key);
  const decoder = new RecordDecoder(mode ? { binaryHandlingMode: mode as "bytes" } : {});
  // The literal `null` is how a tombstone's value looks when saved to a file.
  const value = text.toString("utf8").trim() === "null" ? null : text;
  try {
    const record = { topic: values.topic ?? "", partition: 0, offset: "0", key, value };
    const event = decoder.decode(record, envelope);
    const { at: _at, ...rest } = event;
    console.log(JSON.stringify(toLosslessJson(rest), null, 2));
    return 0;
  } catch (error) {
    if (error instanceof DecodeError) {
      console.error(`${error.code}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
