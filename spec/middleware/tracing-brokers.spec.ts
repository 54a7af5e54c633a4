// The same producer → consumer tree on SQLite and RabbitMQ, with each broker's messaging.system.
import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { actor, Worker, type Broker } from "../../lib/index.ts";
import { Tracing } from "../../middleware/tracing.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { only, tracingKit } from "../helpers/tracing.ts";

const brokers: Record<string, (kit: ReturnType<typeof tracingKit>, queue: string) => Promise<{ broker: Broker; cleanup(): Promise<void> }>> = {
  sqlite: async (kit) => {
    const db = tempDatabase();
    const broker = new SqliteBroker({ path: db.path, middleware: [new Tracing({ tracerProvider: kit.provider })] });
    return { broker, cleanup: async () => { await broker.close(); db.cleanup(); } };
  },
  rabbitmq: async (kit, queue) => {
    const url = await amqpUrl();
    const broker = new RabbitmqBroker({ url, middleware: [new Tracing({ tracerProvider: kit.provider })], heartbeat: 2_000 });
    return { broker, cleanup: async () => { await broker.close(); await deleteQueues(url, [queue]); } };
  },
};

for (const [system, open] of Object.entries(brokers)) {
  describe(`Tracing on ${system}`, function () {
    this.timeout(20_000);

    it(`parents the run to the send and names the system ${system}`, async () => {
      const kit = tracingKit();
      const queue = uniqueQueue("traced");
      const { broker, cleanup } = await open(kit, queue);
      const worker = new Worker(broker, { queues: [queue], fetchTimeout: 100 });
      try {
        kit.install();
        const job = actor(function tracedJob() {}, { broker, queueName: queue });
        await worker.start();
        await kit.tracer.startActiveSpan("request", async (request) => {
          await job.send();
          request.end();
        });
        await broker.join(queue, { timeout: 10_000 });
        const spans = kit.spans();
        const send = only(spans, `send ${queue}`);
        const run = only(spans, `process ${queue}`);
        expect(send.parentSpanId).to.equal(only(spans, "request").spanId);
        expect(run.parentSpanId).to.equal(send.spanId);
        expect([send.span.attributes["messaging.system"], run.span.attributes["messaging.system"]]).to.deep.equal([system, system]);
      } finally {
        await worker.stop({ timeout: 2_000 });
        await cleanup();
        await kit.uninstall();
      }
    });
  });
}
