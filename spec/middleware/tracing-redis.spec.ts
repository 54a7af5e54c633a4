// Tracing across a real Redis: the producer (an app's broker) and the worker's broker are two
// connections, so the trace context reaches the run only through the message on the wire.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { actor, pipeline, Pipelines, Retries, Worker, type Middleware } from "../../lib/index.ts";
import { Tracing, TRACE_CONTEXT_OPTION } from "../../middleware/tracing.ts";
import { pythonEnqueued } from "../fixtures/redis-dramatiq-messages.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { only, tracingKit } from "../helpers/tracing.ts";

describe("Tracing across Redis", function () {
  this.timeout(20_000);
  let kit: ReturnType<typeof tracingKit>;
  let namespace: string;
  let queue: string;
  let admin: Redis;
  let app: RedisBroker;
  let workerBroker: RedisBroker;
  let worker: Worker;

  const chain = (): Middleware[] => [new Pipelines(), new Retries({ minBackoff: 1, maxBackoff: 5 }), new Tracing({ tracerProvider: kit.provider })];

  beforeEach(async () => {
    kit = tracingKit();
    kit.install();
    namespace = uniqueNamespace("dramats-tracing");
    queue = `traced_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
    const url = await redisUrl();
    app = new RedisBroker({ url, namespace, middleware: chain() });
    workerBroker = new RedisBroker({ url, namespace, middleware: chain() });
    worker = new Worker(workerBroker, { queues: [queue, `${queue}_next`], concurrency: 2, fetchTimeout: 200 });
  });

  afterEach(async () => {
    try {
      await worker?.stop({ timeout: 2_000 });
      await app?.close();
      await workerBroker?.close();
      admin?.disconnect();
      await deleteNamespace(namespace);
    } finally {
      await kit.uninstall();
    }
  });

  it("carries the trace through Redis: request → send → process → the actor's span, a retry and a pipeline step", async () => {
    let attempts = 0;
    const declare = (broker: RedisBroker) => ({
      charge: actor(function charge(order: string) {
        kit.tracer.startSpan(`charge ${order}`).end();
        if (++attempts === 1) throw new Error("card declined");
        return order.length;
      }, { broker, queueName: queue, maxRetries: 3 }),
      receipt: actor(function receipt(_order: string, _length: number) {}, { broker, queueName: `${queue}_next` }),
    });
    const sender = declare(app);
    declare(workerBroker);

    const first = await kit.tracer.startActiveSpan("checkout", async (request) => {
      const run = await pipeline([sender.charge.message("o-1"), sender.receipt.step("o-1")]).run();
      request.end();
      return run.messages[0]!;
    });
    // What a Python worker would read: the W3C context beside Dramatiq's own options.
    const [body] = await admin.hvals(`${namespace}:${queue}.msgs`);
    const stored = JSON.parse(body!) as { options: Record<string, unknown>; message_id: string };
    expect(stored.message_id).to.equal(first.messageId);
    expect(stored.options[TRACE_CONTEXT_OPTION]).to.have.property("traceparent").that.matches(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await worker.start();

    await workerBroker.join(queue, { timeout: 10_000 });
    await workerBroker.join(`${queue}_next`, { timeout: 10_000 });

    const spans = kit.spans();
    const request = only(spans, "checkout");
    const send = only(spans, `send ${queue}`);
    const runs = spans.filter((s) => s.name === `process ${queue}`);
    expect(send).to.deep.include({ kind: "PRODUCER", parentSpanId: request.spanId });
    expect(send.span.attributes["messaging.system"]).to.equal("redis");
    expect(runs.map((r) => [r.parentSpanId, r.span.attributes["dramats.message.attempt"], r.span.status.code])).to.deep.equal([
      [send.spanId, 1, 2],
      [send.spanId, 2, 0],
    ]);
    const charges = spans.filter((s) => s.name === "charge o-1");
    expect(charges.map((c) => c.parentSpanId)).to.deep.equal(runs.map((r) => r.spanId));
    const next = only(spans, `send ${queue}_next`);
    expect(next.parentSpanId).to.equal(runs[1]!.spanId);
    expect(only(spans, `process ${queue}_next`).parentSpanId).to.equal(next.spanId);
    expect(new Set(spans.map((s) => s.traceId))).to.deep.equal(new Set([request.traceId]));
  });

  it("starts a new trace for a message a Python producer enqueued (no trace context)", async () => {
    const calls: unknown[][] = [];
    actor(function interop_add(a: number, b: number, kwargs: { scale: number }) {
      calls.push([a, b, kwargs]);
    }, { broker: workerBroker, queueName: queue });
    const rid = randomUUID();
    const messageId = randomUUID();
    await admin.hset(`${namespace}:${queue}.msgs`, rid, pythonEnqueued(queue, rid, messageId, Date.now()));
    await admin.rpush(`${namespace}:${queue}`, rid);
    await worker.start();
    await workerBroker.join(queue, { timeout: 10_000 });

    expect(calls).to.deep.equal([[1, 2, { scale: 10 }]]);
    const run = only(kit.spans(), `process ${queue}`);
    expect(run.parentSpanId).to.equal(undefined);
    expect(run.span.links).to.deep.equal([]);
    expect(run.span.attributes).to.deep.include({ "messaging.message.id": messageId, "dramats.actor.name": "interop_add", "messaging.system": "redis" });
  });
});
