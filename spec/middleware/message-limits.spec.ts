import { expect } from "chai";
import { actor, AgeLimit, Message, Retries, TimeLimit, TimeLimitExceeded, type ActorContext } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

/**
 * Options a message carries are the producer's word: a raw or foreign producer can write any
 * JSON there. They are range-checked, and cannot lift a limit the actor declared.
 */
describe("Limits carried by a message", () => {
  let world: Awaited<ReturnType<typeof stubWorld>>;
  beforeEach(async () => {
    world = await stubWorld({ middleware: [new AgeLimit(), new TimeLimit(), new Retries({ minBackoff: 1, maxBackoff: 2 })] });
  });
  afterEach(() => world.teardown());

  /** Writes a message with these wire options as a foreign producer would, and drains. */
  const run = async (actorName: string, options: Record<string, unknown>, fields: { messageTimestamp?: number } = {}) => {
    const message = new Message({ queueName: "default", actorName, args: [], options, ...fields });
    world.broker.enqueueRaw("default", JSON.stringify(message.asData()));
    await world.broker.join("default", { failFast: false, timeout: 5_000 });
    return world.broker.deadLetters("default");
  };

  /** An actor that fails `failures` times (then succeeds, so that a runaway spec still ends). */
  const failing = (name: string, options: Record<string, unknown>, failures = 12) => {
    const counter = { runs: 0 };
    actor(
      {
        [name]() {
          if (++counter.runs <= failures) throw new Error("fails on purpose");
        },
      }[name]!,
      { broker: world.broker, ...options },
    );
    return counter;
  };

  it("clamps a negative retry count to 0: no more runs than maxRetries allows", async () => {
    const counter = failing("negative_retries", { maxRetries: 3 });
    const [dead] = await run("negative_retries", { retries: -5 });
    expect(counter.runs).to.equal(4);
    expect(dead!.reason).to.equal("Error: fails on purpose");
  });

  it("treats a retry count of the wrong type as 0", async () => {
    const counter = failing("string_retries", { maxRetries: 1 });
    await run("string_retries", { retries: "-5" });
    expect(counter.runs).to.equal(2);
  });

  it("does not let a message raise the maxRetries its actor declared, nor retry forever", async () => {
    const raised = failing("raised_retries", { maxRetries: 1 });
    const forever = failing("forever_retries", { maxRetries: 1 });
    await run("raised_retries", { max_retries: 10 });
    await run("forever_retries", { max_retries: null });
    expect([raised.runs, forever.runs]).to.deep.equal([2, 2]);
  });

  it("lets a message lower the actor's maxRetries, and raise it where the actor allows", async () => {
    const lowered = failing("lowered_retries", { maxRetries: 3 });
    const allowed = failing("allowed_retries", { maxRetries: 1, raisableLimits: ["maxRetries"] });
    const unset = failing("unset_retries", {});
    await run("lowered_retries", { max_retries: 0 });
    await run("allowed_retries", { max_retries: 4 });
    await run("unset_retries", { max_retries: 2 });
    expect([lowered.runs, allowed.runs, unset.runs]).to.deep.equal([1, 5, 3]);
  });

  for (const bad of [-1, 1.5, "3", true, {}]) {
    it(`dead-letters a failed run whose max_retries is ${JSON.stringify(bad)}, with the reason`, async () => {
      const counter = failing("bad_max_retries", { maxRetries: 3 });
      const [dead] = await run("bad_max_retries", { max_retries: bad });
      expect(counter.runs).to.equal(1);
      expect(dead!.reason).to.equal(
        `InvalidOptions: Message option max_retries must be a non-negative integer or null, got ${JSON.stringify(bad)} (the run failed with Error: fails on purpose)`,
      );
    });
  }

  it("dead-letters a failed run whose backoff is negative", async () => {
    const counter = failing("bad_backoff", { maxRetries: 3 });
    const [dead] = await run("bad_backoff", { min_backoff: -100 });
    expect(counter.runs).to.equal(1);
    expect(dead!.reason).to.match(/^InvalidOptions: Message option min_backoff must be a non-negative number, got -100/);
  });

  for (const lifted of [0, 1e12, 1e300]) {
    it(`keeps the actor's time limit when a message says time_limit: ${lifted}`, async () => {
      let aborted: unknown;
      actor(function limited(this: ActorContext) {
        return new Promise<void>((resolve) => {
          this.signal.addEventListener("abort", () => {
            aborted = this.signal.reason;
            resolve();
          });
          setTimeout(resolve, 2_000);
        });
      }, { broker: world.broker, timeLimit: 30, maxRetries: 0 });
      const [dead] = await run("limited", { time_limit: lifted });
      expect(aborted).to.be.instanceOf(TimeLimitExceeded);
      expect(dead!.reason).to.match(/^TimeLimitExceeded: Time limit of 30 ms/);
    });
  }

  it("dead-letters a message with a time_limit of the wrong type without running it", async () => {
    let runs = 0;
    actor(function typo_limit() {
      runs++;
    }, { broker: world.broker });
    const [dead] = await run("typo_limit", { time_limit: "10s" });
    expect(runs).to.equal(0);
    expect(dead!.reason).to.equal('InvalidOptions: Message option time_limit must be a non-negative number, got "10s"');
  });

  it("keeps the actor's maxAge when a message says max_age: 0", async () => {
    let runs = 0;
    actor(function aged() {
      runs++;
    }, { broker: world.broker, maxAge: 1_000 });
    const [dead] = await run("aged", { max_age: 0 }, { messageTimestamp: Date.now() - 60_000 });
    expect(runs).to.equal(0);
    expect(dead!.reason).to.match(/^SkipMessage: Message age limit exceeded/);
  });
});
