import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import {
  actor,
  AgeLimit,
  Middleware,
  Retries,
  SkipMessage,
  TimeLimit,
  Worker,
  type Broker,
  type MessageProxy,
  type ProcessOutcome,
} from "../../lib/index.ts";

/** Records every hook it sees, tagged with its own name. */
class Recorder extends Middleware {
  constructor(readonly tag: string, readonly log: string[]) {
    super();
  }
  #r(hook: string) {
    this.log.push(`${this.tag}:${hook}`);
  }
  beforeDeclareActor() { this.#r("beforeDeclareActor"); }
  afterDeclareActor() { this.#r("afterDeclareActor"); }
  beforeDeclareQueue() { this.#r("beforeDeclareQueue"); }
  afterDeclareQueue() { this.#r("afterDeclareQueue"); }
  afterDeclareDelayQueue() { this.#r("afterDeclareDelayQueue"); }
  beforeEnqueue() { this.#r("beforeEnqueue"); }
  afterEnqueue() { this.#r("afterEnqueue"); }
  beforeDelayMessage() { this.#r("beforeDelayMessage"); }
  beforeProcessMessage() { this.#r("beforeProcessMessage"); }
  afterProcessMessage(_b: Broker, _p: MessageProxy, outcome: ProcessOutcome) {
    this.#r(`afterProcessMessage(${outcome.error === undefined ? `result=${String(outcome.result)}` : "error"})`);
  }
  afterSkipMessage() { this.#r("afterSkipMessage"); }
  beforeAck() { this.#r("beforeAck"); }
  afterAck() { this.#r("afterAck"); }
  beforeNack() { this.#r("beforeNack"); }
  afterNack() { this.#r("afterNack"); }
  beforeWorkerBoot() { this.#r("beforeWorkerBoot"); }
  afterWorkerBoot() { this.#r("afterWorkerBoot"); }
  afterConsumerThreadBoot() { this.#r("afterConsumerThreadBoot"); }
  afterWorkerThreadBoot() { this.#r("afterWorkerThreadBoot"); }
  beforeWorkerShutdown() { this.#r("beforeWorkerShutdown"); }
  beforeWorkerThreadShutdown() { this.#r("beforeWorkerThreadShutdown"); }
  beforeConsumerThreadShutdown() { this.#r("beforeConsumerThreadShutdown"); }
  afterWorkerShutdown() { this.#r("afterWorkerShutdown"); }
}

describe("the middleware chain", () => {
  it("fires every hook in Dramatiq's order: before-hooks in list order, after-hooks reversed", async () => {
    const log: string[] = [];
    const broker = new StubBroker({ middleware: [new Recorder("A", log), new Recorder("B", log)] });
    const job = actor(function job() { return 7; }, { broker, queueName: "q" });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    await job.send();
    await worker.join(); // unlike broker.join, also waits for the after-ack hooks
    await worker.stop();
    const only = (tag: string) => log.filter((l) => l.startsWith(`${tag}:`)).map((l) => l.slice(2));
    expect(only("A")).to.deep.equal([
      "beforeDeclareActor",
      "beforeDeclareQueue",
      "afterDeclareQueue",
      "afterDeclareDelayQueue",
      "afterDeclareActor",
      "beforeWorkerBoot",
      "afterConsumerThreadBoot",
      "afterWorkerThreadBoot",
      "afterWorkerBoot",
      "beforeEnqueue",
      "afterEnqueue",
      "beforeProcessMessage",
      "afterProcessMessage(result=7)",
      "beforeAck",
      "afterAck",
      "beforeWorkerShutdown",
      "beforeWorkerThreadShutdown",
      "beforeConsumerThreadShutdown",
      "afterWorkerShutdown",
    ]);
    const pairs = (hook: string) => log.filter((l) => l.endsWith(hook)).map((l) => l[0]).join("");
    expect(pairs("beforeProcessMessage")).to.equal("AB");
    expect(pairs("afterProcessMessage(result=7)")).to.equal("BA");
    expect(pairs("beforeAck")).to.equal("AB");
    expect(pairs("afterAck")).to.equal("BA");
  });

  it("runs the delay, nack and skip hooks for delayed, failed and skipped messages", async () => {
    const log: string[] = [];
    class Skipper extends Middleware {
      beforeProcessMessage(_b: Broker, proxy: MessageProxy) {
        if (proxy.message.args[0] === "skip") throw new SkipMessage("skipped on purpose");
      }
    }
    const broker = new StubBroker({ middleware: [new Recorder("R", log), new Skipper(), new Retries({ maxRetries: 0 })] });
    const job = actor(function hooks(kind: string) {
      if (kind === "fail") throw new Error("x");
    }, { broker, queueName: "q" });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 1 });
    await worker.start();
    log.length = 0;
    await job.sendWithOptions({ args: ["ok"], delay: 10 });
    await worker.join();
    expect(log).to.include.members(["R:beforeDelayMessage", "R:afterAck"]);
    log.length = 0;
    await job.send("fail");
    await worker.join();
    expect(log).to.deep.equal(["R:beforeEnqueue", "R:afterEnqueue", "R:beforeProcessMessage", "R:afterProcessMessage(error)", "R:beforeNack", "R:afterNack"]);
    log.length = 0;
    await job.send("skip");
    await worker.join();
    expect(log).to.deep.equal(["R:beforeEnqueue", "R:afterEnqueue", "R:beforeProcessMessage", "R:afterSkipMessage", "R:beforeAck", "R:afterAck"]);
    await worker.stop();
  });

  it("logs and swallows errors of broken middleware, so jobs still run", async () => {
    class Broken extends Middleware {
      beforeProcessMessage() { throw new Error("broken before"); }
      afterProcessMessage() { throw new Error("broken after"); }
      async afterAck() { throw new Error("broken async after"); }
    }
    const broker = new StubBroker({ middleware: [new Broken()] });
    const ran: number[] = [];
    const job = actor(function survives(n: number) { ran.push(n); }, { broker });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    await job.send(1);
    await broker.join("default");
    await worker.stop();
    expect(ran).to.deep.equal([1]);
  });

  it("places middleware before or after a given class", () => {
    const broker = new StubBroker({ middleware: [new AgeLimit(), new Retries()] });
    class Extra extends Middleware {}
    broker.addMiddleware(new Extra(), { before: Retries });
    broker.addMiddleware(new TimeLimit(), { after: AgeLimit });
    expect(broker.middleware.map((m) => m.name)).to.deep.equal(["AgeLimit", "TimeLimit", "Extra", "Retries"]);
    expect(() => broker.addMiddleware(new Extra(), { before: class Missing extends Middleware {} })).to.throw(/no Missing/);
  });

  it("removes a middleware by class or instance, and replaces one in place: hooks and accepted actor options follow", async () => {
    const calls: string[] = [];
    class Marker extends Middleware {
      override readonly actorOptions: ReadonlySet<string>;
      constructor(readonly tag: string) {
        super();
        this.actorOptions = new Set([`${tag}Option`]);
      }
      beforeProcessMessage() {
        calls.push(this.tag);
      }
    }
    const retries = new Retries();
    const broker = new StubBroker({ middleware: [new AgeLimit(), new Marker("a"), retries] });
    expect(broker.actorOptions.has("aOption")).to.equal(true);
    const old = broker.replaceMiddleware(Marker, new Marker("b"));
    expect((old as Marker).tag).to.equal("a");
    expect(broker.middleware.map((m) => m.name)).to.deep.equal(["AgeLimit", "Marker", "Retries"]);
    expect(broker.actorOptions.has("aOption")).to.equal(false);
    expect(broker.actorOptions.has("bOption")).to.equal(true);
    expect(broker.removeMiddleware(retries)).to.equal(retries);
    expect(broker.removeMiddleware(Retries)).to.equal(undefined);
    expect(broker.actorOptions.has("maxRetries")).to.equal(false);
    expect(() => broker.replaceMiddleware(TimeLimit, new Marker("c"))).to.throw(/no TimeLimit/);
    const job = actor(function marked() {}, { broker });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    await job.send();
    await broker.join("default");
    await worker.stop();
    expect(calls).to.deep.equal(["b"]);
    // Taken out of the chain, a middleware is not closed with the broker.
    let closed = false;
    retries.close = async () => void (closed = true);
    await broker.close();
    expect(closed).to.equal(false);
  });

  it("replays declare hooks for middleware added after actors were declared", () => {
    const log: string[] = [];
    const broker = new StubBroker({ middleware: [] });
    actor(function early() {}, { broker, queueName: "late" });
    broker.addMiddleware(new Recorder("L", log));
    expect(log).to.deep.equal(["L:beforeDeclareActor", "L:afterDeclareActor", "L:beforeDeclareQueue", "L:afterDeclareQueue", "L:afterDeclareDelayQueue"]);
  });
});
