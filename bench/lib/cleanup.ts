// Deletes what bench runs create on the shared servers.
import amqp from "amqplib";
import { Redis } from "ioredis";
import { rabbitmqQueueNames } from "../../brokers/rabbitmq/declarations.ts";
import { AMQP_URL, REDIS_URL } from "./config.ts";

/** Deletes every key matching `pattern` (SCAN, never KEYS). */
export async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Deletes dramats queues (with their .DQ, .XQ and delay ladder) or plain queues. */
export async function deleteRabbitQueues(queues: string[], plain = false): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    const names = plain ? queues : queues.flatMap(rabbitmqQueueNames);
    for (const name of names) await channel.deleteQueue(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}
