// The environment contract between the runner (main.ts, fleet.ts) and the fixture app (app.ts).

/** Variables the runner sets for the app's worker processes. */
export const APP_ENV = Object.freeze({
  /** redis | rabbitmq | sqlite | postgres */
  broker: "CHAOS_BROKER",
  /** The broker's URL (its private vhost for RabbitMQ; schema and application_name for PostgreSQL), or the SQLite file's path. */
  url: "CHAOS_URL",
  /** Redis only: the run's private key namespace. */
  namespace: "CHAOS_NAMESPACE",
  /** Redis only: the CLIENT SETNAME of every worker connection, so faults hit only ours. */
  clientName: "CHAOS_CLIENT_NAME",
  queue: "CHAOS_QUEUE",
  /** Folder of the ledger files. */
  ledger: "CHAOS_LEDGER",
  /** `drop`: the app leaves some finished runs out of the ledger, to prove the suite reports losses. */
  break: "CHAOS_BREAK",
  /** `1`: each process appends its worst event-loop delay every LAG_EVERY ms to `<ledger>/lag-<pid>.log`. */
  lag: "CHAOS_LAG",
});

/** How often (ms) a process reports its worst event-loop delay since the last report. */
export const LAG_EVERY = 100;

/** Which ids the broken mode leaves out: every 50th message. */
export const isDropped = (id: string): boolean => Number(id.slice(id.lastIndexOf("-") + 1)) % 50 === 7;
