import { expect } from "chai";
import { actor, Retries, Retry, TimeLimit, computeBackoff } from "../../lib/index.ts";
import { stubWorld } from "../helpers/stub.ts";

describe("Retries", () => {
  let world: Awaited<ReturnType<typeof stubWorld>>;
  beforeEach(async () => {
    world = await stubWorld({ middleware: [new TimeLimit(), new Retries({ minBackoff: 5, maxBackoff: 20 })] });
  });
  afterEach(() => world.teardown());

  it("retries a failing actor at most maxRetries times, then dead-letters it", async () => {
    let attempts = 0;
    const flaky = actor(function flaky() {
      attempts++;
      throw new Error("nope");
    }, { broker: world.broker, maxRetries: 3 });
    const sent = await flaky.send();
    await world.broker.join("default", { failFast: false });
    expect(attempts).to.equal(4);
    const [dead] = await world.broker.deadLetters("default");
    expect(dead!.id).to.equal(sent.messageId);
    expect(dead!.reason).to.equal("Error: nope");
    expect(dead!.error).to.be.instanceOf(Error);
  });

  it("succeeds on a later attempt and then stops retrying", async () => {
    let attempts = 0;
    const eventually = actor(function eventually() {
      if (++attempts < 3) throw new Error("not yet");
    }, { broker: world.broker, maxRetries: 5 });
    await eventually.send();
    await world.broker.join("default");
    expect(attempts).to.equal(3);
    expect((await world.broker.depths("default")).dead).to.equal(0);
  });

  it("records retries, traceback and requeue time on each attempt", async () => {
    const seen: { retries: unknown; hasTraceback: boolean; requeuedAfterFirst: boolean }[] = [];
    const job = actor(function traced(this: { message: { options: Record<string, unknown>; messageTimestamp: number } | undefined }) {
      const options = this.message!.options;
      seen.push({
        retries: options.retries,
        hasTraceback: typeof options.traceback === "string" && (options.traceback as string).includes("Error: again"),
        requeuedAfterFirst: (options.requeue_timestamp as number | undefined ?? 0) >= this.message!.messageTimestamp,
      });
      throw new Error("again");
    }, { broker: world.broker, maxRetries: 2 });
    await job.send();
    await world.broker.join("default", { failFast: false });
    expect(seen).to.deep.equal([
      { retries: undefined, hasTraceback: false, requeuedAfterFirst: false },
      { retries: 1, hasTraceback: true, requeuedAfterFirst: true },
      { retries: 2, hasTraceback: true, requeuedAfterFirst: true },
    ]);
  });

  it("lets a message's maxRetries override its actor's", async () => {
    let attempts = 0;
    const job = actor(function overridden() {
      attempts++;
      throw new Error("x");
    }, { broker: world.broker, maxRetries: 10 });
    await job.sendWithOptions({ args: [], maxRetries: 0 });
    await world.broker.join("default", { failFast: false });
    expect(attempts).to.equal(1);
  });

  it("does not retry errors listed in `throws`", async () => {
    class NotRetryable extends Error {}
    let attempts = 0;
    const job = actor(function strict() {
      attempts++;
      throw new NotRetryable("bad request");
    }, { broker: world.broker, maxRetries: 5, throws: [NotRetryable] });
    await job.send();
    await world.broker.join("default", { failFast: false });
    expect(attempts).to.equal(1);
    expect((await world.broker.deadLetters("default"))[0]!.reason).to.equal("Error: bad request");
  });

  it("asks retryWhen instead of counting when it is given", async () => {
    const attemptsByKind: Record<string, number> = { TypeError: 0, RangeError: 0 };
    const retryWhen = (retries: number, error: unknown) => retries < 3 && error instanceof TypeError;
    const job = actor(function picky(kind: string) {
      attemptsByKind[kind]!++;
      throw kind === "TypeError" ? new TypeError("t") : new RangeError("r");
    }, { broker: world.broker, retryWhen });
    await job.send("TypeError");
    await job.send("RangeError");
    await world.broker.join("default", { failFast: false });
    expect(attemptsByKind).to.deep.equal({ TypeError: 4, RangeError: 1 });
  });

  it("waits for the delay a Retry error asks for", async () => {
    const times: number[] = [];
    const job = actor(function later() {
      times.push(Date.now());
      if (times.length === 1) throw new Retry("come back later", 150);
    }, { broker: world.broker });
    await job.send();
    await world.broker.join("default");
    expect(times).to.have.length(2);
    expect(times[1]! - times[0]!).to.be.at.least(150);
  });

  it("sends onRetryExhausted once when retries run out, never after a success", async () => {
    const exhausted: unknown[][] = [];
    const onExhausted = actor(function onExhausted(message: unknown, info: unknown) {
      exhausted.push([message, info]);
    }, { broker: world.broker });
    const job = actor(function hopeless(fail: boolean) {
      if (fail) throw new Error("x");
    }, { broker: world.broker, maxRetries: 1, onRetryExhausted: onExhausted });
    const failing = await job.send(true);
    await job.send(false);
    await world.broker.join("default", { failFast: false });
    expect(exhausted).to.have.length(1);
    expect((exhausted[0]![0] as { message_id: string }).message_id).to.equal(failing.messageId);
    expect(exhausted[0]![1]).to.deep.equal({ retries: 1, maxRetries: 1 });
  });
});

describe("computeBackoff", () => {
  it("doubles from minBackoff up to maxBackoff, jittered within the upper half", () => {
    expect(computeBackoff(1, 15_000, 604_800_000, false)).to.equal(30_000);
    expect(computeBackoff(2, 15_000, 604_800_000, false)).to.equal(60_000);
    expect(computeBackoff(40, 15_000, 604_800_000, false)).to.equal(604_800_000);
    for (let i = 0; i < 100; i++) expect(computeBackoff(1, 1_000, 100_000)).to.be.within(1_000, 2_000);
  });
});
