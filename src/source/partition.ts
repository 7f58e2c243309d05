/**
 * One Kafka partition, named `topic[partition]`: the one form a partition takes as a map key, in
 * /status, in metrics labels and in messages. Kafka topic names hold only [a-zA-Z0-9._-], so the
 * last `[` always starts the partition number.
 */
export type PartitionId = `${string}[${number}]`;

export function partitionId(topic: string, partition: number): PartitionId {
  return `${topic}[${partition}]`;
}

export function splitPartitionId(id: PartitionId): { topic: string; partition: number } {
  const at = id.lastIndexOf("[");
  return { topic: id.slice(0, at), partition: Number(id.slice(at + 1, -1)) };
}
