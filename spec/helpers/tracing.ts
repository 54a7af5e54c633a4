// An OpenTelemetry SDK for specs, as an app would register one: spans kept in memory, and an
// AsyncLocalStorage context manager so spans made inside actors nest (taken down after each spec,
// so no other spec runs under it).
import { context, SpanKind, type SpanContext } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

export interface SpanView {
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  span: ReadableSpan;
}

export function tracingKit() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager();
  return {
    provider,
    exporter,
    tracer: provider.getTracer("spec"),
    /** Registers the context manager globally (throws if another one is registered). */
    install(): void {
      if (!context.setGlobalContextManager(manager.enable())) throw new Error("a global context manager is already registered");
    },
    async uninstall(): Promise<void> {
      context.disable();
      await provider.shutdown();
    },
    /** Finished spans, oldest first. */
    spans(): SpanView[] {
      return exporter.getFinishedSpans().map((span) => ({
        name: span.name,
        kind: SpanKind[span.kind],
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: (span.parentSpanContext as SpanContext | undefined)?.spanId,
        span,
      }));
    },
  };
}

/** The one span named `name` (fails when there are none or several). */
export function only(spans: SpanView[], name: string): SpanView {
  const found = spans.filter((s) => s.name === name);
  if (found.length !== 1) throw new Error(`expected one span ${name}, got ${found.length}: ${spans.map((s) => s.name).join(", ")}`);
  return found[0]!;
}
