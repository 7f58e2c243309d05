/**
 * Source-transaction mode needs every partition of a source's topics in one consumer: a
 * transaction spans tables, and its parts must commit together. This assigner gives them all to
 * one member (the lowest id, stable while it lives); other instances stand by and take over on
 * the rebalance that follows its loss.
 */
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

export const ALL_TO_ONE = "ShadowdbAllToOne";

export const allToOneAssigner: PartitionAssigner = ({ cluster }) => ({
  name: ALL_TO_ONE,
  version: 0,
  async assign({ members, topics }) {
    const [owner, ...standby] = members.map((m) => m.memberId).sort();
    const assignment: Record<string, number[]> = {};
    for (const topic of topics) {
      assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
    }
    const encode = (of: Record<string, number[]>) =>
      AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: of, userData: Buffer.alloc(0) });
    return [
      { memberId: owner!, memberAssignment: encode(assignment) },
      ...standby.map((memberId) => ({ memberId, memberAssignment: encode({}) })),
    ];
  },
  protocol({ topics }) {
    return {
      name: ALL_TO_ONE,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
