import { expect } from "chai";
import { StubBroker, StubConsumer } from "../../brokers/stub.ts";
import {
  actor,
  Cancellation,
  JsonEncoder,
  Message,
  MiddlewareError,
  Retries,
  ShutdownNotifications,
  SkipMessage,
  StubCancellationBackend,
  TimeLimit,
  Worker,
  type ActorContext,
  type Broker,
  type ConsumeOptions,
  type Delivery,
  type MessageProxy,
} from "../../lib/index.ts";
import { Middleware } from "../../middleware/middleware.ts";
import { deferred } from "../helpers/stub.ts";

type Kind = "ack" | "nack" | "retry" | "requeue";

/** Every settle the worker asks of the broker, by delivery, with the message's actor. */
class Ledger {
  readonly fetched: { delivery: Delivery; actorName: string }[] = [];
  readonly settles = new Map<Delivery, Kind[]>();
  readonly reasons = new Map<string, string>();

  record(delivery: Delivery, kind: Kind): void {
    const list = this.settles.get(delivery) ?? [];
    list.push(kind);
    this.settles.set(delivery, list);
  }

  /** The settles of each delivery of `actorName`, in fetch order. */
  of(actorName: string): Kind[][] {
    return this.fetched.filter((f) => f.actorName === actorName).map((f) => this.settles.get(f.delivery) ?? []);
  }
}

class RecordingConsumer extends StubConsumer {
  readonly #ledger: Ledger;

  constructor(broker: StubBroker, queueName: string, prefetch: number, ledger: Ledger) {
    super(broker, queueName, prefetch);
    this.#ledger = ledger;
  }

  override async fetch(max: number, timeout: number) {
    const deliveries = await super.fetch(max, timeout);
    for (const delivery of deliveries) {
      const actorName = (JSON.parse(String(delivery.body)) as { actor_name: string }).actor_name;
      this.#ledger.fetched.push({ delivery, actorName });
    }
    return deliveries;
  }
  override async ack(delivery: Delivery) {
    this.#ledger.record(delivery, "ack");
    return super.ack(delivery);
  }
  override async nack(delivery: Delivery, reason: string, error?: unknown) {
    this.#ledger.record(delivery, "nack");
    const actorName = (JSON.parse(String(delivery.body)) as { actor_name: string }).actor_name;
    this.#ledger.reasons.set(actorName, reason);
    return super.nack(delivery, reason, error);
  }
  override async retry(delivery: Delivery, message: Message, delay: number) {
    this.#ledger.record(delivery, "retry");
    // The stub's retry acks through this.ack: count the retry only.
    return super.retry(delivery, message, delay).finally(() => this.#ledger.settles.get(delivery)?.splice(1));
  }
  override async requeue(deliveries: Delivery[]) {
    for (const delivery of deliveries) this.#ledger.record(delivery, "requeue");
    return super.requeue(deliveries);
  }
}

class RecordingStub extends StubBroker {
  readonly ledger = new Ledger();
  override consume(queueName: string, options: ConsumeOptions): StubConsumer {
    super.consume(queueName, options); // declares the stub's queue
    return new RecordingConsumer(this, queueName, options.prefetch, this.ledger);
  }
}

/** Misbehaves in every hook a run meets, for the actor named after the misbehaviour. */
class Saboteur extends Middleware {
  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.actorName === "beforeRefuses") throw new MiddlewareError("refused before the run");
    if (proxy.actorName === "beforeBreaks") throw new Error("a bug in a before-hook");
    if (proxy.actorName === "skipped") throw new SkipMessage("skipped on purpose");
    if (proxy.actorName === "skippedFailed") {
      proxy.fail();
      throw new SkipMessage("skipped and failed on purpose");
    }
  }
  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.actorName === "afterBreaks") throw new MiddlewareError("refused after the run");
  }
  beforeAck(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.actorName === "ackRefused") throw new MiddlewareError("refused the ack");
  }
  beforeNack(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.actorName === "nackRefused") throw new MiddlewareError("refused the nack");
  }
  beforeEnqueue(_broker: Broker, message: Message): void {
    if (message.actorName === "retryRefused" && (message.options.retries ?? 0) > 0) throw new MiddlewareError("refused the retry");
  }
}

function world(concurrency: number) {
  const broker = new RecordingStub({
    middleware: [
      new Saboteur(),
      new TimeLimit(),
      new ShutdownNotifications(),
      new Cancellation({ backend: new StubCancellationBackend() }),
      new Retries({ maxRetries: 0, minBackoff: 1, maxBackoff: 1 }),
    ],
  });
  return { broker, worker: new Worker(broker, { concurrency, fetchTimeout: 50 }) };
}

function boom(): never {
  throw new Error("the actor failed");
}

