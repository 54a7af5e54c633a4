// The public API of dramats. Anything not exported here is internal.

// actors
export { actor, actorOf, isActor } from "./actor.ts";
export { isTransactional, type SqlClient, type TransactionalBroker } from "./transactional.ts";
export type { Actor, ActorOptions, ActorContext, ActorFunction, MessageOverrides, SendOptions, PipeArgs } from "./actor.ts";

// brokers
export { Broker, Consumer, setBroker, getBroker } from "./broker.ts";
export type {
  BrokerAddress,
  BrokerOptions,
  ConsumeOptions,
  DeadLetter,
  Delivery,
  EnqueueOptions,
  JoinOptions,
  QueueDepths,
  WriteOptions,
  MessageWrite,
} from "./broker.ts";
export { canonicalQueueName, delayQueueName, deadLetterQueueName } from "./queue-names.ts";
export { connect, brokerFromUrl, brokerOrigin, defaultBrokerUrl, DEFAULT_BROKER_URL } from "./connect.ts";
export type { BrokerUrlSource } from "./connect.ts";

// messages and encoding
export { Message } from "./message.ts";
export type { MessageData, MessageOptions, Json } from "./message.ts";
export { MessageProxy } from "./message-proxy.ts";
export { JsonEncoder, getEncoder, setEncoder } from "./encoder.ts";
export type { Encoder, JsonEncoderOptions } from "./encoder.ts";

// composition and results
export { pipeline, group, Pipeline, Group } from "./composition.ts";
export type { GroupChild, RunOptions } from "./composition.ts";
export { ResultBackend } from "./results/backend.ts";
export type { GetResultOptions, ResultKeySource } from "./results/backend.ts";
export { StubResultBackend } from "./results/stub-backend.ts";
export { StoreResultBackend } from "./results/store-backend.ts";
export type { StoreResultBackendOptions } from "./results/store-backend.ts";

// cancellation
export type { CancellationBackend } from "./cancellation/backend.ts";
export { StubCancellationBackend } from "./cancellation/stub-backend.ts";

// rate limits
export { RateLimiter, ConcurrentRateLimiter, WindowRateLimiter, BucketRateLimiter } from "./rate-limits/rate-limiter.ts";
export type { AcquireOptions } from "./rate-limits/rate-limiter.ts";
export type { RateLimiterBackend } from "./rate-limits/backend.ts";
export { StubRateLimiterBackend } from "./rate-limits/stub-backend.ts";

// workers
export { Worker } from "./worker.ts";
export type { WorkerOptions, StopOptions } from "./worker.ts";
export type { ConsumerState } from "./worker/stall-watchdog.ts";

// middleware
export * from "../middleware/index.ts";

// errors
export {
  DramatsError,
  BrokerError,
  ActorNotFound,
  QueueNotFound,
  QueueArgumentsMismatch,
  ConnectionError,
  ConnectionFailed,
  ConnectionClosed,
  MessageDeadLettered,
  DecodeError,
  EncodeError,
  MessageTooLarge,
  QueueJoinTimeout,
  RateLimitExceeded,
  InvalidOptions,
  TransactionsUnsupported,
  Retry,
  Interrupt,
  TimeLimitExceeded,
  Shutdown,
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  MessageCancelled,
  ERROR_CLASSES,
} from "./errors.ts";

// schedules and stores
export { Schedule } from "./schedule.ts";
export type { ScheduleSpec } from "./schedule.ts";
export { isWatchable, MemoryKeyValueStore } from "./key-value-store.ts";
export type { KeyValueStore, WatchableStore } from "./key-value-store.ts";

// fleet controls (the dashboard's pause, resume, stop and restart)
export { pauseQueue, resumeQueue, pausedQueues, queuePause, pauseKey, PAUSE_TTL, type QueuePause } from "./queue-pauses.ts";
export type { PauseStore } from "./worker/pause-poller.ts";
export {
  requestWorkerControl,
  pendingWorkerControl,
  readWorkerControl,
  clearWorkerControl,
  workerControlKey,
  WORKER_CONTROL_TTL,
  type WorkerControlAction,
  type WorkerControlRequest,
} from "./worker-control.ts";

// logging
export { getLogger, configureLogging } from "./logging.ts";
export { redactUrl } from "./redact.ts";
export type { Logger } from "./logging.ts";
export { computeBackoff } from "./backoff.ts";
export { MemoryWorkerRegistry, parseWorkerRecord, workerRegistryOf, workerStatus, type HasWorkerRegistry, type RunningMessage, type WorkerRecord, type WorkerRegistry, type WorkerStatus } from "./worker-registry.ts";
export { BROWSE_STATES, MAX_BROWSE_LIMIT, queueBrowserOf, type BrowseOptions, type BrowsePage, type BrowseState, type FoundMessage, type HasQueueBrowser, type QueueBrowser, type StoredMessage } from "./queue-browser.ts";
export { MemoryHistoryStore, historyStoreOf, HISTORY_STEP, HISTORY_TTL, MAX_PAIRS, OTHER, type HasHistoryStore, type HistoryBucket, type HistoryStore, type PairCounts, type StoredBucket } from "./history-store.ts";
