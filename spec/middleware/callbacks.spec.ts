import { expect } from "chai";
import { actor, Callbacks, Retries, type MessageData } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("Callbacks", () => {
  it("sends onSuccess with the message and result, and onFailure on every failure", async () => {
    const world = await stubWorld({ middleware: [new Callbacks(), new Retries({ minBackoff: 1, maxBackoff: 2 })] });
    try {
      const successes: [MessageData, unknown][] = [];
      const failures: [MessageData, { type: string; message: string }][] = [];
      actor(function onOk(message: MessageData, result: unknown) { successes.push([message, result]); }, { broker: world.broker });
      actor(function onErr(message: MessageData, info: { type: string; message: string }) { failures.push([message, info]); }, { broker: world.broker });
      const divide = actor(function divide(a: number, b: number) {
        if (b === 0) throw new RangeError("division by zero");
        return a / b;
      }, { broker: world.broker, onSuccess: "onOk", onFailure: "onErr", maxRetries: 1 });
      const ok = await divide.send(6, 3);
      const bad = await divide.send(1, 0);
      await world.broker.join("default", { failFast: false });
      expect(successes).to.have.length(1);
      expect(successes[0]![0].message_id).to.equal(ok.messageId);
      expect(successes[0]![1]).to.equal(2);
      // once for the first attempt, once for the retry that also failed
      expect(failures.map(([m, info]) => [m.message_id, info])).to.deep.equal([
        [bad.messageId, { type: "RangeError", message: "division by zero" }],
        [bad.messageId, { type: "RangeError", message: "division by zero" }],
      ]);
    } finally {
      await world.teardown();
    }
  });
});
