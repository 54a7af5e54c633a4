/**
 * What `join` means, the same on every broker (see `Broker.join`): it waits for the queue to be
 * idle in every process, and with failFast rejects on the first dead letter written since this
 * broker's previous join or flush of the queue, or since it declared the queue.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { actor, MessageDeadLettered, QueueJoinTimeout, Retries, TimeLimit, Worker, type Broker } from "../../lib/index.ts";
import type { ContractFactory, ContractFixture } from "./broker.contract.ts";

class BadInput extends Error {
  override name = "BadInput";
}

async function until(check: () => Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const rejection = (promise: Promise<unknown>) => promise.then(() => "resolved", (error: unknown) => error);

/**
 * `shared`: the broker's queues are shared with other processes (a fixture with a `peer`); the
 * stub's are not, so the cases about other processes are not defined for it at all (rather
 * than reported as pending).
 */
export function joinContract(name: string, factory: ContractFactory, { shared }: { shared: boolean }): void {
  describe(`join contract: ${name}`, function () {
    this.timeout(30_000);
    let fixture: ContractFixture;
    let broker: Broker;
    let queue: string;
    const workers: Worker[] = [];

    beforeEach(async () => {
      fixture = await factory({ middleware: [new TimeLimit(), new Retries({ maxRetries: 0 })] });
      broker = fixture.broker;
      queue = `join_${randomUUID().slice(0, 8)}`;
      broker.declareQueue(queue);
    });

    afterEach(async () => {
      for (const worker of workers.splice(0)) await worker.stop({ timeout: 2_000 });
      await broker.flush(queue);
      await fixture.close();
    });

    /** An actor that fails with BadInput for `fail`, else waits for `gate`; and a worker for it on `on`. */
    const failing = async (on: Broker, gate: Promise<void> = Promise.resolve()) => {
      const send = actor(
        async function join_contract_actor(fail: boolean) {
          if (fail) throw new BadInput("bad input");
          await gate;
        },
        { broker: on, queueName: queue },
      );
      const worker = new Worker(on, { queues: [queue], fetchTimeout: 100 });
      workers.push(worker);
      await worker.start();
      return send;
    };
    const deadLetterWritten = (count = 1) => until(async () => {
      const depths = await broker.depths(queue);
      return depths.dead >= count && depths.ready + depths.inFlight === 0;
    }, "the dead letter");

    it("fails on a dead letter written before it started, with the actor's own error when this process wrote it", async () => {
      const send = await failing(broker);
      await send.send(true);
      await deadLetterWritten();
      const error = await rejection(broker.join(queue, { timeout: 5_000 }));
      expect(error).to.be.instanceOf(BadInput);
    });

    it("fails at most one join per dead letter: the next starts past what the previous one saw", async () => {
      const send = await failing(broker);
      await send.send(true);
      await deadLetterWritten();
      expect(await rejection(broker.join(queue, { timeout: 5_000 }))).to.be.instanceOf(BadInput);
      await broker.join(queue, { timeout: 5_000 });
      // A join without failFast accounts for what it saw too.
      await send.send(true);
      await deadLetterWritten(2);
      await broker.join(queue, { timeout: 5_000, failFast: false });
      await broker.join(queue, { timeout: 5_000 });
      // And a later dead letter fails the join after.
      await send.send(true);
      expect(await rejection(broker.join(queue, { timeout: 5_000 }))).to.be.instanceOf(BadInput);
    });

    it("starts over at a flush: older dead letters are gone, newer ones fail the next join", async () => {
      const send = await failing(broker);
      await send.send(true);
      await deadLetterWritten();
      await broker.flush(queue);
      await broker.join(queue, { timeout: 5_000 });
      await send.send(true);
      await deadLetterWritten();
      expect(await rejection(broker.join(queue, { timeout: 5_000 }))).to.be.instanceOf(BadInput);
    });

    it("rejects with QueueJoinTimeout when the queue does not drain in time", async () => {
      let release!: () => void;
      const send = await failing(broker, new Promise<void>((resolve) => (release = resolve)));
      await send.send(false);
      expect(await rejection(broker.join(queue, { timeout: 200 }))).to.be.instanceOf(QueueJoinTimeout);
      release();
      await broker.join(queue, { timeout: 5_000 });
    });

    if (shared) describe("with another process on the same broker", () => {
      beforeEach(() => {
        expect(fixture.peer, "a shared broker's fixture gives a peer").to.be.a("function");
      });

      it("fails with MessageDeadLettered, the message id and the reason for another process's dead letter", async () => {
        const send = await failing(fixture.peer!());
        // The producer runs no worker: the other process dead-letters the message.
        const sent = await broker.enqueue(send.message(true));
        const error = await rejection(broker.join(queue, { timeout: 10_000 }));
        expect(error).to.be.instanceOf(MessageDeadLettered);
        expect(error).to.deep.include({ queueName: queue, messageId: sent.messageId, reason: "BadInput: bad input" });
      });

      it("waits while another process's worker holds a message", async () => {
        let release!: () => void;
        const send = await failing(fixture.peer!(), new Promise<void>((resolve) => (release = resolve)));
        await broker.enqueue(send.message(false));
        await until(async () => (await broker.depths(queue)).inFlight === 1, "the other process to fetch the message");
        expect(await rejection(broker.join(queue, { timeout: 300 }))).to.be.instanceOf(QueueJoinTimeout);
        release();
        await broker.join(queue, { timeout: 10_000 });
      });

      it("never fails on dead letters written before the broker declared the queue", async () => {
        const send = await failing(fixture.peer!());
        await broker.enqueue(send.message(true));
        await deadLetterWritten();
        const late = fixture.peer!();
        late.declareQueue(queue);
        await late.join(queue, { timeout: 5_000 });
        // Its own join still fails on this broker, which declared the queue before.
        expect(await rejection(broker.join(queue, { timeout: 5_000 }))).to.be.instanceOf(MessageDeadLettered);
      });
    });
  });
}
