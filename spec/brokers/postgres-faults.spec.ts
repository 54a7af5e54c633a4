import { expect } from "chai";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { actor, Worker } from "../../lib/index.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";

describe("PostgresBroker under connection faults", function () {
  this.timeout(30_000);
  let schema: string;
  let broker: PostgresBroker | undefined;
  let worker: Worker | undefined;

  beforeEach(() => {
    schema = uniqueSchema("faults");
  });

  afterEach(async () => {
    await worker?.stop({ timeout: 2_000 });
    await broker?.close();
    worker = broker = undefined;
    await dropSchema(schema);
  });

  it("drains every message once when all its connections (pool and LISTEN) are terminated mid-drain", async () => {
    const name = `dramats_${schema}`;
    const url = new URL(postgresUrl());
    url.searchParams.set("application_name", name);
    broker = new PostgresBroker({ url: url.href, schema, leaseTime: 3_000, poolSize: 4 });
    const runs = new Map<number, number>();
    const work = actor(
      async function faults_work(n: number) {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
      { broker, queueName: "faults", maxRetries: 20, minBackoff: 10, maxBackoff: 50 },
    );
    const count = 300;
    await broker.enqueueMany(Array.from({ length: count }, (_, n) => work.message(n)));
    worker = new Worker(broker, { queues: ["faults"], fetchTimeout: 200 });
    await worker.start();
    await waitFor(() => runs.size >= 50, 10_000, "the drain to start");
    // Leased rows: running, prefetched, or finished with their ack not yet written. Only these may run twice.
    const { inFlight } = await broker.depths("faults");
    const killed = await adminQuery<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", [name]);
    await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name]);
    expect(killed.length).to.be.at.least(2); // a pooled connection and the LISTEN one, at least
    await broker.join("faults", { timeout: 20_000, failFast: false });
    expect(runs.size).to.equal(count);
    expect((await broker.depths("faults")).dead).to.equal(0);
    // Duplicates only among messages in flight at the kill (acks lost with the connection).
    const twice = [...runs.values()].filter((n) => n > 1).length;
    expect(twice, `${twice} ran twice; ${inFlight} were leased at the kill`).to.be.at.most(inFlight);
  });
});
