// The public API of dramats. Anything not exported here is internal.

// actors
export { actor, actorOf, isActor } from "./actor.ts";
export type { Actor, ActorOptions, ActorContext, ActorFunction, MessageOverrides, SendOptions } from "./actor.ts";

// brokers
export { Broker, Consumer, setBroker, getBroker } from "./broker.ts";
export type {
  BrokerOptions,
  ConsumeOptions,
  DeadLetter,
  Delivery,
  EnqueueOptions,
  JoinOptions,
  QueueDepths,
  WriteOptions,
} from "./broker.ts";
export { canonicalQueueName, delayQueueName, deadLetterQueueName } from "./queue-names.ts";

// messages and encoding
export { Message } from "./message.ts";
export type { MessageData, MessageOptions, Json } from "./message.ts";
export { MessageProxy } from "./message-proxy.ts";
export { JsonEncoder, getEncoder, setEncoder } from "./encoder.ts";
export type { Encoder, JsonEncoderOptions } from "./encoder.ts";

// workers
export { Worker } from "./worker.ts";
export type { WorkerOptions, StopOptions } from "./worker.ts";

// middleware
export * from "../middleware/index.ts";

// errors
export {
  DramatsError,
  BrokerError,
  ActorNotFound,
  QueueNotFound,
  ConnectionError,
  ConnectionFailed,
  ConnectionClosed,
  DecodeError,
  EncodeError,
  MessageTooLarge,
  QueueJoinTimeout,
  RateLimitExceeded,
  InvalidOptions,
  Retry,
  Interrupt,
  TimeLimitExceeded,
  Shutdown,
  ERROR_CLASSES,
} from "./errors.ts";

// logging
export { getLogger, configureLogging } from "./logging.ts";
export type { Logger } from "./logging.ts";
export { computeBackoff } from "./backoff.ts";
