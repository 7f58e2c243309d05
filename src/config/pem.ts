/**
 * `kafka.ssl.ca`, `cert` and `key` (and `kafka.schemaRegistry.tls`'s) take PEM text (from `${VAR}`, say) or a file path (a mounted
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
  const ssl = await readSection(config.kafka.ssl, "kafka.ssl", baseDir, source);
  const registry = config.kafka.schemaRegistry;
  const tls = await readSection(registry?.tls, "kafka.schemaRegistry.tls", baseDir, source);
  return {
    ...config,
    kafka: {
      ...config.kafka,
      ...(ssl && { ssl }),
      ...(registry && tls && { schemaRegistry: { ...registry, tls } }),
    },
  };
}

async function readSection<T extends Partial<Record<(typeof pemFields)[number], string>>>(
  section: T | undefined,
  key: string,
  baseDir: string,
  source: string,
): Promise<T | undefined> {
  if (section === undefined) return undefined;
  const resolved = { ...section };
  for (const field of pemFields) {
    const value = section[field];
    if (value !== undefined) resolved[field] = await readPem(value, `${key}.${field}`, baseDir, source);
  }
  return resolved;
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
