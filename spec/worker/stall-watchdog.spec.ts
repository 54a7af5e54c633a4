// The Worker's stall watchdog and consumer states, in one process on the stub broker (the CLI
// specs, spec/cli/stall-watchdog.spec.ts, do the same through `dramats` on Redis and RabbitMQ).
// The broker is wrapped here so that chosen consumers misbehave: no seam in the library.
import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Worker, type Consumer } from "../../lib/index.ts";

const until = async (check: () => boolean, timeout = 5_000) => {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A stub broker whose `n`-th consumer (from 1) gets `fetch` from `misbehave(n)`, if it returns one. */
function wrapped(misbehave: (n: number, real: Consumer["fetch"]) => Consumer["fetch"] | undefined): StubBroker {
  const broker = new StubBroker();
  const consume = broker.consume.bind(broker);
  let opened = 0;
  broker.consume = (queueName, options) => {
    const consumer = consume(queueName, options);
    const fetch = misbehave(++opened, consumer.fetch.bind(consumer));
    if (fetch !== undefined) (consumer as Consumer).fetch = fetch;
    return consumer;
  };
  return broker;
}

describe("Worker stall watchdog", function () {
  this.timeout(20_000);
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop({ timeout: 1_000 });
    worker = undefined;
  });

  it("replaces a consumer whose fetch never returns while its queue has ready messages; the queue drains", async () => {
    const broker = wrapped((n) => (n === 1 ? () => new Promise(() => {}) : undefined));
    const ran: number[] = [];
    const work = actor(function work(i: number) { ran.push(i); }, { broker }); // prettier-ignore
    worker = new Worker(broker, { stallTimeout: 200 });
    await worker.start();
    expect(worker.consumers).to.deep.equal([{ queue: "default", state: "connected" }]);
    for (let i = 0; i < 10; i++) await work.send(i);
    await until(() => ran.length === 10);
    expect(worker.stallFailure).to.equal(undefined);
    await until(() => worker!.consumers[0]!.state === "connected");
  });

  it("stays `stalled` until the new consumer fetches, and says so in `consumers`", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const broker = wrapped((n, real) => (n === 1 ? () => new Promise(() => {}) : n === 2 ? async (max, timeout) => (await gate, real(max, timeout)) : undefined));
    const work = actor(function work() {}, { broker });
    worker = new Worker(broker, { stallTimeout: 200 });
    await worker.start();
    await work.send();
    await until(() => worker!.consumers[0]!.state === "stalled");
    release();
    await broker.join("default");
    await until(() => worker!.consumers[0]!.state === "connected");
  });

  it("reports a consumer whose fetches fail as `failing`, and `connected` once one succeeds", async () => {
    let fail = true;
    const broker = wrapped((_, real) => (max, timeout) => (fail ? Promise.reject(new Error("connection refused")) : real(max, timeout)));
    actor(function work() {}, { broker });
    worker = new Worker(broker, { stallTimeout: 200 });
    await worker.start();
    await until(() => worker!.consumers[0]!.state === "failing");
    fail = false;
    await until(() => worker!.consumers[0]!.state === "connected");
  });

  it("gives up in place when the new consumer stalls too: `stallFailure` says why, and stop() does not wait for the stuck fetch", async () => {
    const broker = wrapped(() => () => new Promise(() => {}));
    const work = actor(function work() {}, { broker });
    worker = new Worker(broker, { stallTimeout: 150, fetchTimeout: 100 });
    await worker.start();
    await work.send();
    await until(() => worker!.stallFailure !== undefined);
    expect(worker.stallFailure).to.equal("the consumer of default stalled again after a restart");
    expect(worker.consumers).to.deep.equal([{ queue: "default", state: "stalled" }]);
    const started = Date.now();
    await worker.stop({ timeout: 1_000 });
    expect(Date.now() - started).to.be.below(2_000);
  });

  it("leaves a consumer of an empty queue alone", async () => {
    const broker = wrapped(() => undefined);
    actor(function work() {}, { broker });
    worker = new Worker(broker, { stallTimeout: 100, fetchTimeout: 50 });
    await worker.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(worker.consumers).to.deep.equal([{ queue: "default", state: "connected" }]);
  });

  it("is off with stallTimeout 0, and takes only a non-negative integer", async () => {
    const broker = wrapped((n) => (n === 1 ? () => new Promise(() => {}) : undefined));
    const work = actor(function work() {}, { broker });
    worker = new Worker(broker, { stallTimeout: 0 });
    await worker.start();
    await work.send();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(worker.consumers).to.deep.equal([{ queue: "default", state: "connected" }]);
    expect((await broker.depths("default")).ready).to.equal(1);
    expect(() => new Worker(broker, { stallTimeout: -1 })).to.throw(RangeError, /stallTimeout/);
    expect(() => new Worker(broker, { stallTimeout: 1.5 })).to.throw(RangeError, /stallTimeout/);
  });
});
