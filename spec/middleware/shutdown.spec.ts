import { expect } from "chai";
import { actor, Retries, Shutdown, ShutdownNotifications, type ActorContext } from "../../lib/index.ts";
import { deferred, stubWorld } from "../helpers/stub.ts";

describe("ShutdownNotifications", () => {
  it("aborts opted-in actors on worker stop and lets the others finish", async () => {
    const world = await stubWorld({ middleware: [new ShutdownNotifications(), new Retries({ minBackoff: 60_000 })] });
    const started = { notified: deferred(), plain: deferred() };
    let notifiedReason: unknown;
    let plainFinished = false;
    actor(function notified(this: ActorContext) {
      started.notified.resolve();
      return new Promise<void>((_, reject) => this.signal.addEventListener("abort", () => {
        notifiedReason = this.signal.reason;
        reject(this.signal.reason);
      }));
    }, { broker: world.broker, notifyShutdown: true });
    const plain = actor(async function plain() {
      started.plain.resolve();
      await new Promise((r) => setTimeout(r, 100));
      plainFinished = true;
    }, { broker: world.broker });
    await world.broker.getActor("notified").send();
    await plain.send();
    await Promise.all([started.notified.promise, started.plain.promise]);
    await world.teardown();
    expect(notifiedReason).to.be.instanceOf(Shutdown);
    expect(plainFinished).to.equal(true);
    // The interrupted message is retried later, not lost.
    expect((await world.broker.depths("default")).delayed).to.equal(1);
  });
});
