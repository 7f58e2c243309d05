/**
 * The Kafka half of `shadowdb check`: the brokers answer, each `tables[]` entry finds the topics it
 * is meant for (a topic that does not exist yet is a warning: Debezium creates a table's topic
 * with its first change), and in source-transaction mode the transaction topic is there.
 */
import type { Admin } from "kafkajs";
import { type Config, resolveTable } from "../config/index.ts";
import { compileTopicPattern } from "../config/topic-pattern.ts";
import { kafkaErrorText } from "./kafka-admin.ts";
import type { CheckResult } from "./result.ts";

/** Topics listed per entry before "and N more". */
const shownTopics = 5;

export interface KafkaFindings {
  results: CheckResult[];
  /** The cluster's topics, when the brokers answered. */
  topics?: string[];
}

export async function checkKafka(config: Config, admin: Admin): Promise<KafkaFindings> {
  const brokers = config.kafka.brokers.join(",");
  let topics: string[];
  try {
    await admin.connect();
    topics = (await admin.listTopics()).sort();
  } catch (error) {
    return {
      results: [
        {
          check: "kafka.brokers",
          status: "fail",
          message: `${brokers} did not answer: ${kafkaErrorText(error)}`,
          fix: "check kafka.brokers, that the brokers run and that their advertised listeners are reachable from here, and kafka.ssl / kafka.sasl",
        },
      ],
    };
  }
  const results: CheckResult[] = [
    { check: "kafka.brokers", status: "ok", message: `${brokers} answered (${topics.length} topics)` },
  ];
  for (const i of config.tables.keys()) results.push(entryTopics(config, topics, i));
  if (config.apply.transactional === "source") {
    const topic = config.apply.transactionTopic!;
    results.push(
      topics.includes(topic)
        ? { check: "kafka.transactionTopic", status: "ok", message: `${topic} exists` }
        : {
            check: "kafka.transactionTopic",
            status: "fail",
            message: `${topic} (apply.transactionTopic) does not exist`,
            fix: "set provide.transaction.metadata=true on the source connector; its topic is <topic.prefix>.transaction",
          },
    );
  }
  return { results, topics };
}

function entryTopics(config: Config, topics: string[], i: number): CheckResult {
  const entry = config.tables[i]!;
  const check = "kafka.topics";
  if (entry.topic !== undefined) {
    return topics.includes(entry.topic)
      ? { check, status: "ok", message: `tables[${i}]: ${entry.topic} exists` }
      : {
          check,
          status: "warn",
          message: `tables[${i}]: ${entry.topic} does not exist yet`,
          fix: "Debezium creates a table's topic with its first change: check the connector's topic.prefix and table.include.list, or the topic's spelling",
        };
  }
  const pattern = compileTopicPattern(entry.topicPattern!);
  const matched: string[] = [];
  for (const topic of topics) {
    if (!pattern.test(topic)) continue;
    try {
      // An exact topic or an earlier pattern may take it first.
      if (resolveTable(config, topic)?.entry === i) matched.push(topic);
    } catch (error) {
      return { check, status: "fail", message: (error as Error).message, fix: `correct tables[${i}].table` };
    }
  }
  if (matched.length === 0) {
    return {
      check,
      status: "warn",
      message: `tables[${i}]: topicPattern ${entry.topicPattern} matches no topic yet`,
      fix: "run picks up matching topics as they appear; check the pattern against the connector's topic.prefix",
    };
  }
  const shown = matched.slice(0, shownTopics).join(", ");
  const more = matched.length > shownTopics ? ` and ${matched.length - shownTopics} more` : "";
  return {
    check,
    status: "ok",
    message: `tables[${i}]: topicPattern ${entry.topicPattern} matches ${matched.length} topic(s): ${shown}${more}`,
  };
}
