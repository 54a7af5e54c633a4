// The backend contract on Redis: each instance opens its own connection under one private prefix.
import { RedisCancellationBackend, RedisRateLimiterBackend, RedisResultBackend } from "../../brokers/redis/index.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { backendContract, type BackendFactory } from "./backends/index.ts";

const factory: BackendFactory = async () => {
  const url = await redisUrl();
  const prefix = uniqueNamespace("backend-contract");
  const opened: { close(): Promise<void> }[] = [];
  const open = <T extends { close(): Promise<void> }>(backend: T): T => {
    opened.push(backend);
    return backend;
  };
  return {
    shared: true,
    cancellation: () => open(new RedisCancellationBackend({ url, prefix })),
    rateLimiter: () => open(new RedisRateLimiterBackend({ url, prefix, barrierPrefix: `${prefix}:barrier:` })),
    // Result keys are md5 hashes of the namespace and message: they expire by their TTL.
    results: () => open(new RedisResultBackend({ url, namespace: prefix })),
    close: async () => {
      for (const backend of opened) await backend.close();
      await deleteNamespace(prefix);
    },
  };
};

backendContract("redis", factory);
