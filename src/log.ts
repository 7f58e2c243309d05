/** Structured logs (pino). Secrets from the config never reach them: their paths are redacted. */
import pino from "pino";
import { redactOptions } from "./config/index.ts";

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ name: "shadowdb", level, redact: redactOptions }, destination ?? pino.destination(2));
}
