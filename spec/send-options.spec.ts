import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor, group, InvalidOptions, Message, pipeline, Results, StubResultBackend } from "../lib/index.ts";

// What a JavaScript caller (no compiler to catch it) may pass: each of these must be refused.
type Loose = any;

async function rejection(promise: () => Promise<unknown>): Promise<unknown> {
  try {
    return await promise().then(() => undefined);
  } catch (error) {
    return error;
  }
}

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

function world() {
  const broker = new StubBroker();
  const job = actor(function validated(_a?: unknown) {}, { broker, queueName: "send_opts" });
  return { broker, job, ready: async () => (await broker.depths("send_opts")).ready + (await broker.depths("send_opts")).delayed };
}

describe("send options at run time", () => {
  const badValues: [string, Record<string, unknown>, RegExp][] = [
    ["args that are not an array", { args: 5 }, /`args` must be an array, got 5/],
    ["missing args", {}, /`args` must be an array, got undefined/],
    ["a delay that is not a number", { args: [], delay: "soon" }, /`delay` must be a non-negative integer \(ms\), got "soon"/],
    ["a negative delay", { args: [], delay: -1 }, /`delay` must be a non-negative integer \(ms\), got -1/],
    ["a non-finite delay", { args: [], delay: Infinity }, /`delay` .* got Infinity/],
    ["a NaN delay", { args: [], delay: NaN }, /`delay` .* got NaN/],
    ["a fractional delay", { args: [], delay: 1.5 }, /`delay` .* got 1.5/],
    ["a priority that is not a number", { args: [], priority: "high" }, /`priority` must be a finite number, got "high"/],
    ["a non-finite priority", { args: [], priority: -Infinity }, /`priority` must be a finite number, got -Infinity/],
    ["kwargs that are not an object", { args: [], kwargs: [1] }, /`kwargs` must be a plain object, got \[1\]/],
    ["wire options that are not an object", { args: [], options: "x" }, /`options` must be a plain object, got "x"/],
  ];

  for (const [what, options, pattern] of badValues) {
    it(`sendWithOptions rejects ${what} with InvalidOptions naming the field, and sends nothing`, async () => {
      const w = world();
      const error = await rejection(() => w.job.sendWithOptions(options as Loose));
      expect(error).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message).to.match(pattern).and.to.contain('Actor "validated"');
      expect(await w.ready()).to.equal(0);
    });

    it(`messageWithOptions throws on ${what}`, () => {
      const w = world();
      const error = thrown(() => w.job.messageWithOptions(options as Loose));
      expect(error).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message).to.match(pattern);
    });
  }

  it("rejects a misspelt option name, listing the valid ones", async () => {
    const w = world();
    const error = await rejection(() => w.job.sendWithOptions({ args: [], dealy: 500 } as Loose));
    expect(error).to.be.instanceOf(InvalidOptions);
    const text = (error as Error).message;
    expect(text).to.match(/unknown send option dealy; valid options are: .*\bdelay\b/);
    for (const name of ["args", "kwargs", "options", "priority", "maxRetries", "timeLimit", "onSuccess", "notifyShutdown", "pipeIgnore"]) {
      expect(text).to.match(new RegExp(`\\b${name}\\b`));
    }
    expect(await w.ready()).to.equal(0);
    expect(thrown(() => w.job.messageWithOptions({ args: [], maxRetrys: 1 } as Loose))).to.be.instanceOf(InvalidOptions);
  });

  it("accepts a middleware's per-message options only when that middleware is on the broker", async () => {
    const w = world();
    const error = await rejection(() => w.job.sendWithOptions({ args: [], storeResults: true }));
    expect((error as Error).message).to.match(/unknown send option storeResults; .*middleware/);
    const broker = new StubBroker();
    broker.addMiddleware(new Results({ backend: new StubResultBackend() }));
    const stored = actor(function storedValidated() {}, { broker });
    const message = await stored.sendWithOptions({ args: [], storeResults: true, resultTtl: 1_000, delay: 0 });
    expect(message.options).to.include({ store_results: true, result_ttl: 1_000 });
  });

  it("still sends every valid option, including explicit undefined values", async () => {
    const w = world();
    const message = await w.job.sendWithOptions({ args: [1], delay: 10, priority: -2, maxRetries: null, timeLimit: undefined, kwargs: { k: 1 }, options: { custom: 1 } });
    expect(message.options).to.deep.include({ priority: -2, max_retries: null, custom: 1 });
    expect(message.kwargs).to.deep.equal({ k: 1 });
    expect((await w.broker.depths("send_opts")).delayed).to.equal(1);
  });

  it("sendMany rejects an entry that is not an argument list, and sends none of them", async () => {
    const w = world();
    const error = await rejection(() => w.job.sendMany([[1], "ab"] as Loose));
    expect(error).to.be.instanceOf(InvalidOptions);
    expect((error as Error).message).to.match(/sendMany: entry 1 must be an array of arguments, got "ab"/);
    expect(await w.ready()).to.equal(0);
    expect(await rejection(() => w.job.sendMany(5 as Loose))).to.be.instanceOf(InvalidOptions);
  });

  it("pipeline.run and group.run reject a bad delay or an unknown option, and send nothing", async () => {
    const w = world();
    const runs: [string, () => Promise<unknown>, RegExp][] = [
      ["pipeline delay", () => pipeline([w.job.message(1)]).run({ delay: "soon" } as Loose), /`delay` must be a non-negative integer \(ms\), got "soon"/],
      ["pipeline typo", () => pipeline([w.job.message(1)]).run({ dealy: 5 } as Loose), /unknown run option dealy; valid options are: delay/],
      ["group delay", () => group([w.job.message(1)]).run({ delay: -5 }), /`delay` .* got -5/],
      ["group typo", () => group([w.job.message(1)]).run({ dealy: 5 } as Loose), /unknown run option dealy/],
    ];
    for (const [what, run, pattern] of runs) {
      const error = await rejection(run);
      expect(error, what).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message, what).to.match(pattern);
    }
    expect(await w.ready()).to.equal(0);
  });
});

describe("message options at run time", () => {
  it("new Message and message.copy reject args that are not an array, and kwargs or options that are not objects", () => {
    const fields = { queueName: "send_opts", actorName: "validated" };
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ args: 5 }, /Message validated: `args` must be an array, got 5/],
      [{ args: "ab" }, /`args` must be an array, got "ab"/],
      [{ args: [], kwargs: [1] }, /`kwargs` must be an object, got \[1\]/],
      [{ args: [], options: "x" }, /`options` must be an object, got "x"/],
    ];
    for (const [extra, pattern] of bad) {
      const error = thrown(() => new Message({ ...fields, ...extra } as Loose));
      expect(error, JSON.stringify(extra)).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message).to.match(pattern);
    }
    const message = new Message({ ...fields, args: [1] });
    expect(thrown(() => message.copy({ args: 7 } as Loose))).to.be.instanceOf(InvalidOptions);
  });

  it("broker.enqueue rejects a delay that is not a finite number, and writes nothing", async () => {
    const w = world();
    for (const delay of ["soon", NaN, Infinity]) {
      const error = await rejection(() => w.broker.enqueue(w.job.message(1), { delay: delay as Loose }));
      expect(error, String(delay)).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message).to.match(/`delay` must be a finite number of ms/);
      const many = await rejection(() => w.broker.enqueueMany([w.job.message(1)], { delay: delay as Loose }));
      expect(many, String(delay)).to.be.instanceOf(InvalidOptions);
    }
    expect(await w.ready()).to.equal(0);
  });
});
