import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Broker } from "../lib/broker.ts";
import { describeError } from "../lib/errors.ts";
import type { Message } from "../lib/message.ts";
import { retryCount } from "../lib/message-limits.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, type ProcessOutcome, type ProcessWrapper } from "./middleware.ts";
import { decodeTraceContext, encodeTraceContext, TRACE_CONTEXT_OPTION } from "./trace-context.ts";

export { TRACE_CONTEXT_OPTION, MAX_TRACESTATE_LENGTH, decodeTraceContext, encodeTraceContext, type TraceContextCarrier } from "./trace-context.ts";

/** Options of {@link Tracing}. */
export interface TracingOptions {
  /** Where spans go. @defaultValue the global provider (`trace.getTracerProvider()`), as registered by the app's SDK */
  tracerProvider?: TracerProvider;
  /**
   * How a run's consumer span relates to the producer span of its message: `"parent"` (a child,
   * one trace from the request to the actor) or `"link"` (a new trace, linked to the producer's).
   * @defaultValue "parent"
   */
  consumerSpans?: "parent" | "link";
  /** `messaging.system` on every span. @defaultValue from the broker: `redis`, `rabbitmq`, `sqlite`, `stub` */
  messagingSystem?: string;
}

/** Message ids of follow-ups remembered at once (pipeline steps, chord callbacks); the oldest go first. */
const MAX_FOLLOW_UPS = 10_000;

/**
 * OpenTelemetry tracing through `@opentelemetry/api` alone: the app registers its SDK (a tracer
 * provider, and a context manager for spans made inside actors to nest).
 *
 * - Each enqueue of a new message starts a `send <queue>` span (kind PRODUCER) under the active
 *   context and writes its W3C context into the message's options (`trace_context`).
 * - Each run starts a `process <queue>` span (kind CONSUMER) as a child of that producer span (or
 *   linked to it, see {@link TracingOptions.consumerSpans}); the actor runs inside it. A message
 *   with no (or a malformed) trace context, one from Python say, starts a new trace.
 * - A retry is the same message enqueued again: it keeps its original producer context, so each
 *   attempt is one more consumer span under the same producer span, with `dramats.message.attempt`.
 * - A pipeline's next step and a group's completion callbacks, enqueued by a worker after a run,
 *   get their producer span under the consumer span of the run that enqueued them.
 * - A failed run records the exception and sets the span's status to ERROR.
 *
 * A message that a middleware ahead of this one skips gets no consumer span: put Tracing first in
 * the chain to trace those too.
 */
export class Tracing extends Middleware implements ProcessWrapper {
  readonly #tracer: Tracer;
  readonly #linkOnly: boolean;
  readonly #system: string | undefined;
  readonly #producing = new WeakMap<Message, Span>();
  readonly #running = new WeakMap<MessageProxy, Span>();
  /** Message id of a follow-up → the consumer span context of the run that will enqueue it. */
  readonly #followUps = new Map<string, SpanContext>();
  readonly #systems = new WeakMap<Broker, string>();

  /** @throws TypeError when `consumerSpans` is neither "parent" nor "link" */
  constructor(options: TracingOptions = {}) {
    super();
    const mode = options.consumerSpans ?? "parent";
    if (mode !== "parent" && mode !== "link") throw new TypeError(`options.consumerSpans must be "parent" or "link", got ${JSON.stringify(mode)}`);
    this.#linkOnly = mode === "link";
    this.#system = options.messagingSystem;
    this.#tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer("dramats");
  }

  /** Starts the producer span of a new message and writes its context into the message's options. */
  beforeEnqueue(broker: Broker, message: Message, delay: number): void {
    // A message that already carries a context is enqueued again (a retry, a requeued dead letter): it keeps it.
    if (message.options[TRACE_CONTEXT_OPTION] !== undefined) return;
    const attributes = this.#attributes(broker, message, "send");
    if (delay > 0) attributes["dramats.message.delay_ms"] = delay;
    const span = this.#tracer.startSpan(`send ${message.queueName}`, { kind: SpanKind.PRODUCER, attributes }, this.#producerParent(message));
    const carrier = encodeTraceContext(span.spanContext());
    if (carrier !== undefined) message.options[TRACE_CONTEXT_OPTION] = carrier;
    this.#producing.set(message, span);
  }

  /** Ends the producer span once the broker holds the message. */
  afterEnqueue(_broker: Broker, message: Message): void {
    const span = this.#producing.get(message);
    if (span === undefined) return;
    this.#producing.delete(message);
    span.end();
  }

