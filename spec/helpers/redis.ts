/**
 * Redis for integration specs: `REDIS_URL` when set; otherwise a container started with
 * testcontainers when a container runtime is available; otherwise a clear failure.
 */
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";

let started: Promise<string> | undefined;

/** The URL of a Redis server to test against. Rejects (never skips) when there is none. */
export function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return Promise.resolve(process.env.REDIS_URL);
  started ??= startContainer();
  return started;
}

async function startContainer(): Promise<string> {
  try {
    const { GenericContainer, Wait } = await import("testcontainers");
    const container = await new GenericContainer("redis:7-alpine")
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
      .start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    process.env.REDIS_URL = url; // child processes spawned by specs find it too
    process.once("exit", () => void container.stop().catch(() => undefined));
    return url;
  } catch (error) {
    throw new Error(
      "Redis specs need a server: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379 npm test) " +
        `or provide a container runtime for testcontainers (it said: ${(error as Error).message})`,
    );
  }
}

/** A namespace no other spec run uses. */
export function uniqueNamespace(prefix = "dramats-spec"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A plain client for inspecting keys from specs; `disconnect()` it when done. */
export async function redisClient(): Promise<Redis> {
  const client = new Redis(await redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 3 });
  // Commands reject on their own when the server is away; this keeps ioredis from reporting each reconnect.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** The keys matching `pattern` (a pattern under a prefix the spec chose), by SCAN: never KEYS on a shared server. */
export async function scanKeys(pattern: string): Promise<string[]> {
  const client = await redisClient();
  try {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== "0");
    return found;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key of a namespace (`<namespace>:*`). */
export async function deleteNamespace(namespace: string): Promise<number> {
  const keys = await scanKeys(`${namespace}:*`);
  if (keys.length === 0) return 0;
  const client = await redisClient();
  try {
    return await client.unlink(...keys);
  } finally {
    client.disconnect();
  }
}
