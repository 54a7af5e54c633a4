import { createTraceState, isSpanContextValid, type SpanContext } from "@opentelemetry/api";

/**
 * The message option that carries a producer's W3C trace context. Dramatiq's options are a
 * free-form dict and its middleware read only the keys they know, so a Python worker carries it
 * along untouched (and a retry, a copy of the message, keeps it).
 */
export const TRACE_CONTEXT_OPTION = "trace_context";

/** What {@link TRACE_CONTEXT_OPTION} holds: the W3C Trace Context headers, by their header names. */
export interface TraceContextCarrier {
  /** `00-<trace id>-<span id>-<flags>`, as in the `traceparent` HTTP header. */
  traceparent: string;
  /** The vendors' `tracestate` list, when the span context has one. */
  tracestate?: string;
}

/** W3C's advice for `tracestate`: at most 512 characters are propagated; a longer one is dropped. */
export const MAX_TRACESTATE_LENGTH = 512;

// version 00 is exactly 55 characters; a later version may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$/;
const MAX_TRACEPARENT_LENGTH = 256;

/** The carrier for a span context, or undefined when the context is not valid (no SDK: nothing to propagate). */
export function encodeTraceContext(spanContext: SpanContext): TraceContextCarrier | undefined {
  if (!isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0");
  const carrier: TraceContextCarrier = { traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}` };
  const state = spanContext.traceState?.serialize();
  if (state !== undefined && state !== "" && state.length <= MAX_TRACESTATE_LENGTH) carrier.tracestate = state;
  return carrier;
}

/**
 * The remote span context a message carries, or undefined when it carries none or one that is
 * not valid W3C Trace Context (wrong shape, version `ff`, all-zero ids, not an object): the
 * message then starts a new trace. Never throws, whatever the producer wrote.
 */
export function decodeTraceContext(value: unknown): SpanContext | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const { traceparent, tracestate } = value as Record<string, unknown>;
  if (typeof traceparent !== "string" || traceparent.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  const spanContext: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16) & 0x01, isRemote: true };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (typeof tracestate === "string" && tracestate !== "" && tracestate.length <= MAX_TRACESTATE_LENGTH) {
    try {
      spanContext.traceState = createTraceState(tracestate);
    } catch {
      // A tracestate the API cannot parse is dropped; the traceparent alone still links the trace.
    }
  }
  return spanContext;
}
