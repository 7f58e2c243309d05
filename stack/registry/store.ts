import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

/** One stored schema text; equal texts share one content id, as in Apicurio. */
interface Content {
  contentId: number;
  text: string;
}

export interface Version {
  version: string;
  globalId: number;
  contentId: number;
  createdOn: number;
}

interface Artifact {
  groupId: string;
  artifactId: string;
  type: string;
  versions: Version[];
}

interface Persisted {
  nextGlobalId: number;
  nextContentId: number;
  contents: Content[];
  artifacts: Artifact[];
}

export type IfExists = "FAIL" | "UPDATE" | "RETURN" | "RETURN_OR_UPDATE";

export interface Registered {
  artifact: { groupId: string; artifactId: string; type: string };
  version: Version;
}

/**
 * Apicurio compares "canonical" content by its normalised form; key order and whitespace are what
 * differ between two writers of one Avro schema, so sorted-key compact JSON is that form here.
 */
export function canonical(text: string): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return Object.fromEntries(entries.map(([k, v]) => [k, sorted(v)]));
  };
  try {
    return JSON.stringify(sorted(JSON.parse(text)));
  } catch {
    return text.trim();
  }
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The registry's whole state, kept in memory and rewritten to one JSON file after every change
 * (a rename, so a crash leaves the previous file): ids must survive a stack restart because the
 * records already in Kafka carry them.
 */
export class RegistryStore {
  private state: Persisted = { nextGlobalId: 1, nextContentId: 1, contents: [], artifacts: [] };
  private readonly contentByHash = new Map<string, Content>();
  private readonly contentById = new Map<number, Content>();
  private readonly byGlobalId = new Map<number, Version>();
  private readonly artifacts = new Map<string, Artifact>();

  constructor(private readonly file: string | undefined) {
    if (!file) return;
    let raw: string | undefined;
    try {
      raw = readFileSync(file, "utf8");
    } catch {
      return; // first start: nothing persisted yet
    }
    this.state = JSON.parse(raw) as Persisted;
    for (const content of this.state.contents) this.index(content);
    for (const artifact of this.state.artifacts) {
      this.artifacts.set(key(artifact.groupId, artifact.artifactId), artifact);
      for (const v of artifact.versions) this.byGlobalId.set(v.globalId, v);
    }
  }

  private index(content: Content): void {
    this.contentByHash.set(hash(content.text), content);
    this.contentById.set(content.contentId, content);
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.state));
    renameSync(temporary, this.file);
  }

  private contentFor(text: string): Content {
    const existing = this.contentByHash.get(hash(text));
    if (existing) return existing;
    const content = { contentId: this.state.nextContentId++, text };
    this.state.contents.push(content);
    this.index(content);
    return content;
  }

  /** `undefined` when ifExists is FAIL and the artifact exists (Apicurio answers 409). */
  register(
    groupId: string,
    artifactId: string,
    type: string,
    text: string,
    opts: { ifExists: IfExists; canonical: boolean },
  ): Registered | undefined {
    let artifact = this.artifacts.get(key(groupId, artifactId));
    if (artifact) {
      if (opts.ifExists === "FAIL") return undefined;
      const latest = artifact.versions.at(-1)!;
      if (opts.ifExists === "RETURN") return { artifact, version: latest };
      if (opts.ifExists === "RETURN_OR_UPDATE") {
        const same = (v: Version) => {
          const stored = this.contentById.get(v.contentId)!.text;
          return opts.canonical ? canonical(stored) === canonical(text) : stored === text;
        };
        const found = artifact.versions.findLast(same);
        if (found) return { artifact, version: found };
      }
    } else {
      artifact = { groupId, artifactId, type, versions: [] };
      this.artifacts.set(key(groupId, artifactId), artifact);
      this.state.artifacts.push(artifact);
    }
    const version: Version = {
      version: String(artifact.versions.length + 1),
      globalId: this.state.nextGlobalId++,
      contentId: this.contentFor(text).contentId,
      createdOn: Date.now(),
    };
    artifact.versions.push(version);
    this.byGlobalId.set(version.globalId, version);
    this.save();
    return { artifact, version };
  }

  latest(groupId: string, artifactId: string): Registered | undefined {
    const artifact = this.artifacts.get(key(groupId, artifactId));
    return artifact && { artifact, version: artifact.versions.at(-1)! };
  }

  contentByGlobalId(globalId: number): string | undefined {
    const version = this.byGlobalId.get(globalId);
    return version && this.contentById.get(version.contentId)?.text;
  }

  contentByContentId(contentId: number): string | undefined {
    return this.contentById.get(contentId)?.text;
  }
}

const key = (groupId: string, artifactId: string) => `${groupId}\u0000${artifactId}`;
