// One direction on one broker: a producer on one side, the workers on the other, one check per
// message feature. Each check names the direction and says what it saw when it fails.
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { REDIS_URL } from "./env.ts";
import { check, checkError } from "./errors.ts";
import { summarize, type Run } from "./ledger.ts";
import type { Sender, Sent } from "./senders.ts";
import { groupSetup, type Setup } from "./setup.ts";
import type { Target } from "./targets.ts";

const LABEL = { python: "Python", node: "Node" } as const;
const DELAY = 1_500;

/** What the group's barrier keys hold, Dramatiq's (`Barrier`: the uuid and uuid@events) and dramats' (default prefix). */
async function barrierKeys(group: string): Promise<string> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  client.on("error", () => undefined);
  try {
    const keys = [group, `${group}@events`, `dramats-limits:barrier:${group}`, `dramats-limits:barrier-members:${group}`];
    const found = await Promise.all(keys.map(async (key) => `${key}: ${await client.type(key)}`));
    return `barrier keys after the run: ${found.join(", ")}`;
  } finally {
    client.disconnect();
  }
}

export function directionChecks(target: Target, from: "python" | "node"): void {
  const to = from === "python" ? "node" : "python";
  describe(`${target.name}: ${LABEL[from]} sends, ${LABEL[to]} runs`, function () {
    this.timeout(60_000);
    const group = groupSetup(target, `${from[0]}2${to[0]}`, { workers: [to], senders: [from] });

    /** The setup, its sender, and a tag unique to the calling check. */
    async function given(name: string): Promise<{ setup: Setup; sender: Sender; tag: string }> {
      const setup = await group.ready();
      return { setup, sender: setup.senders[from]!, tag: `${name}-${randomUUID().slice(0, 8)}` };
    }
    const tagged = (tag: string) => (run: Run) => run.tag === tag;
    /** ledger.waitFor, its failure saying where the unrun message sits. */
    async function runsOf(setup: Setup, what: string, sent: Sent, count: number, timeout: number): Promise<Run[]> {
      try {
        return await setup.ledger.waitFor(what, (run) => run.message_id === sent.messageId, count, timeout);
      } catch (error) {
        throw checkError(`${(error as Error).message}${await target.locate(setup.namespace, sent.messageId)}`);
      }
    }
    const ranOn = (runs: Run[]) => assert.deepEqual([...new Set(runs.map((r) => r.side))], [to], `ran on the wrong side: ${summarize(runs)}`);

    it("plain: positional arguments arrive as sent", async () => {
      const { setup, sender, tag } = await given("plain");
      const sent = await sender.send({ actor: "interop_record", args: [tag, 1, "two", [3, { four: 4 }]] });
      const [run] = await runsOf(setup, `${LABEL[to]} ran the plain message`, sent, 1, 15_000);
      ranOn([run!]);
      assert.deepEqual(run!.args, [1, "two", [3, { four: 4 }]]);
      assert.deepEqual(run!.kwargs, {});
    });

    it("kwargs: keyword arguments arrive as keyword arguments", async () => {
      const { setup, sender, tag } = await given("kwargs");
      const sent = await sender.send({ actor: "interop_record", args: [tag], kwargs: { x: 1, y: "two" } });
      const [run] = await runsOf(setup, `${LABEL[to]} ran the message with kwargs`, sent, 1, 15_000);
      ranOn([run!]);
      assert.deepEqual(run!.kwargs, { x: 1, y: "two" });
      assert.deepEqual(run!.args, []);
    });

    it(`delay: a message delayed ${DELAY} ms runs after its delay, within 5 s of it`, async () => {
      const { setup, sender, tag } = await given("delay");
      const sentAt = Date.now();
      const sent = await sender.send({ actor: "interop_record", args: [tag], delay: DELAY });
      const [run] = await runsOf(setup, `${LABEL[to]} ran the delayed message`, sent, 1, DELAY + 10_000);
      ranOn([run!]);
      check(run!.at >= sentAt + DELAY - 50, `ran ${run!.at - sentAt} ms after the send, before its ${DELAY} ms delay`);
      check(run!.at <= sentAt + DELAY + 5_000, `ran ${run!.at - sentAt} ms after the send: more than 5 s late`);
    });

    it("retry then dead letter: a failing actor runs 1 + max_retries (2) times, then the message is in q.XQ", async () => {
      const { setup, sender, tag } = await given("retry");
      const sent = await sender.send({ actor: "interop_fail", args: [tag] });
      const runs = await runsOf(setup, `${LABEL[to]} ran the failing message and its 2 retries`, sent, 3, 20_000);
      ranOn(runs);
      assert.deepEqual(runs.map((r) => r.retries), [0, 1, 2], `retry counts: ${summarize(runs)}`);
      await target.deadLettered(setup.namespace, setup.queue, sent.messageId, 10_000);
      assert.equal(setup.ledger.select(tagged(tag)).length, 3, "no run after the dead letter");
    });

    it("priority: a message sent with priority 5 runs and keeps its priority", async () => {
      const { setup, sender, tag } = await given("priority");
      const sent = await sender.send({ actor: "interop_record", args: [tag], priority: 5 });
      const [run] = await runsOf(setup, `${LABEL[to]} ran the message of priority 5`, sent, 1, 15_000);
      ranOn([run!]);
      assert.equal(run!.priority, 5, "the message's options.priority");
    });

    it(`results: ${LABEL[from]}'s blocking result read returns ${LABEL[to]}'s stored result within 2 s of the run`, async () => {
      const { setup, sender } = await given("results");
      // The actor pauses 500 ms first, so the read is blocked before the result is stored.
      const sent = await sender.send({ actor: "interop_add", args: [2, 3], kwargs: { pause_ms: 500 } });
      const value = await sender.result(sent, 10_000);
      const returnedAt = Date.now();
      const [run] = await setup.ledger.waitFor(`${LABEL[to]} ran interop_add`, (r) => r.message_id === sent.messageId, 1, 1_000);
      ranOn([run!]);
      assert.equal(value, 5, "the result");
      check(returnedAt - run!.at <= 2_000, `the result read returned ${returnedAt - run!.at} ms after the actor ran (the result was stored then)`);
    });

    it("pipeline: add(1, 2) | add(10) | finish(tag) gives finish the piped 13", async () => {
      const { setup, sender, tag } = await given("pipeline");
      await sender.pipeline([
        { actor: "interop_add", args: [1, 2] },
        { actor: "interop_add", args: [10] },
        { actor: "interop_finish", args: [tag] },
      ]);
      const [run] = await setup.ledger.waitFor(`${LABEL[to]} ran the pipeline's last step`, tagged(tag), 1, 15_000);
      ranOn([run!]);
      assert.deepEqual(run!.args, [13]);
    });

    it("chord: group(add x3) with a completion callback fires the callback exactly once, after every member", async () => {
      const { setup, sender, tag } = await given("chord");
      const members = [[11, 1], [12, 2], [13, 3]];
      await sender.chord(
        members.map((args) => ({ actor: "interop_add" as const, args })),
        { actor: "interop_finish", args: [tag] },
      );
      const isMember = (r: Run) => r.actor === "interop_add" && members.some(([a, b]) => r.args[0] === a && r.args[1] === b);
      const ran = await setup.ledger.waitFor(`${LABEL[to]} ran the chord's 3 members`, isMember, 3, 15_000);
      ranOn(ran);
      const group = ran[0]!.group;
      check(group !== null && ran.every((r) => r.group === group), `the members carry no one group_completion_uuid: ${JSON.stringify(ran.map((r) => r.group))}`);
      await setup.ledger.waitFor(`the chord's callback (members ran on ${LABEL[to]})`, tagged(tag), 1, 10_000).catch(async (error: Error) => {
        throw checkError(`${error.message}; ${await barrierKeys(group)}`);
      });
      // Extra callbacks would come right behind the first: wait a moment for any.
      const callbacks = await setup.ledger.settle(tagged(tag), 1, 2_000);
      check(callbacks.length === 1, `the callback ran ${callbacks.length} times: ${summarize(callbacks)}; ${await barrierKeys(group)}`);
      check(callbacks[0]!.at >= Math.max(...ran.map((r) => r.at)), "the callback ran before the last member");
    });
  });
}
