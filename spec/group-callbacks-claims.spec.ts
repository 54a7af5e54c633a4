// A chord's callback is enqueued exactly once even when its enqueue fails: on Redis and SQLite
// the callback and the group's claim are one broker step, and a failed enqueue consumes
// nothing (the member is retried and its next arrival fires the callback).
import { expect } from "chai";
import { RabbitmqBroker } from "../brokers/rabbitmq/index.ts";
import { RedisBroker, RedisRateLimiterBackend } from "../brokers/redis/index.ts";
import { SqliteBroker, SqliteRateLimiterBackend } from "../brokers/sqlite/index.ts";
import {
  actor,
  group,
  GroupCallbacks,
  Message,
  Middleware,
  MiddlewareError,
  StubRateLimiterBackend,
  Worker,
  type Broker,
  type RateLimiterBackend,
} from "../lib/index.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "./helpers/amqp.ts";
import { tempDatabase, waitFor } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

/** Fails the first enqueue of the callback actor's messages, in this broker, with a MiddlewareError. */
class FailFirstCallback extends Middleware {
  failures = 0;
  beforeEnqueue(_broker: Broker, message: Message): void {
    if (message.actorName !== "chordDone" || this.failures > 0) return;
    this.failures++;
    throw new MiddlewareError("injected failure enqueueing the chord's callback");
  }
}

interface Place {
  /** A broker on the shared place and the barrier backend its process would use. */
  open(middleware: (backend: RateLimiterBackend) => Middleware[]): { broker: Broker; backend: RateLimiterBackend };
  queue: string;
  atomic: boolean;
  cleanup(): Promise<void>;
}

const places: Record<string, () => Promise<Place>> = {
  Redis: async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("chord-claims");
    return {
      open: (middleware) => {
        const backend = new RedisRateLimiterBackend({ url, prefix: `${namespace}-limits`, barrierPrefix: `${namespace}:` });
        return { broker: new RedisBroker({ url, namespace, middleware: middleware(backend) }), backend };
      },
      queue: "default",
      atomic: true,
      cleanup: async () => {
        await deleteNamespace(namespace);
        await deleteNamespace(`${namespace}-limits`);
      },
    };
  },
  SQLite: async () => {
    const db = tempDatabase();
    return {
      // Each "process" has its broker and barrier backend (its own connection) on the file.
      open: (middleware) => {
        const backend = new SqliteRateLimiterBackend({ path: db.path });
        return { broker: new SqliteBroker({ path: db.path, middleware: middleware(backend) }), backend };
      },
      queue: "default",
      atomic: true,
      cleanup: async () => db.cleanup(),
    };
  },
  RabbitMQ: async () => {
    const url = await amqpUrl();
    const queue = uniqueQueue("chord_claims");
    const backend = new StubRateLimiterBackend();
    return {
      open: (middleware) => ({ broker: new RabbitmqBroker({ url, middleware: middleware(backend) }), backend }),
      queue,
      atomic: false,
      cleanup: () => deleteQueues(url, [queue]),
    };
  },
};

for (const [name, create] of Object.entries(places)) {
  describe(`GroupCallbacks on ${name}: the callback survives a failed enqueue`, function () {
    this.timeout(30_000);
    let place: Place;
    const closers: (() => Promise<void>)[] = [];
    const fired: string[] = [];
    const members: { n: number; worker: number }[] = [];

    /** A worker whose members wait until `parties` of them run, so that they all arrive at once. */
    async function startWorker(faults: Middleware, parties: number, prefetch?: number) {
      const id = closers.length;
      const { broker, backend } = place.open((backend) => [new GroupCallbacks({ backend }), faults]);
      let running = 0;
      let release!: () => void;
      const allRunning = new Promise<void>((resolve) => (release = resolve));
      const member = actor(async function chordMember(n: number) {
        if (++running >= parties) release();
        await allRunning;
        members.push({ n, worker: id });
      }, { broker, queueName: place.queue });
      const done = actor(function chordDone(tag: string) {
        fired.push(tag);
      }, { broker, queueName: place.queue });
      const worker = new Worker(broker, { concurrency: parties, fetchTimeout: 100, ...(prefetch === undefined ? {} : { prefetch }) });
      closers.push(async () => {
        await worker.stop({ timeout: 2_000 });
        await broker.close();
        await backend.close();
      });
      await worker.start();
      return { broker, member, done, release };
    }

    beforeEach(async () => {
      place = await create();
      fired.length = 0;
      members.length = 0;
    });

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await place.cleanup();
    });

    it(`${name === "RabbitMQ" ? "without a store, " : ""}fires the callback exactly once when its first enqueue fails`, async () => {
      const faults = new FailFirstCallback();
      const { broker, member, done } = await startWorker(faults, 3);
      await group([1, 2, 3].map((n) => member.message(n)), { broker }).addCompletionCallback(done.message("fired")).run();
      await waitFor(() => fired.length > 0, 20_000, "the chord's callback to run");
      await broker.join(place.queue);
      expect(faults.failures).to.equal(1);
      expect(fired).to.deep.equal(["fired"]);
      // The member whose arrival failed ran again.
      expect(members).to.have.length(4);
      expect(broker.canEnqueueOnce).to.equal(place.atomic);
    });

    if (name === "RabbitMQ") return;

    it("fires it exactly once for 20 members arriving at once on two workers, each failing its first callback enqueue", async () => {
      const [a, b] = [new FailFirstCallback(), new FailFirstCallback()];
      const parties = 20;
      // Each worker holds at most half the members; once all 20 were fetched, both workers' members finish together.
      const first = await startWorker(a, parties, parties / 2);
      const second = await startWorker(b, parties, parties / 2);
      const g = group(Array.from({ length: parties }, (_, n) => first.member.message(n)), { broker: first.broker });
      await g.addCompletionCallback(first.done.message("fired")).run();
      await waitFor(async () => (await first.broker.depths(place.queue)).ready === 0, 10_000, "every member to be fetched");
      first.release();
      second.release();
      await waitFor(() => fired.length > 0, 20_000, "the chord's callback to run");
      await first.broker.join(place.queue);
      expect(a.failures + b.failures).to.be.at.least(1);
      expect(fired).to.deep.equal(["fired"]);
      expect(new Set(members.map((m) => m.n)).size).to.equal(parties);
      expect(new Set(members.map((m) => m.worker)).size, "both workers ran members").to.equal(2);
    });
  });
}
