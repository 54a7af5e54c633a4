/**
 * The queue-browser contract (lib/queue-browser.ts): what every broker that offers
 * `queueBrowser` must show. Each browsing adapter's contract spec calls `queueBrowserContract`
 * with the factory it gives `brokerContract`.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { InvalidOptions, Message, type Broker, type Consumer, type Delivery } from "../../lib/index.ts";
import { queueBrowserOf, type BrowseState, type QueueBrowser, type StoredMessage } from "../../lib/queue-browser.ts";
import type { ContractFactory, ContractFixture } from "./broker.contract.ts";

const uniqueQueue = () => `browse_${randomUUID().slice(0, 8)}`;

/** Every page of `state`, `size` at a time, checking each page's total. */
async function allPages(browser: QueueBrowser, queue: string, state: BrowseState, size: number, total: number): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (let offset = 0; offset < total + size; offset += size) {
    const page = await browser.browse(queue, { state, offset, limit: size });
    expect(page.total, `${state} total at offset ${offset}`).to.equal(total);
    expect(page.messages.length).to.equal(Math.max(0, Math.min(size, total - offset)));
    out.push(...page.messages);
  }
  return out;
}

/** One delivery at a time, so the order is the broker's. */
async function fetchOne(consumer: Consumer): Promise<Delivery> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const [delivery] = await consumer.fetch(1, 500);
    if (delivery !== undefined) return delivery;
  }
  throw new Error("No message was delivered within 5 s");
}

/** Resolves once the clock moved past `since` by 2 ms, so that two dead letters are ordered by their time. */
async function clockPast(since: number): Promise<void> {
  while (Date.now() < since + 2) await new Promise((resolve) => setImmediate(resolve));
}

