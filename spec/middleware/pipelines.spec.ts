import { expect } from "chai";
import { actor, Pipelines, Retries } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("Pipelines", () => {
  it("enqueues the pipe target with the result appended, honouring pipeIgnore and stopping on failure", async () => {
    const world = await stubWorld({ middleware: [new Pipelines(), new Retries({ maxRetries: 0 })] });
    try {
      const seen: unknown[][] = [];
      const add = actor(function pipeAdd(a: number, b: number) { seen.push(["add", a, b]); return a + b; }, { broker: world.broker });
      const double = actor(function pipeDouble(n: number) { seen.push(["double", n]); return n * 2; }, { broker: world.broker });
      const ping = actor(function pipePing(tag: string) { seen.push(["ping", tag]); }, { broker: world.broker, pipeIgnore: true });
      const boom = actor(function pipeBoom(_n: number) { throw new Error("stop here"); }, { broker: world.broker });

      const last = ping.message("end");
      const middle = double.step().copy({ options: { pipe_target: last.asData() } });
      const first = add.message(1, 2).copy({ options: { pipe_target: middle.asData() } });
      await world.broker.enqueue(first);
      await world.broker.join("default");
      expect(seen).to.deep.equal([["add", 1, 2], ["double", 3], ["ping", "end"]]);

      seen.length = 0;
      const never = double.step();
      await world.broker.enqueue(boom.message(1).copy({ options: { pipe_target: never.asData() } }));
      await world.broker.join("default", { failFast: false });
      expect(seen).to.deep.equal([]);
    } finally {
      await world.teardown();
    }
  });

  it("dead-letters a step whose next step cannot be enqueued, with the reason, rather than stopping silently", async () => {
    const world = await stubWorld({ middleware: [new Pipelines(), new Retries({ maxRetries: 0 })] });
    try {
      const step = actor(function pipeStep() { return 1; }, { broker: world.broker });
      const next = { queue_name: "not a queue!", actor_name: "x", args: [], kwargs: {}, options: {}, message_id: "n1", message_timestamp: 0 };
      const sent = await world.broker.enqueue(step.message().copy({ options: { pipe_target: next } }));
      await world.broker.join("default", { failFast: false });
      const [dead] = await world.broker.deadLetters("default");
      expect(dead!.id).to.equal(sent.messageId);
      expect(dead!.reason).to.contain("Pipelines: the actor succeeded but the next step could not be enqueued: InvalidOptions: Queue name");
    } finally {
      await world.teardown();
    }
  });
});
