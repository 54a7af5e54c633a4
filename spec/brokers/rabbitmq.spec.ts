import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { RabbitmqBroker, type RabbitmqConsumer, type RabbitmqDelivery } from "../../brokers/rabbitmq/index.ts";
import { ladderRoute, levelQueueName, MAX_LADDER_DELAY } from "../../brokers/rabbitmq/delays.ts";
import { Publisher } from "../../brokers/rabbitmq/publisher.ts";
import { dropConnection, heldBy, newConnector, provokeChannelError } from "../../brokers/rabbitmq/testing.ts";
import { BrokerError, ConnectionClosed, ConnectionFailed } from "../../lib/errors.ts";
import { getLogger } from "../../lib/logging.ts";
import { Message } from "../../lib/message.ts";
import { sleep } from "../../lib/sleep.ts";
import { amqpUrl, deleteQueues, rawChannel, uniqueQueue, waitFor } from "../helpers/amqp.ts";

describe("RabbitmqBroker", function () {
  this.timeout(15_000);
  let url: string;
  let broker: RabbitmqBroker;
  let queue: string;
  const consumers: RabbitmqConsumer[] = [];

  before(async () => {
    url = await amqpUrl();
  });

  beforeEach(async () => {
    broker = new RabbitmqBroker({ url, middleware: [], heartbeat: 2_000 });
    queue = uniqueQueue("rmq");
    broker.declareQueue(queue);
  });

  afterEach(async () => {
    for (const consumer of consumers.splice(0)) await consumer.close();
    const queues = [...broker.queues];
    await broker.close();
    await deleteQueues(url, queues);
  });

  const message = (args: unknown[] = [], options: Record<string, unknown> = {}) =>
    new Message({ queueName: queue, actorName: "rmq_noop", args, options });

  const consume = (prefetch = 10) => {
    const consumer = broker.consume(queue, { prefetch });
    consumers.push(consumer);
    return consumer;
  };

  async function fetchN(consumer: RabbitmqConsumer, n: number, timeout = 5_000): Promise<RabbitmqDelivery[]> {
    const got: RabbitmqDelivery[] = [];
    const deadline = Date.now() + timeout;
    while (got.length < n && Date.now() < deadline) got.push(...(await consumer.fetch(n - got.length, 200)));
    return got;
  }

  async function readyCount(name: string): Promise<number> {
    const raw = await rawChannel(url);
    try {
      return (await raw.channel.checkQueue(name)).messageCount;
    } finally {
      await raw.close();
    }
  }

  describe("publisher confirms", () => {
    it("resolves enqueue only once the message is stored", async () => {
      await broker.enqueue(message());
      // Seen from another connection straight away: RabbitMQ had it before it confirmed.
      expect(await readyCount(queue)).to.equal(1);
    });

    it("keeps many publishes awaiting their confirms at once instead of one by one", async () => {
      await broker.enqueue(message()); // opens the channel
      const sends = Array.from({ length: 500 }, (_, i) => broker.enqueue(message([i])));
      await new Promise((resolve) => setImmediate(resolve));
      expect(broker.pendingConfirms).to.be.above(1);
      await Promise.all(sends);
      expect(broker.pendingConfirms).to.equal(0);
      expect(await readyCount(queue)).to.equal(501);
    });

    it("rejects publishes awaiting a confirm with ConnectionClosed when the connection drops", async () => {
      await broker.enqueue(message());
      const outcomes = Array.from({ length: 2_000 }, (_, i) => broker.enqueue(message([i])).then(() => "ok", (error: unknown) => error));
      await new Promise((resolve) => setImmediate(resolve));
      dropConnection(broker);
      const settled = await Promise.all(outcomes);
      const failures = settled.filter((o) => o !== "ok");
      expect(failures.length).to.be.above(0);
      for (const failure of failures) expect(failure).to.be.instanceOf(ConnectionClosed);
      // The broker reconnects for the next publish.
      await broker.enqueue(message(["after"]));
    });

    it("rejects a publish RabbitMQ nacks with a BrokerError", async () => {
      // A queue that refuses every message: max length 0 with reject-publish overflow.
      const refusing = uniqueQueue("rmq_refuse");
      const raw = await rawChannel(url);
      await raw.channel.assertQueue(refusing, { durable: true, arguments: { "x-max-length": 0, "x-overflow": "reject-publish" } });
      const connector = newConnector(broker, "spec publisher");
      const publisher = new Publisher(connector, getLogger("spec"));
      try {
        const error = await publisher.publish("", refusing, Buffer.from("x"), {}).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(BrokerError);
        expect((error as Error).message).to.contain("basic.nack");
        // Unroutable is reported, not thrown: the broker redeclares and tries again.
        expect(await publisher.publish("", `${refusing}_missing`, Buffer.from("x"), {})).to.equal(false);
      } finally {
        await connector.close();
        await raw.channel.deleteQueue(refusing);
        await raw.close();
      }
    });

    it("tracks a bulk publish's confirms together: lists the unroutable, rejects a nack with a BrokerError", async () => {
      const refusing = uniqueQueue("rmq_refuse");
      const raw = await rawChannel(url);
      await raw.channel.assertQueue(refusing, { durable: true, arguments: { "x-max-length": 0, "x-overflow": "reject-publish" } });
      await broker.enqueue(message()); // declares the queue
      const connector = newConnector(broker, "spec publisher");
      const publisher = new Publisher(connector, getLogger("spec"));
      const to = (routingKey: string) => ({ exchange: "", routingKey, content: Buffer.from("x"), properties: {} });
      try {
        const returned = await publisher.publishAll([to(queue), to(`${refusing}_missing`), to(queue), to(`${refusing}_missing`)]);
        expect(returned).to.deep.equal([1, 3]);
        const error = await publisher.publishAll([to(queue), to(refusing)]).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(BrokerError);
        expect((error as Error).message).to.contain("basic.nack");
        expect(publisher.outstanding).to.equal(0);
      } finally {
        await connector.close();
        await raw.channel.deleteQueue(refusing);
        await raw.close();
      }
      expect(await readyCount(queue)).to.equal(4);
    });

    it("rejects a bulk send awaiting its confirms with ConnectionClosed when the connection drops", async () => {
      await broker.enqueue(message());
      const outcome = broker.enqueueMany(Array.from({ length: 2_000 }, (_, i) => message([i]))).then(() => "ok", (error: unknown) => error);
      await new Promise((resolve) => setImmediate(resolve));
      dropConnection(broker);
      const settled = await outcome;
      // All 2,000 confirmed before the drop is possible on a fast machine; otherwise it is a ConnectionClosed.
      if (settled !== "ok") expect(settled).to.be.instanceOf(ConnectionClosed);
      expect(broker.pendingConfirms).to.equal(0);
      await broker.enqueueMany([message(["after"])]);
    });

    it("close() waits for publishes still awaiting their confirms", async () => {
      await broker.enqueue(message());
      let confirmed = 0;
      for (let i = 0; i < 300; i++) void broker.enqueue(message([i])).then(() => confirmed++);
      await new Promise((resolve) => setImmediate(resolve));
      await broker.close();
      expect(confirmed).to.equal(300);
      expect(await readyCount(queue)).to.equal(301);
    });
  });

  describe("delays", () => {
    it("routes a delay through the level of each set bit, highest first", () => {
      const route = ladderRoute("emails", 450); // 0b111000010
      expect(route.exchange).to.equal("dramats.delay.8");
      const bits = route.routingKey.split(".").slice(0, 30).join("");
      expect(parseInt(bits, 2)).to.equal(450);
      expect(route.routingKey.endsWith(".q.emails")).to.equal(true);
      expect(() => ladderRoute("emails", MAX_LADDER_DELAY + 1)).to.throw(RangeError);
    });

    it("keeps a delayed message in the ladder, not unacknowledged in a consumer", async () => {
      const consumer = consume();
      const sentAt = Date.now();
      await broker.enqueue(message(["later"]), { delay: 1_500 }); // 1024 + 256 + 128 + 64 + 16 + 8 + 4
      await sleep(100);
      expect(heldBy(consumer)).to.equal(0);
      expect(await readyCount(levelQueueName(queue, 10))).to.equal(1);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 1, inFlight: 0 });
      const [delivery] = await fetchN(consumer, 1, 5_000);
      expect(Date.now() - sentAt).to.be.at.least(1_500);
      expect(broker.decode(delivery!.body).args).to.deep.equal(["later"]);
      await consumer.ack(delivery!);
    });

    it("sends a delay longer than one pass to q.DQ with its eta for another pass", async () => {
      const sent = await broker.enqueue(message(["far"]), { delay: MAX_LADDER_DELAY + 60_000 });
      expect(await readyCount(levelQueueName(queue, 29))).to.equal(1);
      const raw = await rawChannel(url);
      try {
        const got = await raw.channel.get(levelQueueName(queue, 29), { noAck: false });
        expect(got).to.not.equal(false);
        const body = JSON.parse((got as { content: Buffer }).content.toString());
        expect(body.queue_name).to.equal(`${queue}.DQ`);
        expect(body.message_id).to.equal(sent.messageId);
        expect(body.options.eta).to.be.closeTo(Date.now() + MAX_LADDER_DELAY + 60_000, 5_000);
        expect((got as { fields: { routingKey: string } }).fields.routingKey).to.match(/\.dq\./);
      } finally {
        await raw.close();
      }
    });

    it("moves a Python-style message from q.DQ into the ladder at once and delivers it at its eta", async () => {
      await broker.depths(queue); // declares the queues before the raw publish
      const consumer = consume();
      const eta = Date.now() + 1_200;
      const body = JSON.stringify({
        queue_name: `${queue}.DQ`,
        actor_name: "rmq_noop",
        args: [7],
        kwargs: {},
        options: { eta },
        message_id: "0b6f2c1e-8d3a-4c55-9a40-2f1e7d9b6a11",
        message_timestamp: Date.now(),
      });
      const raw = await rawChannel(url);
      raw.channel.sendToQueue(`${queue}.DQ`, Buffer.from(body), { persistent: true });
      await raw.channel.waitForConfirms();
      await raw.close();
      // Taken off q.DQ at once and waiting in the ladder, not held by the consumer.
      await waitFor(
        async () => (await readyCount(`${queue}.DQ`)) === 0 && (await broker.depths(queue)).delayed === 1,
        1_000,
        "the move out of q.DQ into the ladder",
      );
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0 });
      expect(heldBy(consumer)).to.equal(0);
      const [delivery] = await fetchN(consumer, 1);
      expect(Date.now()).to.be.at.least(eta);
      const moved = broker.decode(delivery!.body);
      expect(moved.queueName).to.equal(queue);
      expect(moved.options).to.not.have.property("eta");
      expect(moved.args).to.deep.equal([7]);
      await consumer.ack(delivery!);
    });
  });

  describe("recovery", () => {
    it("recovers from a channel closed by a protocol error and never acks old deliveries on the new channel", async () => {
      await broker.enqueue(message(["a"]));
      await broker.enqueue(message(["b"]));
      const consumer = consume(2);
      const old = await fetchN(consumer, 2);
      expect(old).to.have.length(2);
      provokeChannelError(consumer);
      const again = await fetchN(consumer, 2);
      expect(again.map((d) => d.redelivered)).to.deep.equal([true, true]);
      // Acks for the dead channel's deliveries are dropped: sent on the new channel, their tags
      // would settle the redelivered copies (or close the channel again).
      for (const d of old) await consumer.ack(d);
      await sleep(50);
      expect(heldBy(consumer)).to.equal(2);
      await consumer.requeue(again);
      await waitFor(async () => (await broker.depths(queue)).ready === 2, 2_000, "both messages back in the queue");
    });

    it("declares the queues again when they were deleted under a running consumer", async () => {
      const consumer = consume();
      await broker.enqueue(message(["before"]));
      const [first] = await fetchN(consumer, 1);
      await consumer.ack(first!);
      await deleteQueues(url, [queue]); // RabbitMQ cancels the consumer
      await broker.enqueue(message(["now"])); // unroutable at first: the broker redeclares and retries
      await broker.enqueue(message(["later"]), { delay: 50 }); // through a ladder declared again
      const got = await fetchN(consumer, 2);
      expect(got.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal(["later", "now"]);
      for (const d of got) await consumer.ack(d);
      await deleteQueues(url, [queue]);
      await broker.enqueueMany([message(["bulk 1"]), message(["bulk 2"])]); // a bulk send redeclares too
      const bulk = await fetchN(consumer, 2);
      expect(bulk.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal(["bulk 1", "bulk 2"]);
      for (const d of bulk) await consumer.ack(d);
    });

    it("fails operations with ConnectionFailed when RabbitMQ cannot be reached", async () => {
      const bad = new URL(url);
      bad.password = "wrong-password";
      const unreachable = new RabbitmqBroker({ url: bad.toString(), middleware: [], connectTimeout: 1_000, maxReconnectDelay: 200 });
      unreachable.declareQueue(queue);
      try {
        const error = await unreachable.enqueue(message()).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(ConnectionFailed);
        expect((error as Error).message).to.match(/ACCESS_REFUSED|403|refused/i);
      } finally {
        await unreachable.close();
      }
    });
  });

  describe("TLS", () => {
    // RabbitMQ here listens in plain AMQP; a local TLS proxy in front of it stands in for an amqps:// listener.
    let proxy: tls.Server;
    let cert: string;
    let tlsUrl: string;

    before(async () => {
      const dir = mkdtempSync(join(tmpdir(), "dramats-tls-"));
      const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
      await promisify(execFile)("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile,
        "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
      ]);
      cert = readFileSync(certFile, "utf8");
      const upstream = new URL(url);
      proxy = tls.createServer({ key: readFileSync(keyFile), cert }, (socket) => {
        const server = net.connect(Number(upstream.port || 5672), upstream.hostname);
        socket.on("error", () => server.destroy());
        server.on("error", () => socket.destroy());
        socket.pipe(server).pipe(socket);
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const secure = new URL(url);
      secure.protocol = "amqps:";
      secure.hostname = "127.0.0.1";
      secure.port = String((proxy.address() as net.AddressInfo).port);
      tlsUrl = secure.toString();
      rmSync(dir, { recursive: true, force: true });
    });

    after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

    it("publishes and consumes over amqps:// with the CA and server name given in `tls`", async () => {
      const secure = new RabbitmqBroker({ url: tlsUrl, tls: { ca: cert, servername: "localhost" }, middleware: [] });
      secure.declareQueue(queue);
      try {
        await secure.enqueue(message(["over tls"]));
        const consumer = secure.consume(queue, { prefetch: 1 });
        const [delivery] = await fetchN(consumer, 1);
        expect(secure.decode(delivery!.body).args).to.deep.equal(["over tls"]);
        await consumer.ack(delivery!);
        await consumer.close();
      } finally {
        await secure.close();
      }
    });

    it("refuses a server certificate it cannot verify", async () => {
      const secure = new RabbitmqBroker({ url: tlsUrl, tls: { servername: "localhost" }, middleware: [], connectTimeout: 1_000 });
      secure.declareQueue(queue);
      try {
        const error = await secure.enqueue(message()).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(ConnectionFailed);
        expect((error as Error).message).to.match(/certificate/i);
      } finally {
        await secure.close();
      }
    });
  });

  describe("configuration", () => {
    const settings = (options: ConstructorParameters<typeof RabbitmqBroker>[0]) => new RabbitmqBroker({ middleware: [], ...options }).settings;

    it("reads credentials, vhost and heartbeat from the URL", () => {
      const s = settings({ url: "amqps://us%40er:p%C3%A4ss%2Fword@rabbit.example:5671/my%2Fvhost?heartbeat=7" });
      expect(s.url).to.match(/^amqps:\/\/.*rabbit\.example:5671\/my%2Fvhost\?heartbeat=7$/);
      expect(s.socketOptions.credentials?.username).to.equal("us@er");
      expect(s.socketOptions.credentials?.password).to.equal("päss/word");
      expect(s.redactedUrl).to.not.contain("word");
    });

    it("lets the heartbeat option (ms) override the URL and passes TLS options through", () => {
      const s = settings({ url: "amqp://h/?heartbeat=60", heartbeat: 2_500, tls: { servername: "rabbit.internal", rejectUnauthorized: true } });
      expect(new URL(s.url).searchParams.get("heartbeat")).to.equal("3");
      expect(s.socketOptions.servername).to.equal("rabbit.internal");
      expect(new URL(settings({}).url).searchParams.get("heartbeat")).to.equal("15");
    });

    it("validates options", () => {
      expect(() => settings({ url: "redis://localhost" })).to.throw(/amqp:\/\/ or amqps:\/\//);
      expect(() => settings({ heartbeat: 5 })).to.throw(RangeError, /heartbeat/);
      expect(() => settings({ maxPriority: 300 })).to.throw(RangeError, /maxPriority/);
      expect(settings({ maxPriority: null }).maxPriority).to.equal(undefined);
      // By default no broker priorities: queues are declared as Python Dramatiq declares them.
      expect(settings({}).maxPriority).to.equal(undefined);
    });

    it("takes maxPriority from the URL's max_priority (the option wins) and keeps it from amqplib", () => {
      const s = settings({ url: "amqp://h/?max_priority=10&heartbeat=5" });
      expect(s.maxPriority).to.equal(10);
      expect(new URL(s.url).searchParams.has("max_priority")).to.equal(false);
      expect(new URL(s.url).searchParams.get("heartbeat")).to.equal("5");
      expect(settings({ url: "amqp://h/?max_priority=0" }).maxPriority).to.equal(undefined);
      expect(settings({ url: "amqp://h/?max_priority=10", maxPriority: 5 }).maxPriority).to.equal(5);
      expect(settings({ url: "amqp://h/?max_priority=10", maxPriority: null }).maxPriority).to.equal(undefined);
      for (const bad of ["256", "-1", "1.5", "ten", ""]) {
        expect(() => settings({ url: `amqp://h/?max_priority=${bad}` }), bad).to.throw(RangeError, /max_priority must be a whole number in 0\.\.255/);
      }
    });
  });
});
