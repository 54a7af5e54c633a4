/**
 * Hostile messages, on every adapter: bytes a raw or foreign producer can write that `send`
 * would refuse, and runs whose retry cannot be written. Whatever happens, the message ends
 * in the dead-letter queue with the reason, and the worker goes on with the rest.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { actor, Retries, Worker, type ActorContext, type Broker } from "../../lib/index.ts";
import type { ContractFactory, ContractFixture } from "./broker.contract.ts";

/** A message body whose args nest `levels` arrays, the args array included (as `encode` counts). */
export function nestedBody(queue: string, actorName: string, levels: number, id = randomUUID()): string {
  const args = `${"[".repeat(levels)}${"]".repeat(levels)}`;
  return `{"queue_name":"${queue}","actor_name":"${actorName}","args":${args},"kwargs":{},"options":{},"message_id":"${id}","message_timestamp":${Date.now()}}`;
}

export function hostileContract(name: string, factory: ContractFactory): void {
  describe(`broker contract, hostile messages: ${name}`, function () {
    this.timeout(20_000);
    let fixture: ContractFixture;
    let broker: Broker;
    let queue: string;
    let worker: Worker | undefined;

    beforeEach(async () => {
      fixture = await factory({ middleware: [new Retries({ minBackoff: 1, maxBackoff: 5, maxRetries: 2 })] });
      broker = fixture.broker;
      queue = `hostile_${randomUUID().slice(0, 8)}`;
      broker.declareQueue(queue);
    });

    afterEach(async () => {
      await worker?.stop({ timeout: 2_000 });
      worker = undefined;
      await broker.flush(queue);
      await fixture.close();
    });

    const drain = async () => {
      worker = new Worker(broker, { queues: [queue], fetchTimeout: 100 });
      await worker.start();
      await broker.join(queue, { timeout: 10_000, failFast: false });
    };

    it("dead-letters args nested past the encoder's depth limit at decode, never running them", async () => {
      const runs: string[] = [];
      const fails = actor(function hostile_fails(x: unknown) {
        let depth = 1;
        for (let v = x; Array.isArray(v); v = v[0]) depth++;
        runs.push(String(depth));
        if (depth > 1) throw new Error(`fails on purpose at ${depth} levels`);
      }, { broker, queueName: queue, maxRetries: 0 });
      // Up to 128 is what `send` accepts; 40,000 (80 KB) is scanned before it is parsed.
      for (const levels of [127, 128, 129, 10_000, 40_000]) await fixture.enqueueRaw(queue, nestedBody(queue, "hostile_fails", levels));
      await fails.send("flat");
      await drain();
      expect(runs.sort()).to.deep.equal(["1", "127", "128"]);
      const reasons = (await broker.deadLetters(queue)).map((d) => d.reason).sort();
      expect(reasons).to.have.length(5);
      expect(reasons[0]).to.equal("DecodeError: Message is nested deeper than 128 levels");
      expect(reasons[1]).to.match(/^DecodeError: Message is nested deeper than 128 levels: args(\[0\]){128}$/);
      expect(reasons[2]).to.equal(reasons[1]);
      expect(reasons[3]).to.match(/^Error: fails on purpose at 127 levels/);
      expect(reasons[4]).to.match(/^Error: fails on purpose at 128 levels/);
    });

    it("dead-letters a failed run whose retry no longer fits the size limit, with the reason", async () => {
      let runs = 0;
      const huge = actor(function hostile_huge_failure() {
        runs++;
        // Retries copies the traceback into the retry: this one makes it larger than 1 MiB.
        throw new Error("x".repeat(1_100_000));
      }, { broker, queueName: queue });
      await huge.send();
      await drain();
      expect(runs).to.equal(1);
      const [dead] = await broker.deadLetters(queue);
      expect(dead!.reason).to.match(/^Retry could not be enqueued: MessageTooLarge: /);
    });

    it("dead-letters a failed run whose retry no longer encodes, with the reason", async () => {
      let runs = 0;
      const unencodable = actor(function hostile_unencodable(this: ActorContext) {
        runs++;
        this.message!.options.poisoned = () => "functions are not JSON";
        throw new Error("fails on purpose");
      }, { broker, queueName: queue });
      await unencodable.send();
      await drain();
      expect(runs).to.equal(1);
      const [dead] = await broker.deadLetters(queue);
      expect(dead!.reason).to.match(/^Retry could not be enqueued: EncodeError: options.poisoned/);
    });
  });
}
