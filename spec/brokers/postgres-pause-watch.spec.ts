// Queue pause flags on PostgreSQL are watched, not polled: the broker's store notifies the
// schema's channel when a flag is set or removed, and a Worker reads the flags then (and every
// WATCHED_PAUSE_POLL ms in case news was lost), so an idle worker sends almost no statement and
// still sees a pause at once. Other keys (results, claims) notify nobody.
import { expect } from "chai";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { keyChange, WATCHED_PREFIX } from "../../brokers/postgres/store.ts";
import { actor, InvalidOptions, Worker } from "../../lib/index.ts";
import { pauseKey, pauseQueue, resumeQueue } from "../../lib/queue-pauses.ts";
import { WATCHED_PAUSE_POLL } from "../../lib/worker/pause-poller.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminClient, adminQuery, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";

const QUEUE = "watched";

describe("PostgreSQL queue pauses: watched, not polled", function () {
  this.timeout(30_000);
  let schema: string;
  const open: PostgresBroker[] = [];
  let worker: Worker | undefined;

  const newBroker = () => {
    const broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 2 });
    broker.declareQueue(QUEUE);
    open.push(broker);
    return broker;
  };
  /** Counts the pause-flag reads a broker's pool runs (through pg's `query`). */
  const countFlagReads = (broker: PostgresBroker) => {
    const counter = { n: 0 };
    const query = broker.pool.query.bind(broker.pool) as (...args: unknown[]) => unknown;
    (broker.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === "string" ? args[0] : String((args[0] as { text: string }).text);
      if (text.startsWith("SELECT value FROM") && text.includes(".kv")) counter.n++;
      return query(...args);
    };
    return counter;
  };

  beforeEach(() => {
    schema = uniqueSchema("pgwatch");
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    for (const broker of open.splice(0)) await broker.close();
    await dropSchema(schema);
  });

  it("reads the flags of an idle worker's queue only on the safety period, and sees a pause from another broker at once", async () => {
    const broker = newBroker();
    const operator = newBroker();
    let ran = 0;
    const task = actor(() => void ran++, { broker, queueName: QUEUE, actorName: "watched_task" });
    worker = new Worker(broker, { queues: [QUEUE], concurrency: 1 });
    await worker.start();
    const reads = countFlagReads(broker);
    // Idle for 2 s: a poll every 500 ms would read 4 times; watched, the next read is due after 5 s.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(WATCHED_PAUSE_POLL).to.be.greaterThan(2_000);
    expect(reads.n).to.equal(0);
    await pauseQueue(operator.store, QUEUE, { by: "spec" });
    const pausedAt = Date.now();
    await waitFor(() => worker!.pausedQueues.includes(QUEUE), 5_000, "the worker to see the pause");
    // Well inside one default 500 ms poll (and far inside the 5 s safety period): it was told.
    expect(Date.now() - pausedAt).to.be.below(400);
    expect(reads.n).to.be.at.least(1);
    await task.send();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ran).to.equal(0);
    await resumeQueue(operator.store, QUEUE);
    const resumedAt = Date.now();
    await waitFor(() => ran === 1, 5_000, "the message to run after the resume");
    expect(Date.now() - resumedAt).to.be.below(400);
  });

  it("reads the flags again after the LISTEN connection is made again (a change may have been missed)", async () => {
    const broker = newBroker();
    const operator = newBroker();
    worker = new Worker(broker, { queues: [QUEUE], concurrency: 1 });
    await worker.start();
    await waitFor(() => broker.listener.connected, 5_000, "the LISTEN connection");
    const listenPid = broker.listener.backendPid!;
    const reads = countFlagReads(broker);
    // The pause is written while nobody listens: its notification is lost.
    const admin = await adminClient();
    try {
      await admin.query("SELECT pg_terminate_backend($1)", [listenPid]);
      await admin.query(`INSERT INTO "${schema}".kv (key, value, expires_at) VALUES ($1, '{"pausedAt":0,"by":"sql"}', 9e15)`, [pauseKey(QUEUE)]);
    } finally {
      await admin.end();
    }
    await waitFor(() => worker!.pausedQueues.includes(QUEUE), 4_000, "the worker to read the flags after listening again");
    expect(reads.n).to.be.at.least(1);
    await resumeQueue(operator.store, QUEUE);
    await waitFor(() => worker!.pausedQueues.length === 0, 4_000, "the resume to be seen");
  });

  it("announces the pause flags only: other keys of the store notify nobody, and watch refuses them", async () => {
    const broker = newBroker();
    expect(keyChange(pauseKey(QUEUE))).to.equal(`kv:${WATCHED_PREFIX}${QUEUE}`);
    const admin = await adminClient();
    const heard: string[] = [];
    admin.on("notification", (m) => heard.push(m.payload ?? ""));
    try {
      await broker.migrate();
      await admin.query(`LISTEN "dramats:${schema}"`);
      await broker.store.set("result:abc", "42", 60_000);
      await broker.store.delete("result:abc");
      await broker.store.set(pauseKey(QUEUE), "{}", 60_000);
      await broker.store.delete(pauseKey(QUEUE));
      await broker.store.delete(pauseKey(QUEUE)); // already gone: nothing to announce
      await admin.query("SELECT 1"); // notifications arrive before this reply
      expect(heard).to.deep.equal([keyChange(pauseKey(QUEUE)), keyChange(pauseKey(QUEUE))]);
    } finally {
      await admin.end();
    }
    expect(() => broker.store.watch("result:abc", () => {})).to.throw(InvalidOptions, /only keys under/);
    const rows = await adminQuery<{ n: number }>(`SELECT count(*)::integer AS n FROM "${schema}".kv`);
    expect(rows[0]!.n).to.equal(0);
  });
});