  /** Starts the run's consumer span, under (or linked to) the context the message carries. */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    const message = proxy.message;
    const remote = decodeTraceContext(message.options[TRACE_CONTEXT_OPTION]);
    const retries = retryCount(message.options);
    const attributes = this.#attributes(broker, message, "process");
    attributes["dramats.message.retries"] = retries;
    attributes["dramats.message.attempt"] = retries + 1;
    const parented = remote !== undefined && !this.#linkOnly;
    const span = this.#tracer.startSpan(
      `process ${message.queueName}`,
      { kind: SpanKind.CONSUMER, attributes, root: !parented, links: remote !== undefined && !parented ? [{ context: remote }] : [] },
      parented ? trace.setSpanContext(ROOT_CONTEXT, remote) : ROOT_CONTEXT,
    );
    this.#running.set(proxy, span);
    this.#rememberFollowUps(message, span.spanContext());
  }

  /** Runs the actor inside its consumer span's context: spans the actor starts are its children. */
  wrapProcessMessage(_broker: Broker, proxy: MessageProxy, call: () => unknown): unknown {
    const span = this.#running.get(proxy);
    return span === undefined ? call() : context.with(trace.setSpan(context.active(), span), call);
  }

  /** Ends the run's consumer span, recording the error of a failed run. */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void {
    const failed = outcome.error !== undefined ? outcome.error : proxy.failed ? proxy.error : undefined;
    this.#finish(proxy, failed, outcome.error !== undefined || proxy.failed);
  }

  /** Ends the consumer span of a run a middleware skipped (`dramats.message.skipped`). */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.get(proxy)?.setAttribute("dramats.message.skipped", true);
    this.#finish(proxy, proxy.failed ? proxy.error : undefined, proxy.failed);
  }

  #finish(proxy: MessageProxy, error: unknown, failed: boolean): void {
    const span = this.#running.get(proxy);
    if (span === undefined) return;
    this.#running.delete(proxy);
    if (failed) {
      if (error !== undefined) span.recordException(error instanceof Error ? error : describeError(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error === undefined ? "failed" : describeError(error) });
    }
    span.end();
  }

  /** The active span when there is one (app code, an actor); else the run that announced this message as a follow-up. */
  #producerParent(message: Message): Context {
    const active = context.active();
    if (trace.getSpan(active) !== undefined) return active;
    const announced = this.#followUps.get(message.messageId);
    if (announced === undefined) return active;
    this.#followUps.delete(message.messageId);
    return trace.setSpanContext(active, announced);
  }

  // Pipelines and GroupCallbacks enqueue these from after-hooks, outside the actor's context.
  #rememberFollowUps(message: Message, run: SpanContext): void {
    const { pipe_target: pipeTarget, group_completion_callbacks: callbacks } = message.options as Record<string, unknown>;
    const ids: unknown[] = [];
    if (isRecord(pipeTarget)) ids.push(pipeTarget.message_id);
    if (Array.isArray(callbacks)) for (const callback of callbacks) if (isRecord(callback)) ids.push(callback.message_id);
    for (const id of ids) {
      if (typeof id !== "string") continue;
      this.#followUps.delete(id);
      this.#followUps.set(id, run);
      if (this.#followUps.size > MAX_FOLLOW_UPS) this.#followUps.delete(this.#followUps.keys().next().value!);
    }
  }

  #attributes(broker: Broker, message: Message, operation: "send" | "process"): Attributes {
    return {
      "messaging.system": this.#system ?? this.#systemOf(broker),
      "messaging.destination.name": message.queueName,
      "messaging.operation.type": operation,
      "messaging.operation.name": operation,
      "messaging.message.id": message.messageId,
      "dramats.actor.name": message.actorName,
    };
  }

  #systemOf(broker: Broker): string {
    let system = this.#systems.get(broker);
    if (system === undefined) {
      system = brokerSystem(broker);
      this.#systems.set(broker, system);
    }
    return system;
  }
}

const SYSTEMS: Readonly<Record<string, string>> = { RedisBroker: "redis", RabbitmqBroker: "rabbitmq", SqliteBroker: "sqlite", StubBroker: "stub", PostgresBroker: "postgresql" };

/** The broker's `messaging.system`: its own class or the nearest known one it extends (no broker module imported). */
function brokerSystem(broker: Broker): string {
  for (let proto: object | null = Object.getPrototypeOf(broker); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const known = SYSTEMS[(proto as { constructor: { name: string } }).constructor.name];
    if (known !== undefined) return known;
  }
  return broker.constructor.name.replace(/Broker$/, "").toLowerCase() || "dramats";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object";
}
