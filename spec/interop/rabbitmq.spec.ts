import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { actor } from "../../lib/actor.ts";
import { brokerFromUrl } from "../../lib/connect.ts";
import { QueueArgumentsMismatch } from "../../lib/errors.ts";
import { Message } from "../../lib/message.ts";
import { Worker } from "../../lib/worker.ts";
import { amqpUrl, deleteQueues, rawChannel, uniqueQueue } from "../helpers/amqp.ts";

const SEVEN_DAYS = 7 * 24 * 3600 * 1000;

/**
 * The arguments Python Dramatiq 2.2's RabbitmqBroker declares: `q` and `q.DQ` durable with
 * `x-dead-letter-exchange: ""` and `x-dead-letter-routing-key: q.XQ`, plus `x-max-priority` only
 * when `max_priority` is set (dramatiq/brokers/rabbitmq.py:326-342, `_build_queue_arguments`,
 * `_declare_queue`, `_declare_dq_queue`); `q.XQ` durable with `x-message-ttl` = DEAD_MESSAGE_TTL,
 * 7 days unless env `dramatiq_dead_message_ttl` (rabbitmq.py:38, 344-353). No other TTL.
 */
function dramatiqArguments(queue: string, maxPriority?: number) {
  const main: Record<string, unknown> = { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${queue}.XQ` };
  if (maxPriority !== undefined) main["x-max-priority"] = maxPriority;
  return [
    { name: queue, arguments: main },
    { name: `${queue}.DQ`, arguments: main },
    { name: `${queue}.XQ`, arguments: { "x-message-ttl": SEVEN_DAYS } },
  ];
}

function withMaxPriority(url: string, n: number): string {
  return `${url}${url.includes("?") ? "&" : "?"}max_priority=${n}`;
}

/** Redeclares as Dramatiq would; resolves with the error RabbitMQ answered, if any. */
async function redeclare(url: string, declarations: { name: string; arguments: Record<string, unknown> }[]): Promise<unknown> {
  const raw = await rawChannel(url);
  try {
    for (const q of declarations) await raw.channel.assertQueue(q.name, { durable: true, arguments: q.arguments });
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await raw.close();
  }
}

describe("RabbitMQ interop with Python Dramatiq", function () {
  this.timeout(15_000);
  let url: string;
  let broker: RabbitmqBroker | undefined;
  let worker: Worker | undefined;

  before(async () => {
    url = await amqpUrl();
  });

  afterEach(async () => {
    await worker?.stop({ timeout: 2_000 });
    worker = undefined;
    if (broker) {
      const queues = [...broker.queues];
      await broker.close();
      await deleteQueues(url, queues);
      broker = undefined;
    }
  });

  it("declares q, q.DQ and q.XQ by default exactly as Dramatiq 2.2 does, so either side may declare first", async () => {
    const queue = uniqueQueue("interop");
    broker = new RabbitmqBroker({ url, middleware: [] });
    broker.declareQueue(queue);
    await broker.depths(queue); // declares
    expect(await redeclare(url, dramatiqArguments(queue))).to.equal(undefined);
    // And the check can fail: a Dramatiq with max_priority=10 is refused on the same queues.
    const refused = await redeclare(url, dramatiqArguments(queue, 10));
    expect(String(refused)).to.contain("PRECONDITION_FAILED");
  });

  it("declares x-max-priority only when asked (?max_priority=10), matching Dramatiq's max_priority=10", async () => {
    const queue = uniqueQueue("interop");
    // connect() and the CLI build their broker this way.
    broker = (await brokerFromUrl(withMaxPriority(url, 10), { middleware: [] })) as RabbitmqBroker;
    broker.declareQueue(queue);
    await broker.depths(queue);
    expect(await redeclare(url, dramatiqArguments(queue, 10))).to.equal(undefined);
  });

  it("runs messages on queues Dramatiq declared first, with the defaults", async () => {
    const queue = uniqueQueue("interop");
    expect(await redeclare(url, dramatiqArguments(queue))).to.equal(undefined);
    broker = new RabbitmqBroker({ url, middleware: [] });
    const seen: number[] = [];
    const job = actor(function interop_first(n: number) { seen.push(n); }, { broker, queueName: queue });
    await job.send(1);
    worker = new Worker(broker, { queues: [queue], fetchTimeout: 200 });
    await worker.start();
    await broker.join(queue, { timeout: 5_000 });
    expect(seen).to.deep.equal([1]);
  });

  it("refuses priorities on a queue Dramatiq declared without them with a typed error naming the argument and the fix, and goes on working", async () => {
    const queue = uniqueQueue("interop");
    expect(await redeclare(url, dramatiqArguments(queue))).to.equal(undefined);
    broker = new RabbitmqBroker({ url: withMaxPriority(url, 10), middleware: [] });
    broker.declareQueue(queue);
    const error = await broker.enqueue(new Message({ queueName: queue, actorName: "x", args: [] })).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(QueueArgumentsMismatch);
    expect(error).to.deep.include({ queueName: queue, argument: "x-max-priority", existing: undefined, requested: "10" });
    expect((error as Error).message).to.contain(`queue "${queue}" exists with x-max-priority unset`);
    expect((error as Error).message).to.contain("remove max_priority from the broker URL");
    // The 406 closed the admin channel: the broker opens another and serves other queues.
    const other = uniqueQueue("interop");
    broker.declareQueue(other);
    await broker.enqueue(new Message({ queueName: other, actorName: "x", args: [] }));
    expect((await broker.depths(other)).ready).to.equal(1);
  });

  it("refuses the defaults on a queue Dramatiq declared with max_priority=10, saying to add ?max_priority=10", async () => {
    const queue = uniqueQueue("interop");
    expect(await redeclare(url, dramatiqArguments(queue, 10))).to.equal(undefined);
    broker = new RabbitmqBroker({ url, middleware: [] });
    broker.declareQueue(queue);
    const error = await broker.depths(queue).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(QueueArgumentsMismatch);
    expect(error).to.deep.include({ code: "DRAMATS_ERR_QUEUE_ARGUMENTS_MISMATCH", argument: "x-max-priority", existing: "10", requested: undefined });
    expect((error as Error).message).to.contain("add ?max_priority=10 to the broker URL (or pass maxPriority: 10)");
    // A worker's consumer meets the same refusal (it logs it and keeps trying): it stops and closes without hanging.
    worker = new Worker(broker, { queues: [queue], fetchTimeout: 100 });
    await worker.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await worker.stop({ timeout: 2_000 });
    worker = undefined;
    await broker.close();
  });

  it("runs a message a Python producer published, kwargs included", async () => {
    const queue = uniqueQueue("interop");
    broker = new RabbitmqBroker({ url, middleware: [] });
    const seen: unknown[][] = [];
    actor(function interop_add(a: number, b: number, opts: { scale?: number } = {}) { seen.push([a, b, opts.scale]); }, { broker, queueName: queue });
    await broker.depths(queue);
    // What pika publishes for `add.send_with_options(args=(1, 2), kwargs={"scale": 3})`: persistent, no priority.
    const body = `{"queue_name":"${queue}","actor_name":"interop_add","args":[1,2],"kwargs":{"scale":3},"options":{},` +
      `"message_id":"9d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30","message_timestamp":1767225000000}`;
    const raw = await rawChannel(url);
    raw.channel.sendToQueue(queue, Buffer.from(body), { deliveryMode: 2 });
    await raw.channel.waitForConfirms();
    await raw.close();
    worker = new Worker(broker, { queues: [queue], fetchTimeout: 200 });
    await worker.start();
    await broker.join(queue, { timeout: 5_000 });
    expect(seen).to.deep.equal([[1, 2, 3]]);
  });

  it("runs a delayed message a Python producer put on q.DQ once its eta passes", async () => {
    const queue = uniqueQueue("interop");
    broker = new RabbitmqBroker({ url, middleware: [] });
    const ranAt: number[] = [];
    actor(function interop_later() { ranAt.push(Date.now()); }, { broker, queueName: queue });
    await broker.depths(queue);
    const eta = Date.now() + 300;
    const body = JSON.stringify({
      queue_name: `${queue}.DQ`, actor_name: "interop_later", args: [], kwargs: {},
      options: { eta, retries: 1, max_retries: 5 }, message_id: "1d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30", message_timestamp: Date.now(),
    });
    const raw = await rawChannel(url);
    raw.channel.sendToQueue(`${queue}.DQ`, Buffer.from(body), { deliveryMode: 2 });
    await raw.channel.waitForConfirms();
    await raw.close();
    worker = new Worker(broker, { queues: [queue], fetchTimeout: 200 });
    await worker.start();
    await broker.join(queue, { timeout: 5_000 });
    expect(ranAt).to.have.length(1);
    expect(ranAt[0]).to.be.at.least(eta);
  });

  it("lists messages Dramatiq dead-lettered (basic.nack) with RabbitMQ's reason", async () => {
    const queue = uniqueQueue("interop");
    broker = new RabbitmqBroker({ url, middleware: [] });
    broker.declareQueue(queue);
    await broker.depths(queue);
    const raw = await rawChannel(url);
    const body = `{"queue_name":"${queue}","actor_name":"gone","args":[],"kwargs":{},"options":{},"message_id":"2d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30","message_timestamp":1767225000000}`;
    raw.channel.sendToQueue(queue, Buffer.from(body), { deliveryMode: 2 });
    await raw.channel.waitForConfirms();
    const got = await raw.channel.get(queue, { noAck: false });
    expect(got).to.not.equal(false);
    raw.channel.nack(got as Exclude<typeof got, false>, false, false); // what Dramatiq's nack does
    await raw.close();
    const deadline = Date.now() + 2_000;
    while ((await broker.depths(queue)).dead === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [dead] = await broker.deadLetters(queue);
    expect(dead!.id).to.equal("2d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30");
    expect(dead!.reason).to.equal(`rejected in ${queue} (x-death)`);
    expect(dead!.deadAt).to.be.closeTo(Date.now(), 10_000);
  });
});
