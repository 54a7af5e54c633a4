import { expect } from "chai";
import { actor, AgeLimit, Message, Retries } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("AgeLimit", () => {
  it("skips and dead-letters messages older than maxAge, running fresh ones", async () => {
    const world = await stubWorld({ middleware: [new AgeLimit(), new Retries()] });
    try {
      const ran: string[] = [];
      const job = actor(function aged(tag: string) { ran.push(tag); }, { broker: world.broker, maxAge: 1_000 });
      const stale = new Message({ queueName: "default", actorName: "aged", args: ["stale"], messageTimestamp: Date.now() - 5_000 });
      await world.broker.enqueue(stale);
      await job.send("fresh");
      await world.broker.join("default", { failFast: false });
      expect(ran).to.deep.equal(["fresh"]);
      const [dead] = await world.broker.deadLetters("default");
      expect(dead!.id).to.equal(stale.messageId);
      expect(dead!.reason).to.match(/^SkipMessage: Message age limit exceeded/);
    } finally {
      await world.teardown();
    }
  });
});
