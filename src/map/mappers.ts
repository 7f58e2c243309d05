/** One Mapper per topic, made on first use from the table the config maps the topic to. */
import { type Config, resolveTable } from "../config/index.ts";
import { Mapper } from "./mapper.ts";

export class Mappers {
  private readonly byTopic = new Map<string, Mapper>();

  constructor(private readonly config: Config) {}

  /** The topic's mapper; undefined for topics the config does not map (transaction metadata). */
  for(topic: string): Mapper | undefined {
    let mapper = this.byTopic.get(topic);
    if (!mapper) {
      const mapping = resolveTable(this.config, topic);
      if (!mapping) return undefined;
      mapper = new Mapper(mapping, this.config.masking?.key);
      this.byTopic.set(topic, mapper);
    }
    return mapper;
  }
}
