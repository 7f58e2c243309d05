/** A request body as JSON, read up to a limit: larger bodies are refused (413) without reading them. */
import type { IncomingMessage } from "node:http";
import { ShadowdbError } from "../errors.ts";
import { HttpError } from "./router.ts";

export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = (limit: number) =>
  new HttpError(413, "HTTP_BODY_TOO_LARGE", `the request body is larger than ${limit} bytes`);

/** The raw bytes; stops reading (and leaves the rest unread) as soon as the limit is passed. */
export function readBytes(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        reject(tooLarge(limit));
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
  });
}

/** The body parsed as JSON; undefined when empty (or only white space). */
export async function readJson(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const bytes = await readBytes(request, limit);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ShadowdbError("USAGE_INVALID", "the request body is not UTF-8");
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ShadowdbError("USAGE_INVALID", `the request body is not JSON: ${(error as Error).message}`);
  }
}
