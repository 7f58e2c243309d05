/**
 * `kafka.ssl.ca`, `cert` and `key` take PEM text (from `${VAR}`, say) or a file path (a mounted
 * secret). loadConfig reads the files, relative to the config file, so that Kafka receives PEM
 * text either way and a missing file is reported before anything connects.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ShadowdbError } from "../errors.ts";
import type { Config } from "./schema.ts";

const pemFields = ["ca", "cert", "key"] as const;

export function isPemText(value: string): boolean {
  return value.includes("-----BEGIN ");
}

export async function readPemFiles(config: Config, baseDir: string, source: string): Promise<Config> {
  const ssl = config.kafka.ssl;
  if (ssl === undefined) return config;
  const resolved = { ...ssl };
  for (const field of pemFields) {
    const value = ssl[field];
    if (value !== undefined) resolved[field] = await readPem(value, `kafka.ssl.${field}`, baseDir, source);
  }
  return { ...config, kafka: { ...config.kafka, ssl: resolved } };
}

async function readPem(value: string, key: string, baseDir: string, source: string): Promise<string> {
  if (isPemText(value)) return value;
  // Not PEM and not path-like: perhaps a key pasted without its header. Never echo it.
  if (value.includes("\n") || value.length > 4096) {
    throw new ShadowdbError(
      "CONFIG_INVALID",
      `${source}: ${key}: expected PEM text (-----BEGIN …) or a file path, got ${value.length} characters of neither`,
    );
  }
  const path = resolve(baseDir, value);
  let content: string;
  try {
    content = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ShadowdbError("CONFIG_UNREADABLE", `${source}: ${key}: cannot read ${path}: ${reason}`, {
      cause: error,
    });
  }
  if (!isPemText(content)) {
    throw new ShadowdbError(
      "CONFIG_INVALID",
      `${source}: ${key}: expected a PEM file, ${path} holds no -----BEGIN line`,
    );
  }
  return content;
}
