import { expect } from "chai";
import { actor, Retries, TimeLimit, TimeLimitExceeded, type ActorContext } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("TimeLimit", () => {
  let world: Awaited<ReturnType<typeof stubWorld>>;
  beforeEach(async () => {
    world = await stubWorld({ middleware: [new TimeLimit({ timeLimit: 60_000 }), new Retries({ maxRetries: 0 })] });
  });
  afterEach(() => world.teardown());

  it("fails an actor that never resolves with TimeLimitExceeded", async () => {
    const stuck = actor(function stuck() {
      return new Promise<void>(() => {});
    }, { broker: world.broker, timeLimit: 50 });
    await stuck.send();
    const error = await world.broker.join("default").then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(TimeLimitExceeded);
    expect((await world.broker.deadLetters("default"))[0]!.reason).to.match(/^TimeLimitExceeded: Time limit of 50 ms exceeded/);
  });

  it("fails an actor that ignores its signal, at the limit rather than when it finishes", async () => {
    const started = Date.now();
    const stubborn = actor(async function stubborn() {
      await new Promise((r) => setTimeout(r, 2_000));
    }, { broker: world.broker, timeLimit: 50 });
    await stubborn.send();
    const error = await world.broker.join("default").then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(TimeLimitExceeded);
    expect(Date.now() - started).to.be.below(1_500);
  });

  it("aborts the actor's signal so cooperative actors can stop their work", async () => {
    let abortedWith: unknown;
    const polite = actor(function polite(this: ActorContext) {
      return new Promise<void>((_, reject) => {
        this.signal.addEventListener("abort", () => {
          abortedWith = this.signal.reason;
          reject(this.signal.reason);
        });
      });
    }, { broker: world.broker, timeLimit: 30 });
    await polite.send();
    await world.broker.join("default", { failFast: false });
    expect(abortedWith).to.be.instanceOf(TimeLimitExceeded);
  });

  it("lets a per-message time limit raise the actor's where it allows that, and leaves fast actors alone", async () => {
    const ran: string[] = [];
    const job = actor(async function timed(tag: string, ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      ran.push(tag);
    }, { broker: world.broker, timeLimit: 20, raisableLimits: ["timeLimit"] });
    await job.sendWithOptions({ args: ["overridden", 60], timeLimit: 1_000 });
    await job.send("fast", 0);
    await world.broker.join("default");
    expect(ran.sort()).to.deep.equal(["fast", "overridden"]);
  });

  it("stops each run at its own deadline when runs with the same limit start at different times", async () => {
    const started = Date.now();
    const abortedAt = new Map<string, number>();
    const job = actor(function stuckUntilAborted(this: ActorContext, tag: string) {
      return new Promise<void>((_, reject) => {
        this.signal.addEventListener("abort", () => {
          abortedAt.set(tag, Date.now() - started);
          reject(this.signal.reason);
        });
      });
    }, { broker: world.broker, timeLimit: 100 });
    const quick = actor(function quick() {}, { broker: world.broker, timeLimit: 100 });
    await job.send("first");
    await new Promise((r) => setTimeout(r, 150));
    await quick.send(); // starts and ends between the two: must not disturb their deadlines
    await job.send("second");
    await world.broker.join("default", { failFast: false });
    // Deadlines at about 100 and 250 ms: none early, and the second not at the first's deadline.
    expect(abortedAt.get("first")).to.be.at.least(99);
    expect(abortedAt.get("second")! - abortedAt.get("first")!).to.be.at.least(100);
  });
});
