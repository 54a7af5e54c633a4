import { createTraceState, SpanStatusCode, trace } from "@opentelemetry/api";
import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, AgeLimit, Callbacks, group, GroupCallbacks, Message, pipeline, Pipelines, Retries, StubRateLimiterBackend, Worker } from "../../lib/index.ts";
import { decodeTraceContext, encodeTraceContext, MAX_TRACESTATE_LENGTH, Tracing, TRACE_CONTEXT_OPTION } from "../../middleware/tracing.ts";
import { only, tracingKit } from "../helpers/tracing.ts";

describe("Tracing (OpenTelemetry)", () => {
  let kit: ReturnType<typeof tracingKit>;
  let broker: StubBroker;
  let worker: Worker;

  beforeEach(async () => {
    kit = tracingKit();
    kit.install();
    broker = new StubBroker({
      middleware: [new Callbacks(), new Pipelines(), new Retries({ minBackoff: 1, maxBackoff: 5 }), new GroupCallbacks({ backend: new StubRateLimiterBackend() }), new Tracing({ tracerProvider: kit.provider })],
    });
    worker = new Worker(broker, { fetchTimeout: 50, concurrency: 4 });
    await worker.start();
  });

  afterEach(async () => {
    try {
      await worker?.stop({ timeout: 1_000 });
      await broker?.close();
    } finally {
      await kit.uninstall();
    }
  });

  it("traces a send and its run as one tree, and the actor's own spans are children of the run", async () => {
    const welcome = actor(function welcome(user: string) {
      kit.tracer.startSpan(`render ${user}`).end();
    }, { broker, queueName: "emails" });
    // Given a request span in the app, when it sends a message and a worker runs it:
    const sent = await kit.tracer.startActiveSpan("request", async (request) => {
      const message = await welcome.send("u1");
      request.end();
      return message;
    });
    await broker.join("emails");

    const spans = kit.spans();
    const request = only(spans, "request");
    const send = only(spans, "send emails");
    const run = only(spans, "process emails");
    const render = only(spans, "render u1");
    expect(send).to.deep.include({ kind: "PRODUCER", parentSpanId: request.spanId, traceId: request.traceId });
    expect(run).to.deep.include({ kind: "CONSUMER", parentSpanId: send.spanId, traceId: request.traceId });
    expect(render).to.deep.include({ parentSpanId: run.spanId, traceId: request.traceId });
    // The W3C context travels in the message's options.
    expect(sent.options[TRACE_CONTEXT_OPTION]).to.deep.equal({ traceparent: `00-${send.traceId}-${send.spanId}-01` });
    expect(send.span.attributes).to.deep.equal({
      "messaging.system": "stub",
      "messaging.destination.name": "emails",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.id": sent.messageId,
      "dramats.actor.name": "welcome",
    });
    expect(run.span.attributes).to.deep.equal({
      "messaging.system": "stub",
      "messaging.destination.name": "emails",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.message.id": sent.messageId,
      "dramats.actor.name": "welcome",
      "dramats.message.retries": 0,
      "dramats.message.attempt": 1,
    });
    expect(run.span.status.code).to.equal(SpanStatusCode.UNSET);
  });

  it("makes each retry a new consumer span under the original producer span, with its attempt and the error recorded", async () => {
    let attempts = 0;
    const flaky = actor(function flaky() {
      if (++attempts < 3) throw new TypeError(`attempt ${attempts} failed`);
    }, { broker, maxRetries: 5 });
    await flaky.send();
    await broker.join("default");

    const spans = kit.spans();
    const send = only(spans, "send default");
    const runs = spans.filter((s) => s.name === "process default");
    // Retries re-enqueue the message with its context: no second producer span.
    expect(spans.filter((s) => s.kind === "PRODUCER")).to.have.length(1);
    expect(runs.map((r) => r.span.attributes["dramats.message.attempt"])).to.deep.equal([1, 2, 3]);
    expect(runs.map((r) => r.parentSpanId)).to.deep.equal([send.spanId, send.spanId, send.spanId]);
    expect(runs.map((r) => r.span.status)).to.deep.equal([
      { code: SpanStatusCode.ERROR, message: "TypeError: attempt 1 failed" },
      { code: SpanStatusCode.ERROR, message: "TypeError: attempt 2 failed" },
      { code: SpanStatusCode.UNSET },
    ]);
    const exception = runs[0]!.span.events.find((e) => e.name === "exception");
    expect(exception?.attributes).to.deep.include({ "exception.type": "TypeError", "exception.message": "attempt 1 failed" });
  });

  it("chains a pipeline: each step's send span is a child of the run of the step before", async () => {
    const fetchPage = actor(function fetchPage(url: string) { return `<html>${url}</html>`; }, { broker, queueName: "a" });
    const measure = actor(function measure(html: string) { return html.length; }, { broker, queueName: "b" });
    const double = actor(function doubleIt(n: number) { return n * 2; }, { broker, queueName: "c" });
    await kit.tracer.startActiveSpan("request", async (request) => {
      await pipeline([fetchPage.message("x.io"), measure.step(), double.step()]).run();
      request.end();
    });
    for (const queue of ["a", "b", "c"]) await broker.join(queue);

    const spans = kit.spans();
    const request = only(spans, "request");
    const tree = ["a", "b", "c"].map((q) => ({ send: only(spans, `send ${q}`), run: only(spans, `process ${q}`) }));
    expect(tree[0]!.send.parentSpanId).to.equal(request.spanId);
    expect(tree[1]!.send.parentSpanId).to.equal(tree[0]!.run.spanId);
    expect(tree[2]!.send.parentSpanId).to.equal(tree[1]!.run.spanId);
    for (const { send, run } of tree) {
      expect(run.parentSpanId).to.equal(send.spanId);
      expect([send.traceId, run.traceId]).to.deep.equal([request.traceId, request.traceId]);
    }
  });

  it("traces a group: every member under the request, the completion callback under the last member's run", async () => {
    const part = actor(function part(n: number) { return n; }, { broker, queueName: "parts" });
    const done = actor(function done() {}, { broker, queueName: "done" });
    await kit.tracer.startActiveSpan("request", async (request) => {
      await group([part.message(1), part.message(2), part.message(3)]).addCompletionCallback(done.message()).run();
      request.end();
    });
    await broker.join("parts");
    await broker.join("done");

    const spans = kit.spans();
    const request = only(spans, "request");
    const sends = spans.filter((s) => s.name === "send parts");
    const runs = spans.filter((s) => s.name === "process parts");
    expect(sends.map((s) => s.parentSpanId)).to.deep.equal([request.spanId, request.spanId, request.spanId]);
    expect(runs.map((r) => r.parentSpanId).sort()).to.deep.equal(sends.map((s) => s.spanId).sort());
    const completion = only(spans, "send done");
    expect(runs.map((r) => r.spanId)).to.include(completion.parentSpanId);
    expect(only(spans, "process done").parentSpanId).to.equal(completion.spanId);
    expect(new Set(spans.map((s) => s.traceId))).to.deep.equal(new Set([request.traceId]));
  });

  it("puts the delay of a delayed send on its span", async () => {
    const later = actor(function later() {}, { broker, queueName: "later" });
    await later.sendWithOptions({ args: [], delay: 20 });
    await broker.join("later");
    expect(only(kit.spans(), "send later").span.attributes["dramats.message.delay_ms"]).to.equal(20);
  });

  it("does not chain an onSuccess callback: its send span starts a trace of its own (a weaker guarantee)", async () => {
    const notify = actor(function notify() {}, { broker, queueName: "notify" });
    const work = actor(function work() {}, { broker, queueName: "work", onSuccess: notify });
    await work.send();
    await broker.join("work");
    await broker.join("notify");
    const spans = kit.spans();
    const callback = only(spans, "send notify");
    expect(callback.parentSpanId).to.equal(undefined);
    expect(callback.traceId).not.to.equal(only(spans, "process work").traceId);
    expect(only(spans, "process notify").parentSpanId).to.equal(callback.spanId);
  });

  it("starts a new trace for a message whose trace context is malformed, and never fails it", async () => {
    const ran: string[] = [];
    actor(function plain(tag: string) { ran.push(tag); }, { broker });
    const malformed: unknown[] = [
      { traceparent: "00-zz-not-hex" },
      { traceparent: `00-${"0".repeat(32)}-${"1".repeat(16)}-01` },
      { traceparent: `ff-${"a".repeat(32)}-${"b".repeat(16)}-01` },
      { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01-extra` },
      { traceparent: 42, tracestate: ["x"] },
      "00-just-a-string",
      ["array"],
      null,
    ];
    // Written as a foreign producer would: Tracing leaves a context a message already carries.
    for (const [i, context] of malformed.entries()) {
      await broker.enqueue(new Message({ queueName: "default", actorName: "plain", args: [`m${i}`], kwargs: {}, options: { [TRACE_CONTEXT_OPTION]: context } }));
    }
    await broker.join("default");

    expect(ran.sort()).to.deep.equal(malformed.map((_, i) => `m${i}`).sort());
    const runs = kit.spans().filter((s) => s.name === "process default");
    expect(runs).to.have.length(malformed.length);
    for (const run of runs) expect(run.parentSpanId).to.equal(undefined);
    expect(new Set(runs.map((r) => r.traceId)).size).to.equal(malformed.length);
  });

  it("keeps a well-formed tracestate and links instead of parenting with consumerSpans: \"link\"", async () => {
    const linked = new StubBroker({ middleware: [new Tracing({ tracerProvider: kit.provider, consumerSpans: "link" })] });
    const linkedWorker = new Worker(linked, { fetchTimeout: 50 });
    await linkedWorker.start();
    try {
      let inside: string | undefined;
      actor(function linkedRun() {
        inside = trace.getActiveSpan()?.spanContext().spanId;
      }, { broker: linked });
      const traceparent = `00-${"a".repeat(32)}-${"b".repeat(16)}-01`;
      await linked.enqueue(new Message({ queueName: "default", actorName: "linkedRun", args: [], kwargs: {}, options: { [TRACE_CONTEXT_OPTION]: { traceparent, tracestate: "vendor=x1,other=y2" } } }));
      await linked.join("default");
      const run = only(kit.spans(), "process default");
      expect(run.parentSpanId).to.equal(undefined);
      expect(run.traceId).not.to.equal("a".repeat(32));
      expect(run.span.links).to.have.length(1);
      expect(run.span.links[0]!.context).to.deep.include({ traceId: "a".repeat(32), spanId: "b".repeat(16) });
      expect(run.span.links[0]!.context.traceState?.serialize()).to.equal("vendor=x1,other=y2");
      expect(inside).to.equal(run.spanId);
    } finally {
      await linkedWorker.stop({ timeout: 1_000 });
      await linked.close();
    }
  });

  for (const tracingFirst of [true, false]) {
    it(tracingFirst ? "ends the run's span of a message a later middleware skips, marked skipped and failed" : "makes no run span for a message a middleware ahead of it skips", async () => {
      const chain = tracingFirst ? [new Tracing({ tracerProvider: kit.provider }), new AgeLimit()] : [new AgeLimit(), new Tracing({ tracerProvider: kit.provider })];
      const aging = new StubBroker({ middleware: chain });
      const agingWorker = new Worker(aging, { fetchTimeout: 50 });
      await agingWorker.start();
      try {
        actor(function stale() {}, { broker: aging, maxAge: 1_000 });
        await aging.enqueue(new Message({ queueName: "default", actorName: "stale", args: [], kwargs: {}, options: {}, messageTimestamp: Date.now() - 60_000 }));
        await aging.join("default", { failFast: false });
        const runs = kit.spans().filter((s) => s.name === "process default");
        expect((await aging.deadLetters("default")).length).to.equal(1);
        if (!tracingFirst) return void expect(runs).to.deep.equal([]);
        expect(runs).to.have.length(1);
        expect(runs[0]!.span.attributes["dramats.message.skipped"]).to.equal(true);
        expect(runs[0]!.span.status.code).to.equal(SpanStatusCode.ERROR);
      } finally {
        await agingWorker.stop({ timeout: 1_000 });
        await aging.close();
      }
    });
  }

  it("refuses an unknown consumerSpans mode with a TypeError", () => {
    expect(() => new Tracing({ consumerSpans: "sibling" as never })).to.throw(TypeError, 'options.consumerSpans must be "parent" or "link", got "sibling"');
  });

  it("writes no trace context when no SDK is registered (the API's no-op tracer)", async () => {
    const bare = new StubBroker({ middleware: [new Tracing()] });
    try {
      actor(function untraced() {}, { broker: bare });
      const sent = await bare.enqueue(new Message({ queueName: "default", actorName: "untraced", args: [], kwargs: {}, options: {} }));
      expect(sent.options).not.to.have.property(TRACE_CONTEXT_OPTION);
    } finally {
      await bare.close();
    }
  });
});

describe("W3C trace context in message options", () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const spanId = "00f067aa0ba902b7";

  it("round-trips a traceparent and a tracestate", () => {
    const decoded = decodeTraceContext({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: "congo=t61rcWkgMzE" });
    expect(decoded).to.deep.include({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(encodeTraceContext(decoded!)).to.deep.equal({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: "congo=t61rcWkgMzE" });
  });

  it("leaves out a tracestate longer than 512 characters when writing", () => {
    const traceState = createTraceState().set("a", "a".repeat(200)).set("b", "b".repeat(200)).set("c", "c".repeat(200));
    expect(traceState.serialize().length).to.be.greaterThan(MAX_TRACESTATE_LENGTH);
    expect(encodeTraceContext({ traceId, spanId, traceFlags: 1, traceState })).to.deep.equal({ traceparent: `00-${traceId}-${spanId}-01` });
  });

  it("accepts a later version's extra fields, and drops a tracestate longer than 512 characters", () => {
    const decoded = decodeTraceContext({ traceparent: `01-${traceId}-${spanId}-00-future`, tracestate: `k=${"v".repeat(MAX_TRACESTATE_LENGTH)}` });
    expect(decoded).to.deep.include({ traceId, spanId, traceFlags: 0 });
    expect(decoded!.traceState).to.equal(undefined);
  });

  it("ignores uppercase hex, an all-zero span id and oversized input", () => {
    expect(decodeTraceContext({ traceparent: `00-${traceId.toUpperCase()}-${spanId}-01` })).to.equal(undefined);
    expect(decodeTraceContext({ traceparent: `00-${traceId}-${"0".repeat(16)}-01` })).to.equal(undefined);
    expect(decodeTraceContext({ traceparent: `01-${traceId}-${spanId}-01-${"x".repeat(300)}` })).to.equal(undefined);
  });
});
