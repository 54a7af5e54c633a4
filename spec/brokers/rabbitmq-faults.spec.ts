import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { actor } from "../../lib/actor.ts";
import type { Broker } from "../../lib/broker.ts";
import { ConnectionError } from "../../lib/errors.ts";
import type { MessageProxy } from "../../lib/message-proxy.ts";
import { sleep } from "../../lib/sleep.ts";
import { Worker } from "../../lib/worker.ts";
import { Middleware } from "../../middleware/middleware.ts";
import { amqpUrl, closeAllConnections, deleteQueues, isolatedVhost, uniqueQueue, waitFor } from "../helpers/amqp.ts";

const VHOST = "dramats_fault";
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Counts redeliveries the worker sees, to prove a fault really hit messages in flight. */
class CountRedeliveries extends Middleware {
  redelivered = 0;
  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.redelivered) this.redelivered++;
  }
}

/** A TCP proxy in front of RabbitMQ that can vanish and come back on the same port. */
class TcpProxy {
  port = 0;
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();

  constructor(readonly target: URL) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port || 5672), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

describe("RabbitmqBroker under faults", function () {
  this.timeout(40_000);
  let queue: string;
  let url: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(() => {
    queue = uniqueQueue("fault");
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  function newBroker(brokerUrl: string, middleware: Middleware[] = []): RabbitmqBroker {
    const broker = new RabbitmqBroker({ url: brokerUrl, middleware, heartbeat: 2_000, minReconnectDelay: 50, maxReconnectDelay: 500 });
    cleanups.push(async () => {
      const queues = [...broker.queues];
      await broker.close();
      await deleteQueues(brokerUrl, queues);
    });
    return broker;
  }

  function startWorker(broker: Broker, concurrency: number): Promise<Worker> {
    const worker = new Worker(broker, { queues: [queue], concurrency, fetchTimeout: 200 });
    cleanups.push(() => worker.stop({ timeout: 2_000 }));
    return worker.start().then(() => worker);
  }

  /** Callers of enqueue retry on ConnectionError: a publish cut off by a drop may or may not have landed. */
  async function sendRetrying(send: () => Promise<unknown>): Promise<void> {
    for (;;) {
      try {
        await send();
        return;
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        await sleep(50);
      }
    }
  }

  it("processes every message when RabbitMQ closes all connections mid-run, twice", async () => {
    url = await isolatedVhost(VHOST);
    const redeliveries = new CountRedeliveries();
    const broker = newBroker(url, [redeliveries]);
    const done = new Set<number>();
    // While a close is under way, actors wait at this gate: their deliveries stay unacknowledged,
    // so the close certainly hits messages in flight, however slow rabbitmqctl is.
    let gate: Promise<void> | undefined;
    let open!: () => void;
    const closeGate = () => (gate ??= new Promise((resolve) => (open = resolve)));
    const work = actor(async function fault_work(n: number) {
      if (gate) await gate;
      await sleep(5);
      done.add(n);
      // Closed from here, not from the spec's polling: a worker may run the rest in one poll interval.
      if (done.size === 30) closeGate();
    }, { broker, queueName: queue });
    const closeWhileBusy = async () => {
      closeGate();
      await sleep(50);
      await closeAllConnections(VHOST);
      gate = undefined;
      open();
    };
    await Promise.all(range(0, 300).map((i) => work.send(i)));
    await startWorker(broker, 5);

    await waitFor(() => done.size >= 30, 10_000, "the first messages");
    await closeWhileBusy();
    const atFirstClose = done.size;
    // Publishing goes on through the outage: callers retry what a drop cut off.
    for (const i of range(300, 400)) await sendRetrying(() => work.send(i));
    await waitFor(() => done.size >= atFirstClose + 50, 10_000, "progress after the first close");
    await closeWhileBusy();

    await waitFor(() => done.size === 400, 20_000, "every message");
    await broker.join(queue, { timeout: 10_000 });
    expect(atFirstClose).to.be.below(300);
    expect(redeliveries.redelivered).to.be.above(0);
    expect(await broker.deadLetters(queue)).to.deep.equal([]);
  });

  it("rides out the server going away and coming back (a restart, seen through a TCP proxy)", async () => {
    url = await amqpUrl();
    const proxy = new TcpProxy(new URL(url));
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const through = new URL(url);
    through.hostname = "127.0.0.1";
    through.port = String(proxy.port);
    const redeliveries = new CountRedeliveries();
    const broker = newBroker(through.toString(), [redeliveries]);
    cleanups.push(() => deleteQueues(url, [queue])); // the proxy may be down at cleanup time
    const done = new Set<number>();
    let gate: Promise<void> | undefined;
    let open!: () => void;
    const work = actor(async function fault_restart(n: number) {
      if (gate) await gate;
      done.add(n);
      // Closed from here, not from the spec's polling: a worker may run the rest in one poll interval.
      if (done.size === 20) gate ??= new Promise((resolve) => (open = resolve));
    }, { broker, queueName: queue });
    await Promise.all(range(0, 200).map((i) => work.send(i)));
    await startWorker(broker, 5);
    await waitFor(() => done.size >= 20, 10_000, "the first messages");
    await sleep(50);
    await proxy.stop(); // every connection drops; reconnecting is refused until the restart
    const duringOutage = sendRetrying(() => work.send(200));
    await sleep(700);
    await proxy.start();
    gate = undefined;
    open();

    await duringOutage;
    await waitFor(() => done.size === 201, 20_000, "every message");
    await broker.join(queue, { timeout: 10_000 });
    expect(redeliveries.redelivered).to.be.above(0);
  });

  it("loses nothing when a worker process is killed with SIGKILL", async () => {
    url = await amqpUrl();
    const broker = newBroker(url);
    const done = new Set<number>();
    actor(async function fault_slow(n: number) { done.add(n); }, { broker, queueName: queue });
    await Promise.all(range(0, 200).map((i) => broker.enqueue(broker.getActor("fault_slow").message(i))));

    const fixture = fileURLToPath(new URL("../fixtures/rabbitmq-worker.ts", import.meta.url));
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fixture], {
      env: { ...process.env, AMQP_URL: url, FAULT_QUEUE: queue, DRAMATS_LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    cleanups.push(async () => void child.kill("SIGKILL"));
    const childDone = new Set<number>();
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = /^done (\d+)$/.exec(line);
      if (match) childDone.add(Number(match[1]));
    });

    await waitFor(() => childDone.size >= 40, 20_000, "the child to process some messages");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    expect(await exited).to.equal(null); // killed by the signal, no cleanup ran
    expect(childDone.size).to.be.below(200);

    const redeliveries = new CountRedeliveries();
    broker.addMiddleware(redeliveries);
    await startWorker(broker, 10);
    await waitFor(() => new Set([...childDone, ...done]).size === 200, 15_000, "the survivor to finish the rest");
    await broker.join(queue, { timeout: 10_000 });
    expect(redeliveries.redelivered).to.be.above(0); // the child held unacked messages when it died
    expect(new Set([...childDone, ...done]).size).to.equal(200);
  });

  it("dead-letters poison messages into q.XQ and keeps working", async () => {
    url = await amqpUrl();
    const broker = newBroker(url);
    const done: number[] = [];
    const ok = actor(function fault_ok(n: number) { done.push(n); }, { broker, queueName: queue });
    await broker.enqueueRaw(queue, "{this is not json");
    await broker.enqueueRaw(queue, Buffer.from([0xff, 0xfe, 0x00, 0x7b]));
    await broker.enqueueRaw(queue, JSON.stringify({ hello: "world" }));
    await broker.enqueueRaw(queue, JSON.stringify({ queue_name: queue, actor_name: "nobody", args: [], kwargs: {}, options: {}, message_id: "m-1", message_timestamp: 1 }));
    for (const i of range(0, 20)) await ok.send(i);
    await startWorker(broker, 4);
    await broker.join(queue, { timeout: 10_000, failFast: false });
    expect(done.sort((a, b) => a - b)).to.deep.equal(range(0, 20));
    const dead = await broker.deadLetters(queue);
    expect(dead).to.have.length(4);
    const reasons = dead.map((d) => d.reason);
    expect(reasons.filter((r) => r.startsWith("DecodeError:"))).to.have.length(3);
    expect(reasons).to.include('ActorNotFound: Actor "nobody" is not declared on this broker');
    expect(dead[0]!.body).to.equal("{this is not json");
    // Still consuming after the poison.
    await ok.send(99);
    await broker.join(queue, { timeout: 5_000, failFast: false });
    expect(done).to.include(99);
  });
});
