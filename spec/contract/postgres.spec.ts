import { PostgresBroker, type PostgresConsumer } from "../../brokers/postgres/index.ts";
import { abandonConsumer } from "../../brokers/postgres/testing.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";
import { brokerContract, type ContractFactory } from "./broker.contract.ts";
import { hostileContract } from "./hostile.contract.ts";
import { joinContract } from "./join.contract.ts";
import { queueBrowserContract } from "./queue-browser.contract.ts";

/** Short, so the crash case waits well under a second; heartbeats every 100 ms keep live consumers' leases. */
const LEASE_TIME = 300;

const factory: ContractFactory = async ({ middleware }) => {
  const schema = uniqueSchema("contract");
  const make = () => new PostgresBroker({ url: postgresUrl(), schema, middleware, leaseTime: LEASE_TIME, poolSize: 4 });
  const broker = make();
  const peers: PostgresBroker[] = [];
  return {
    broker,
    peer: () => {
      const peer = make();
      peers.push(peer);
      return peer;
    },
    enqueueRaw: (queue, body) => broker.enqueueRaw(queue, body),
    // A dead worker: no more heartbeats, nothing given back; its messages are ready again once the leases expire.
    crash: async (consumer) => {
      const doomed = consumer as PostgresConsumer;
      const held = doomed.unsettled;
      abandonConsumer(doomed);
      await waitFor(async () => (await broker.depths(doomed.queueName)).ready >= held, 5_000, "the crashed consumer's leases to expire");
    },
    abandon: (consumer) => abandonConsumer(consumer),
    forgotten: async (owner) => (await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".messages WHERE owner = $1`, [owner]))[0]!.n === "0",
    close: async () => {
      for (const peer of peers) await peer.close();
      await broker.close();
      await dropSchema(schema);
    },
  };
};

brokerContract("postgres", factory);
joinContract("postgres", factory, { shared: true });
hostileContract("postgres", factory);
queueBrowserContract("postgres", factory);
