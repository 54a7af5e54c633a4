// Compile-only checks of the Tracing middleware's public types.
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Tracing, type TraceContextCarrier } from "../../middleware/tracing.ts";

/** README "Tracing (OpenTelemetry)": the setup example, compiled (not run). */
export function readmeSetup(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())] }));
  const broker = new RedisBroker({ url: process.env.REDIS_URL });
  broker.addMiddleware(new Tracing());
}

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
