import Database from "better-sqlite3";
import { SqliteBroker, type SqliteConsumer } from "../../brokers/sqlite/index.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";
import { brokerContract, type ContractFactory } from "./broker.contract.ts";
import { joinContract } from "./join.contract.ts";
import { hostileContract } from "./hostile.contract.ts";
import { queueBrowserContract } from "./queue-browser.contract.ts";
import { abandonConsumer } from "../../brokers/sqlite/testing.ts";

/** Short, so the crash case waits well under a second; renewals every 100 ms keep live consumers' leases. */
const LEASE_TIME = 300;

const factory: ContractFactory = async ({ middleware }) => {
  const db = tempDatabase();
  const broker = new SqliteBroker({ path: db.path, middleware, leaseTime: LEASE_TIME });
  const peers: SqliteBroker[] = [];
  return {
    broker,
    peer: () => {
      const peer = new SqliteBroker({ path: db.path, middleware, leaseTime: LEASE_TIME });
      peers.push(peer);
      return peer;
    },
    enqueueRaw: (queue, body) => broker.enqueueRaw(queue, body),
    // A dead worker: it stops renewing its leases and gives nothing back; its messages are
    // visible again once the leases expire.
    crash: async (consumer) => {
      const doomed = consumer as SqliteConsumer;
      const held = doomed.unsettled;
      abandonConsumer(doomed);
      await waitFor(async () => (await broker.depths(doomed.queueName)).ready >= held, 5_000, "the crashed consumer's leases to expire");
    },
    abandon: (consumer) => abandonConsumer(consumer),
    forgotten: async (owner) => {
      const file = new Database(db.path, { readonly: true });
      try {
        return (file.prepare("SELECT count(*) AS n FROM dramats_messages WHERE owner = ?").get(owner) as { n: number }).n === 0;
      } finally {
        file.close();
      }
    },
    close: async () => {
      for (const peer of peers) await peer.close();
      await broker.close();
      db.cleanup();
    },
  };
};

brokerContract("sqlite", factory);
joinContract("sqlite", factory, { shared: true });
hostileContract("sqlite", factory);
queueBrowserContract("sqlite", factory);
