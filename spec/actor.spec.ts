import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor, actorOf, InvalidOptions, isActor, Middleware, setBroker, Worker, type ActorContext, type Message } from "../lib/index.ts";
import { stubWorld } from "./helpers/stub.ts";

describe("actor()", () => {
  it("declares an actor on its broker under the function's name and queue", () => {
    const broker = new StubBroker();
    const sendWelcome = actor(function sendWelcome(_userId: string) {}, { broker, queueName: "emails" });
    expect(isActor(sendWelcome)).to.equal(true);
    expect(sendWelcome.actorName).to.equal("sendWelcome");
    expect(sendWelcome.queueName).to.equal("emails");
    expect(broker.getActor("sendWelcome")).to.equal(sendWelcome);
    expect([...broker.queues]).to.deep.equal(["emails"]);
  });

  it("rejects unknown options, listing the valid ones", () => {
    const broker = new StubBroker();
    const declare = () => actor(function typo() {}, { broker, maxRetrys: 3 } as never);
    expect(declare).to.throw(InvalidOptions, /unknown option\(s\) maxRetrys; valid options are: .*maxRetries/);
  });

  it("rejects a second actor with the same name on one broker", () => {
    const broker = new StubBroker();
    actor(function twin() {}, { broker });
    expect(() => actor(function twin() {}, { broker })).to.throw(InvalidOptions, 'An actor named "twin" is already registered');
  });

  it("rejects invalid queue names and anonymous functions without a name", () => {
    const broker = new StubBroker();
    expect(() => actor(function q() {}, { broker, queueName: "no spaces" })).to.throw(InvalidOptions, "Queue name");
    expect(() => actor(() => {}, { broker })).to.throw(InvalidOptions, "actorName");
  });

  it("runs the function in-process when called directly", async () => {
    const broker = new StubBroker();
    const add = actor(async function add(a: number, b: number) { return a + b; }, { broker });
    expect(await add(2, 3)).to.equal(5);
    expect((await broker.depths("default")).ready).to.equal(0);
  });

  it("sends a call as a message that a worker runs", async () => {
    const world = await stubWorld();
    try {
      const results: number[] = [];
      const add = actor(async function add(a: number, b: number) { results.push(a + b); }, { broker: world.broker });
      const message: Message<[number, number]> = await add.send(2, 3);
      expect(message.args).to.deep.equal([2, 3]);
      expect(message.actorName).to.equal("add");
      await world.broker.join("default");
      expect(results).to.deep.equal([5]);
    } finally {
      await world.teardown();
    }
  });

  it("sends many calls at once with sendMany, each through the enqueue hooks, and the worker runs them all", async () => {
    const hooks: string[] = [];
    class Recorder extends Middleware {
      beforeEnqueue(_b: unknown, m: Message) { hooks.push(`before ${m.args[0]}`); }
      afterEnqueue(_b: unknown, m: Message) { hooks.push(`after ${m.args[0]}`); }
    }
    const world = await stubWorld({ middleware: [new Recorder()] });
    try {
      const results: number[] = [];
      const double = actor(function double(n: number) { results.push(2 * n); }, { broker: world.broker });
      const sent = await double.sendMany([[1], [2], [3]]);
      expect(sent.map((m) => m.args)).to.deep.equal([[1], [2], [3]]);
      expect(new Set(sent.map((m) => m.messageId)).size).to.equal(3);
      expect(hooks).to.deep.equal(["before 1", "before 2", "before 3", "after 1", "after 2", "after 3"]);
      await world.broker.join("default");
      expect(results.sort()).to.deep.equal([2, 4, 6]);
      expect(await double.sendMany([])).to.deep.equal([]);
    } finally {
      await world.teardown();
    }
  });

  it("turns camelCase per-message options into Dramatiq's snake_case wire options", () => {
    const broker = new StubBroker();
    const target = actor(function target() {}, { broker });
    const job = actor(function job(_n: number) {}, { broker });
    const message = job.messageWithOptions({ args: [1], maxRetries: 2, timeLimit: 500, onSuccess: target, priority: 3 });
    // An actor given as a callback travels by name, with its queue (for workers that did not declare it).
    expect(message.options).to.deep.equal({ max_retries: 2, time_limit: 500, on_success: "target", on_success_queue: "default", priority: 3 });
  });

  it("gives actor functions their abort signal and message as `this`", async () => {
    const world = await stubWorld();
    try {
      let seen: { aborted: boolean; id: string | undefined } | undefined;
      const job = actor(function ctx(this: ActorContext) {
        seen = { aborted: this.signal.aborted, id: this.message?.messageId };
      }, { broker: world.broker });
      const sent = await job.send();
      await world.broker.join("default");
      expect(seen).to.deep.equal({ aborted: false, id: sent.messageId });
    } finally {
      await world.teardown();
    }
  });

  it("passes keyword arguments from Python producers as a trailing object", async () => {
    const world = await stubWorld();
    try {
      const calls: unknown[][] = [];
      const welcome = actor(function send_welcome(...args: unknown[]) { calls.push(args); }, { broker: world.broker });
      await welcome.sendWithOptions({ args: [42], kwargs: { locale: "en" } });
      await world.broker.join("default");
      expect(calls).to.deep.equal([[42, { locale: "en" }]]);
    } finally {
      await world.teardown();
    }
  });

  it("makes static methods actors with the @actor decorator, sent through actorOf", async () => {
    const world = await stubWorld();
    try {
      const generated: number[] = [];
      class Reports {
        static prefix = "report";
        @actor({ broker: world.broker, queueName: "reports" })
        static async generate(id: number): Promise<string> {
          generated.push(id);
          return `${this.prefix} ${id}`;
        }
      }
      expect(await Reports.generate(1)).to.equal("report 1");
      await actorOf(Reports.generate).send(42);
      await world.broker.join("reports");
      expect(generated).to.deep.equal([1, 42]);
      expect(world.broker.getActor("generate").queueName).to.equal("reports");
    } finally {
      await world.teardown();
    }
  });

  it("follows the global broker when none is given, declaring early actors on setBroker", async () => {
    const early = actor(function globalEarly() {}, { queueName: "global_q" });
    const broker = setBroker(new StubBroker());
    expect(broker.getActor("globalEarly")).to.equal(early);
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    await early.send();
    await broker.join("global_q");
    await worker.stop();
  });
});
