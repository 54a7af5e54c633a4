import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import {
  actor,
  Cancellation,
  DramatsError,
  MessageCancelled,
  ResultFailure,
  Results,
  Retries,
  StubCancellationBackend,
  StubResultBackend,
  TimeLimit,
  Worker,
  type ActorContext,
} from "../lib/index.ts";
import { deferred } from "./helpers/stub.ts";

async function world() {
  const broker = new StubBroker({
    middleware: [
      new TimeLimit(),
      new Cancellation({ backend: new StubCancellationBackend() }),
      new Retries({ minBackoff: 10 }),
      new Results({ backend: new StubResultBackend(), storeResults: true }),
    ],
  });
  const worker = new Worker(broker, { fetchTimeout: 50 });
  await worker.start();
  return { broker, worker, teardown: async () => { await worker.stop(); await broker.close(); } };
}

describe("message.cancel()", () => {
  it("keeps a queued or delayed message from ever running, without dead-lettering it", async () => {
    const w = await world();
    try {
      const ran: string[] = [];
      const job = actor(function cancellable(tag: string) { ran.push(tag); }, { broker: w.broker });
      w.worker.pause();
      const queued = await job.send("queued");
      const delayed = await job.sendWithOptions({ args: ["delayed"], delay: 100 });
      await job.send("kept");
      await queued.cancel();
      await delayed.cancel();
      w.worker.resume();
      await w.broker.join("default");
      expect(ran).to.deep.equal(["kept"]);
      expect((await w.broker.depths("default")).dead).to.equal(0);
      const error = await queued.result({ timeout: 1_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ResultFailure);
      expect((error as ResultFailure).origExcType).to.equal("MessageCancelled");
    } finally {
      await w.teardown();
    }
  });

  it("aborts a running actor through its signal, and does not retry it", async () => {
    const w = await world();
    try {
      const started = deferred();
      let attempts = 0;
      let reason: unknown;
      const job = actor(function longRunning(this: ActorContext) {
        attempts++;
        started.resolve();
        return new Promise<void>((_, reject) => this.signal.addEventListener("abort", () => {
          reason = this.signal.reason;
          reject(this.signal.reason);
        }));
      }, { broker: w.broker });
      const message = await job.send();
      await started.promise;
      await message.cancel();
      await w.broker.join("default");
      expect(reason).to.be.instanceOf(MessageCancelled);
      expect(attempts).to.equal(1);
      expect(await w.broker.depths("default")).to.deep.include({ ready: 0, delayed: 0, dead: 0 });
    } finally {
      await w.teardown();
    }
  });

  it("needs the Cancellation middleware", async () => {
    const broker = new StubBroker();
    const job = actor(function uncancellable() {}, { broker });
    const error = await job.message().cancel().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(DramatsError);
    expect((error as Error).message).to.contain("Cancellation middleware");
  });
});
