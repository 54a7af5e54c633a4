import { expect } from "chai";
import { actor, CurrentMessage } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("CurrentMessage", () => {
  it("exposes the message being processed anywhere in the actor's async call tree, and nothing outside", async () => {
    const world = await stubWorld({ middleware: [new CurrentMessage()] });
    try {
      const seen: (string | undefined)[] = [];
      const deepHelper = async () => {
        await new Promise((r) => setTimeout(r, 1));
        return CurrentMessage.get()?.messageId;
      };
      const job = actor(async function current() { seen.push(await deepHelper()); }, { broker: world.broker });
      const a = await job.send();
      const b = await job.send();
      await world.broker.join("default");
      expect(seen.sort()).to.deep.equal([a.messageId, b.messageId].sort());
      expect(CurrentMessage.get()).to.equal(undefined);
    } finally {
      await world.teardown();
    }
  });
});