export function queueBrowserContract(name: string, factory: ContractFactory): void {
  describe(`queue browser contract: ${name}`, function () {
    this.timeout(20_000);
    let fixture: ContractFixture;
    let broker: Broker;
    let browser: QueueBrowser;
    let queue: string;
    const consumers: Consumer[] = [];

    beforeEach(async () => {
      fixture = await factory({ middleware: [] });
      broker = fixture.broker;
      browser = queueBrowserOf(broker)!;
      expect(browser, "the broker's queueBrowser").to.not.equal(undefined);
      queue = uniqueQueue();
      broker.declareQueue(queue);
    });

    afterEach(async () => {
      for (const consumer of consumers.splice(0)) await consumer.close();
      await broker.flush(queue);
      await fixture.close();
    });

    const consume = () => {
      const consumer = broker.consume(queue, { prefetch: 1 });
      consumers.push(consumer);
      return consumer;
    };
    const message = (args: unknown[], options: Record<string, unknown> = {}) => new Message({ queueName: queue, actorName: "browse_noop", args, options });

    /** Dead-letters `count` new messages one by one, ms apart; returns their ids, oldest first. */
    const deadLetter = async (count: number, reason = (i: number) => `Boom: number ${i}`): Promise<string[]> => {
      const ids: string[] = [];
      const consumer = consume();
      for (let i = 0; i < count; i++) {
        const sent = await broker.enqueue(message([`dead ${i}`]));
        const delivery = await fetchOne(consumer);
        expect(broker.decode(delivery.body).messageId).to.equal(sent.messageId);
        const before = Date.now();
        await consumer.nack(delivery, reason(i));
        await clockPast(before);
        ids.push(sent.messageId);
      }
      return ids;
    };

    it("lists ready messages in the order workers fetch them, paged by the broker, with the total", async () => {
      const priorities = [5, 0, 5, -3, 0, 7, -3, 1];
      const sent: Message[] = [];
      for (const [i, priority] of priorities.entries()) sent.push(await broker.enqueue(message([i], { priority })));
      const listed = await allPages(browser, queue, "ready", 3, sent.length);
      expect(new Set(listed.map((m) => m.id))).to.deep.equal(new Set(sent.map((m) => m.messageId)));
      for (const m of listed) expect(broker.decode(m.body).messageId).to.equal(m.id);
      // The order the broker hands them out, one at a time.
      const consumer = consume();
      const fetched: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const delivery = await fetchOne(consumer);
        fetched.push(broker.decode(delivery.body).messageId);
        await consumer.ack(delivery);
      }
      expect(listed.map((m) => m.id)).to.deep.equal(fetched);
      expect(await browser.browse(queue, { state: "ready", offset: 0, limit: 10 })).to.deep.equal({ total: 0, messages: [] });
    });

    it("lists delayed messages soonest eta first, with their etas, and keeps listing them while a consumer holds them", async () => {
      const before = Date.now();
      const delays = [90_000, 30_000, 60_000, 120_000];
      const sent: Message[] = [];
      for (const [i, delay] of delays.entries()) sent.push(await broker.enqueue(message([i]), { delay }));
      const after = Date.now();
      const expected = delays.map((delay, i) => ({ delay, id: sent[i]!.messageId })).sort((a, b) => a.delay - b.delay);
      const check = async () => {
        const listed = await allPages(browser, queue, "delayed", 3, delays.length);
        expect(listed.map((m) => m.id)).to.deep.equal(expected.map((e) => e.id));
        listed.forEach((m, i) => expect(m.eta, `eta of ${m.id}`).to.be.within(before + expected[i]!.delay - 1_000, after + expected[i]!.delay + 1_000));
        const page = await browser.browse(queue, { state: "delayed", offset: 1, limit: 2 });
        expect(page.messages.map((m) => m.id)).to.deep.equal([expected[1]!.id, expected[2]!.id]);
        expect(await browser.browse(queue, { state: "ready", offset: 0, limit: 10 })).to.deep.equal({ total: 0, messages: [] });
        expect((await broker.depths(queue)).delayed).to.equal(delays.length);
      };
      await check();
      // A fetch takes delayed messages to hold (Redis' Dramatiq layout) or moves them (its zset layout).
      expect(await consume().fetch(1, 200)).to.deep.equal([]);
      await check();
    });

    it("lists dead letters newest first, with their reasons and times", async () => {
      const before = Date.now();
      const ids = await deadLetter(4);
      const after = Date.now();
      const listed = await allPages(browser, queue, "dead", 3, 4);
      expect(listed.map((m) => m.id)).to.deep.equal([...ids].reverse());
      expect(listed.map((m) => m.reason)).to.deep.equal(["Boom: number 3", "Boom: number 2", "Boom: number 1", "Boom: number 0"]);
      for (const m of listed) {
        expect(m.deadAt).to.be.within(before - 1_000, after + 1_000);
        expect(broker.decode(m.body).messageId).to.equal(m.id);
      }
      expect(listed[0]!.deadAt!).to.be.greaterThan(listed[3]!.deadAt!);
      expect((await browser.browse(queue, { state: "dead", offset: 1, limit: 2 })).messages.map((m) => m.id)).to.deep.equal([ids[2], ids[1]]);
      expect((await broker.depths(queue)).dead).to.equal(4);
    });

    it("finds a message by id in each state, and nothing for an unknown id or a message being run", async () => {
      const [deadId] = await deadLetter(1);
      const ready = await broker.enqueue(message(["ready"]));
      const delayed = await broker.enqueue(message(["delayed"]), { delay: 60_000 });
      const readyFound = await browser.find(queue, ready.messageId);
      expect(readyFound?.state).to.equal("ready");
      expect(readyFound?.message.id).to.equal(ready.messageId);
      expect(broker.decode(readyFound!.message.body).args).to.deep.equal(["ready"]);
      const delayedFound = await browser.find(queue, delayed.messageId);
      expect(delayedFound?.state).to.equal("delayed");
      expect(delayedFound?.message.eta).to.be.within(Date.now() + 50_000, Date.now() + 61_000);
      const deadFound = await browser.find(queue, deadId!);
      expect(deadFound?.state).to.equal("dead");
      expect(deadFound?.message).to.deep.include({ id: deadId, reason: "Boom: number 0" });
      expect(deadFound?.message.deadAt).to.be.a("number");
      expect(await browser.find(queue, randomUUID())).to.equal(undefined);
      // Fetched and not settled: in flight, in no browsable state.
      const delivery = await fetchOne(consume());
      expect(broker.decode(delivery.body).messageId).to.equal(ready.messageId);
      expect(await browser.find(queue, ready.messageId)).to.equal(undefined);
      expect(await browser.find(uniqueQueue(), delayed.messageId)).to.equal(undefined);
    });

    it("deletes the dead letters named, ignoring unknown ids and leaving ready messages alone", async () => {
      const dead = await deadLetter(3);
      const ready = await broker.enqueueMany([message(["r1"]), message(["r2"])]);
      expect(await broker.depths(queue)).to.deep.include({ ready: 2, dead: 3 });
      const deleted = await browser.deleteDeadLetters(queue, [dead[0]!, dead[2]!, dead[2]!, randomUUID(), ready[0]!.messageId]);
      expect(deleted).to.equal(2);
      expect(await broker.depths(queue)).to.deep.include({ ready: 2, delayed: 0, dead: 1 });
      expect((await browser.browse(queue, { state: "dead", offset: 0, limit: 10 })).messages.map((m) => m.id)).to.deep.equal([dead[1]]);
      expect((await broker.deadLetters(queue)).map((l) => l.id)).to.deep.equal([dead[1]]);
      expect((await browser.browse(queue, { state: "ready", offset: 0, limit: 10 })).messages.map((m) => m.id)).to.deep.equal(ready.map((m) => m.messageId));
      expect(await browser.deleteDeadLetters(queue, [dead[0]!])).to.equal(0);
      expect(await browser.deleteDeadLetters(queue, [])).to.equal(0);
      expect(await browser.deleteDeadLetters(queue, [dead[1]!])).to.equal(1);
      expect(await broker.depths(queue)).to.deep.include({ ready: 2, dead: 0 });
    });

    it("lists, finds and deletes messages whose bodies do not decode, by the broker's id", async () => {
      const garbage = `not a message {${randomUUID()}`;
      await fixture.enqueueRaw(queue, garbage);
      const good = await broker.enqueue(message(["fine"]));
      const page = await browser.browse(queue, { state: "ready", offset: 0, limit: 10 });
      expect(page.total).to.equal(2);
      expect(page.messages.map((m) => m.body)).to.include(garbage);
      const raw = page.messages.find((m) => m.body === garbage)!;
      expect(raw.id).to.be.a("string").and.not.equal("");
      expect(page.messages.find((m) => m.body !== garbage)?.id).to.equal(good.messageId);
      expect(await browser.find(queue, raw.id)).to.deep.equal({ state: "ready", message: raw });
      // Dead-lettered as it is: listed under the id deadLetters() gives it.
      const consumer = consume();
      for (let i = 0; i < 2; i++) {
        const delivery = await fetchOne(consumer);
        if (delivery.body === garbage) await consumer.nack(delivery, "DecodeError: not JSON");
        else await consumer.ack(delivery);
      }
      const [letter] = await broker.deadLetters(queue);
      const dead = await browser.browse(queue, { state: "dead", offset: 0, limit: 10 });
      expect(dead.messages).to.have.length(1);
      expect(dead.messages[0]).to.deep.include({ id: letter!.id, body: garbage, reason: "DecodeError: not JSON" });
      expect((await browser.find(queue, letter!.id))?.state).to.equal("dead");
      expect(await browser.deleteDeadLetters(queue, [letter!.id])).to.equal(1);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, dead: 0 });
    });

    it("refuses an invalid state, offset, limit or queue name with InvalidOptions", async () => {
      const bad = [
        () => browser.browse(queue, { state: "running" as BrowseState, offset: 0, limit: 1 }),
        () => browser.browse(queue, { state: "ready", offset: -1, limit: 1 }),
        () => browser.browse(queue, { state: "ready", offset: 0.5, limit: 1 }),
        () => browser.browse(queue, { state: "ready", offset: 0, limit: 1001 }),
        () => browser.browse("no:such queue", { state: "ready", offset: 0, limit: 1 }),
        () => browser.find("bad name!", "x"),
        () => browser.deleteDeadLetters("bad name!", ["x"]),
      ];
      for (const call of bad) {
        const error = await call().then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(InvalidOptions);
      }
    });
  });
}
