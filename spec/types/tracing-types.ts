// Compile-only checks of the Tracing middleware's public types.
import { trace } from "@opentelemetry/api";
import { Tracing, type TraceContextCarrier } from "../../middleware/tracing.ts";

export function checks(): void {
  new Tracing();
  new Tracing({ tracerProvider: trace.getTracerProvider(), consumerSpans: "link", messagingSystem: "redis" });
  // @ts-expect-error consumerSpans is "parent" or "link"
  new Tracing({ consumerSpans: "sibling" });
  // @ts-expect-error a misspelt option
  new Tracing({ consumerSpan: "link" });
  // @ts-expect-error tracerProvider is a TracerProvider
  new Tracing({ tracerProvider: "otel" });
  const carrier: TraceContextCarrier = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
  // @ts-expect-error traceparent is required
  const bad: TraceContextCarrier = { tracestate: "k=v" };
  void carrier;
  void bad;
}