describe("Settling: every fetched message is settled exactly once", () => {
  it("settles every way a run can end: return, throw, reject, hook errors before and after, skip, time limit, cancel, unknown actor", async () => {
    const { broker, worker } = world(16);
    const cancelStarted = deferred();
    const declare = (name: string, fn: (this: ActorContext) => unknown, options: Record<string, unknown> = {}) =>
      actor(fn, { broker, actorName: name, ...options } as never);
    const expected: Record<string, Kind[][]> = {};
    const cases: [string, (this: ActorContext) => unknown, Record<string, unknown>, Kind[][]][] = [
      ["returns", () => 1, {}, [["ack"]]],
      ["resolves", async () => 1, {}, [["ack"]]],
      ["throws", boom, {}, [["nack"]]],
      ["rejects", async () => boom(), { maxRetries: 1 }, [["retry"], ["nack"]]],
      ["beforeRefuses", () => 1, { maxRetries: 1 }, [["retry"], ["nack"]]],
      ["beforeBreaks", () => 1, {}, [["ack"]]],
      ["afterBreaks", boom, {}, [["nack"]]],
      ["skipped", boom, {}, [["ack"]]],
      ["skippedFailed", () => 1, {}, [["nack"]]],
      ["ackRefused", () => 1, {}, [["ack"]]],
      ["nackRefused", boom, {}, [["nack"]]],
      ["retryRefused", boom, { maxRetries: 3 }, [["nack"]]],
      // Ignores its signal: the worker fails it at the limit and abandons its promise.
      ["timedOut", () => new Promise((resolve) => setTimeout(resolve, 300).unref()), { timeLimit: 20 }, [["nack"]]],
      [
        "cancelled",
        function (this: ActorContext) {
          cancelStarted.resolve();
          return new Promise((_, reject) => this.signal.addEventListener("abort", () => reject(this.signal.reason)));
        },
        {},
        [["ack"]],
      ],
    ];
    for (const [name, fn, options, kinds] of cases) {
      declare(name, fn, options);
      expected[name] = kinds;
    }
    try {
      for (const [name] of cases) {
        const sent = await broker.getActor(name).send();
        if (name === "cancelled") void cancelStarted.promise.then(() => sent.cancel());
      }
      broker.enqueueRaw("default", new JsonEncoder().encode(new Message({ queueName: "default", actorName: "nobodyDeclaredMe", args: [] }).asData()));
      expected["nobodyDeclaredMe"] = [["nack"]];
      await worker.start();
      await broker.join("default", { failFast: false, timeout: 5_000 });
      await worker.stop({ timeout: 1_000 });
      const got = Object.fromEntries(Object.keys(expected).map((name) => [name, broker.ledger.of(name)]));
      expect(got).to.deep.equal(expected);
      expect(broker.ledger.reasons.get("retryRefused")).to.match(/^Retry could not be enqueued: MiddlewareError: refused the retry/);
      expect(broker.ledger.reasons.get("beforeRefuses")).to.match(/refused before the run/);
      expect(await broker.depths("default")).to.deep.equal({ ready: 0, delayed: 0, inFlight: 0, dead: 9 });
      // The timed-out actor ignored its signal and was abandoned (it is still running once the
      // turn of the abort is over); the cancelled one heeded it.
      await new Promise((resolve) => setImmediate(resolve));
      expect(worker.abandoned).to.deep.equal({ total: 1, running: 1 });
    } finally {
      await worker.stop({ timeout: 1_000 });
      await broker.close();
    }
  });

  it("settles every way a shutdown ends a run: interrupted (retried), unstarted (given back), past the grace period (given back by the close, never acked later)", async () => {
    const { broker, worker } = world(2);
    const stubbornStarted = deferred();
    const notifiedStarted = deferred();
    const stubbornFinished = deferred();
    actor(
      async function stubborn() {
        stubbornStarted.resolve();
        await new Promise((resolve) => setTimeout(resolve, 300));
        stubbornFinished.resolve();
      },
      { broker },
    );
    actor(
      function notified(this: ActorContext) {
        notifiedStarted.resolve();
        return new Promise((_, reject) => this.signal.addEventListener("abort", () => reject(this.signal.reason)));
      },
      { broker, notifyShutdown: true, maxRetries: 1, minBackoff: 60_000, maxBackoff: 60_000 },
    );
    const waiting = actor(function waiting() {}, { broker });
    try {
      await broker.getActor("stubborn").send();
      await broker.getActor("notified").send();
      await Promise.all([waiting.send(), waiting.send(), waiting.send()]);
      await worker.start();
      await Promise.all([stubbornStarted.promise, notifiedStarted.promise]);
      await worker.stop({ timeout: 50 });
      await stubbornFinished.promise;
      // The late finish had its turn to (wrongly) settle: let any ack it sent land.
      await new Promise((resolve) => setImmediate(resolve));
      expect(broker.ledger.of("notified")).to.deep.equal([["retry"]]);
      // Those fetched (the prefetch window is 4) and not started were each given back once.
      const waitingSettles = broker.ledger.of("waiting");
      expect(waitingSettles).to.have.length.greaterThan(0);
      expect(waitingSettles).to.deep.equal(waitingSettles.map(() => ["requeue"]));
      expect(broker.ledger.of("stubborn")).to.deep.equal([[]]);
      // Ready: the three unstarted and the stubborn one (given back by the close); delayed: the retry.
      expect(await broker.depths("default")).to.deep.equal({ ready: 4, delayed: 1, inFlight: 0, dead: 0 });
    } finally {
      await broker.close();
    }
  });
});
